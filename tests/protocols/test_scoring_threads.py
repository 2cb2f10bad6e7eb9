"""Scoring off the event loop: the turns that ask to be scored in one pass of the loop go to a
worker thread together; a hostile pattern that holds its thread fails its own turn at the time
limit, and the turns handed over with it are taken over by another thread and scored."""

from __future__ import annotations

import asyncio

from turnscope.core import Item, ScorerSpec, Turn
from turnscope.protocols.base import score_answer
from turnscope.scorers import TurnView

# Catastrophic backtracking: the regex engine needs a second or more on 29 a's and a "!".
SLOW = Turn(
    user="q", scorers=(ScorerSpec.model_validate({"type": "regex", "pattern": "(a|aa)+$"}),)
)
FAST = Turn(user="q", scorers=(ScorerSpec.model_validate({"type": "regex", "pattern": r"\w"}),))


def view(turn: Turn, answer: str) -> TurnView:
    item = Item(id="x", turns=(turn,))
    return TurnView(item=item, turn=1, response=answer, history=(), condition="own")


async def test_a_slow_scorer_fails_alone_and_the_turns_beside_it_are_scored() -> None:
    await score_answer(view(FAST, "warm"), FAST)  # the scorers' modules load on first use
    slow = score_answer(view(SLOW, "a" * 29 + "!"), SLOW, 0.3)
    fast = [score_answer(view(FAST, f"answer {n}"), FAST, 0.3) for n in range(8)]
    stuck, *scored = await asyncio.gather(slow, *fast)
    assert stuck[0].value is None
    assert stuck[0].error == "scoring took longer than 0.3 s and was stopped"
    assert [(s.value, s.error) for (s,) in scored] == [(1.0, None)] * 8
