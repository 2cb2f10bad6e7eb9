"""The code audit of simulated user messages: hand-made conversations in which the simulator
leaks the answer, repeats or reveals a shard early, writes nothing or as the assistant, or
breaks the stop rule; each is flagged, and the spoiling ones spoil."""

from __future__ import annotations

import pytest

from turnscope.core import Item, Message
from turnscope.protocols import SimulatedProtocol, SimulatorView, audit_message
from turnscope.protocols.simulators import (
    EARLY_SHARD,
    EARLY_STOP,
    EMPTY,
    IGNORED_STOP,
    LEAK,
    REPEAT,
    ROLE_CONFUSION,
    SPOILT,
)

ITEM = Item.model_validate(
    {
        "id": "boxes",
        "protocol": "simulated",
        "turns": [{"user": "task", "reference": "9", "scorers": [{"type": "numeric"}]}],
        "setup": {
            "persona": "A baker.",
            "goal": "Know how many boxes can be filled.",
            "shards": [
                {"text": "How many full boxes can I fill? Just the number.", "markers": ["boxes"]},
                {"text": "A box holds 8 muffins.", "markers": ["8"]},
                {"text": "We baked 40 muffins.", "markers": ["40"]},
                {"text": "And 35 more later.", "markers": ["35"]},
            ],
        },
    }
)
SPEC = SimulatedProtocol().spec(ITEM)


def view(turn: int, revealed: set[int]) -> SimulatorView:
    """User message `turn`, after earlier messages revealed `revealed`."""
    history = tuple(frozenset(range(k)) & frozenset(revealed) for k in range(turn - 1))
    transcript = tuple(
        Message(role=role, content="...") for _ in range(turn - 1) for role in ("user", "assistant")
    )
    return SimulatorView(ITEM, SPEC, turn, transcript, (*history, frozenset(revealed)))


def findings(text: str, turn: int, revealed: set[int]) -> tuple[str, ...]:
    return audit_message(text, view(turn, revealed), "9").findings


@pytest.mark.parametrize(
    ("text", "turn", "revealed", "expected"),
    [
        ("How many boxes can I fill?", 1, set(), ()),
        ("Each box takes 8 muffins.", 2, {0}, ()),
        ("Oh, and I think the answer is 9.", 3, {0, 1}, (LEAK,)),
        ("We baked 40 muffins and 35 more later.", 3, {0, 1}, (EARLY_SHARD,)),
        ("Then 35 more came out of the oven.", 3, {0, 1}, (EARLY_SHARD,)),
        ("As I said, a box holds 8.", 3, {0, 1}, (REPEAT,)),
        ("We baked 40 muffins; a box holds 8, remember.", 3, {0, 1}, (REPEAT,)),
        ("   ", 2, {0}, (EMPTY,)),
        ("Assistant: Sure, I can help with that!", 2, {0}, (ROLE_CONFUSION,)),
        ("How can I help you today?", 2, {0}, (ROLE_CONFUSION,)),
        ("(Note for you, not from the assistant: the piece due now is number 2.)", 2, {0},
         (ROLE_CONFUSION,)),
        ("Thanks, anything else to add?", 5, {0, 1, 2, 3}, (IGNORED_STOP,)),
        ("<<END>>", 3, {0, 1}, (EARLY_STOP,)),
        ("<<END>>", 5, {0, 1, 2, 3}, ()),
    ],
)  # fmt: skip
def test_each_kind_of_simulator_mistake_is_flagged(
    text: str, turn: int, revealed: set[int], expected: tuple[str, ...]
) -> None:
    assert findings(text, turn, revealed) == expected


def test_spoiling_findings_mark_the_record_spoilt_and_a_repeat_does_not() -> None:
    leak = audit_message("It is 9.", view(2, {0}), "9")
    assert leak.spoils and leak.flags == (LEAK, SPOILT)
    repeat = audit_message("A box holds 8 muffins, as I said.", view(3, {0, 1}), "9")
    assert not repeat.spoils and repeat.flags == (REPEAT,)


def test_a_stop_ends_and_reveals_nothing_new() -> None:
    audit = audit_message("<<END>> We baked 40 muffins.", view(5, {0, 1, 2, 3}), "9")
    assert audit.stop and audit.findings == () and audit.revealed == {0, 1, 2, 3}
    ongoing = audit_message("We baked 40 muffins.", view(3, {0, 1}), "9")
    assert not ongoing.stop and ongoing.revealed == {0, 1, 2}


def test_a_number_that_only_contains_the_answer_is_no_leak() -> None:
    assert findings("It was 19 degrees in the bakery.", 2, {0}) == ()
    assert findings("Box 9.5 is broken.", 2, {0}) == ()
