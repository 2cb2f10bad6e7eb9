"""The judge error recorded when no attempt parsed: every reason and every raw text."""

from __future__ import annotations

import pytest

from turnscope.scorers.judges import (
    JUDGE_MAX_PARSE_ATTEMPTS,
    RAW_EXCERPT_CHARS,
    JudgeParams,
    VerdictParseError,
    excerpt,
    judge_kind,
    parse_failure_text,
)


def failures(*texts: str) -> list[VerdictParseError]:
    kind = judge_kind("grade", JudgeParams())
    caught = []
    for text in texts:
        with pytest.raises(VerdictParseError) as error:
            kind.parse(text)
        caught.append(error.value)
    return caught


def test_the_error_names_each_attempt_and_quotes_its_text() -> None:
    assert JUDGE_MAX_PARSE_ATTEMPTS >= 2
    text = parse_failure_text(failures("I like it.", "Rating: [[12]]", ""))
    assert text.startswith("no parseable verdict in 3 attempt(s); attempt 1: no rating")
    assert "text: 'I like it.'" in text
    assert "attempt 2: rating [[12]] is outside 1 to 10 — text: 'Rating: [[12]]'" in text
    assert "attempt 3: the judge's text is empty" in text
    assert "\n" not in text


def test_long_texts_keep_their_start_and_end() -> None:
    long = "start " + "x" * 2000 + " Rating: [[0]]"
    quoted = excerpt(long)
    assert quoted.startswith("'start ") and quoted.endswith("Rating: [[0]]'")
    assert "characters cut" in quoted
    assert len(quoted) < RAW_EXCERPT_CHARS + 60
    assert excerpt("short\ntext") == repr("short\ntext")


def test_nothing_to_describe_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="no failed attempts"):
        parse_failure_text([])
