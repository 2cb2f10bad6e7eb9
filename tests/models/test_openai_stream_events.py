"""The events of one network read are parsed together (one JSON array) where they allow it;
a line that is not one JSON value is still refused with its own message, in the order the
server sent it, and an event the fast parser refuses (a lone surrogate escape) is still read."""

from __future__ import annotations

import json
import time

import pytest

from turnscope.models import TransientModelError
from turnscope.models.openai_compat import _StreamedAnswer


def _line(payload: object) -> bytes:
    return b"data: " + json.dumps(payload).encode()


def _piece(text: str) -> bytes:
    return _line({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


FINISH = _line({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = _line({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}})


def _answer(*reads: list[bytes]) -> _StreamedAnswer:
    answer = _StreamedAnswer(time.perf_counter())
    for lines in reads:
        answer.feed(lines)
    return answer


def test_one_read_of_many_events_gives_the_same_answer_as_one_event_a_read() -> None:
    lines = [_piece("one "), b"", _piece("two "), b": comment", _piece("three"), FINISH, USAGE]
    together = _answer(lines).completion()
    apart = _answer(*([line] for line in lines)).completion()
    assert together.text == apart.text == "one two three"
    assert together.finish_reason == apart.finish_reason == "stop"
    assert together.prompt_tokens == 5 and together.completion_tokens == 3


def test_events_after_done_are_not_read() -> None:
    answer = _answer([_piece("kept"), FINISH, b"data: [DONE]", _piece("after"), b"data: {bad"])
    assert answer.done and answer.completion().text == "kept"


@pytest.mark.parametrize(
    "broken",
    [
        b"data: {bad",  # not JSON at all: the whole array fails
        b"data: {}, {}",  # two values on one line: the array has one value too many
        b"data: ",  # nothing: the array fails
    ],
)
def test_a_line_that_is_not_one_json_value_is_refused_among_good_ones(broken: bytes) -> None:
    with pytest.raises(TransientModelError, match="invalid JSON in stream"):
        _answer([_piece("a"), broken, _piece("b"), FINISH])


def test_an_error_event_among_good_ones_is_refused() -> None:
    error = _line({"error": {"message": "overloaded"}})
    with pytest.raises(TransientModelError, match=r"error in stream: .*overloaded"):
        _answer([_piece("a"), error, FINISH])
    with pytest.raises(TransientModelError, match="unexpected stream event"):
        _answer([_piece("a"), b"data: [1, 2]", FINISH])


def test_a_lone_surrogate_escape_among_good_ones_is_read() -> None:
    lone = b'data: {"choices": [{"index": 0, "delta": {"content": "x\\ud800"}}]}'
    answer = _answer([_piece("a"), lone, FINISH])
    assert answer.completion().text == "ax\ud800"
