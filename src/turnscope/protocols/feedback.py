"""The feedback protocol: one verifiable task, attempted until solved or the budget runs out.

Attempt t is asked as turn t and recorded as TurnRecord.turn == t. After a wrong attempt the
user says only that it is wrong (`retry`) or gives the next hint; the conversation stops at
the first attempt scored 1.0, or after `budget` attempts. Every attempt is judged by the
scorers of the item's one turn (the task). It plays the own history only: its user turns
depend on the model's answers, so there is no gold history or single-turn twin to play."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from pydantic import BaseModel, ConfigDict, Field

from turnscope.core import Condition, Item, Message, TurnRecord
from turnscope.protocols.base import (
    PlayContext,
    ProtocolBase,
    make_record,
    register_protocol,
    system_messages,
)

OWN = "own"


class FeedbackSpec(BaseModel):
    """How the feedback protocol answers a wrong attempt, and how many attempts it allows
    (an item's `setup`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: int = Field(ge=1, le=100)
    """The turn budget k: attempts allowed before the conversation ends unsolved."""
    retry: str = Field(default="That is not right. Try again.", min_length=1)
    """What the user says after a wrong attempt (and no hint is left)."""
    hints: tuple[str, ...] = ()
    """Said instead of `retry` after wrong attempt 1, 2, ... (the hint variant); once they run
    out, `retry` is said."""

    def message_after(self, attempt: int) -> str:
        """The user's reply to wrong attempt `attempt` (1-based)."""
        return self.hints[attempt - 1] if attempt <= len(self.hints) else self.retry


def solved(record: TurnRecord) -> bool:
    """Whether an attempt ends the conversation: it scored 1.0."""
    return record.score == 1.0


class FeedbackProtocol(ProtocolBase):
    """Ask the task, then answer every wrong attempt with the retry message or a hint."""

    name = "feedback"
    conditions: tuple[Condition, ...] = (OWN,)
    setup_model = FeedbackSpec

    def check_item(self, item: Item) -> None:
        super().check_item(item)
        if len(item.turns) != 1 or not item.turns[0].scorers:
            raise ValueError(
                "field 'turns': a feedback item has exactly one turn, the task, with scorers"
            )

    def spec(self, item: Item) -> FeedbackSpec:
        """The item's budget and messages."""
        spec = self.setup(item)
        assert isinstance(spec, FeedbackSpec)
        return spec

    def max_turns(self, item: Item, condition: Condition) -> int:
        return self.spec(item).budget

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        return 1

    def attempt_budget(self, item: Item) -> int | None:
        return self.spec(item).budget

    def conversation_score(
        self, item: Item, condition: Condition, values: Mapping[int, float | None]
    ) -> float | None:
        # Solved within the budget: attempts stop at the first 1.0, so any 1.0 is a success;
        # otherwise it failed only if every attempt up to the budget is known.
        budget = self.spec(item).budget
        for attempt in range(1, budget + 1):
            value = values.get(attempt)
            if value is None:
                return None
            if value == 1.0:
                return 1.0
        return 0.0

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        spec = self.spec(item)
        system = system_messages(item)
        user = Message(role="user", content=item.turns[0].user)
        history: tuple[Message, ...] = system
        for attempt in range(1, spec.budget + 1):
            request = (*history, user)
            record = ctx.done(attempt)
            if record is None:
                new = (*system, user) if attempt == 1 else (user,)
                outcome = await ctx.ask(item, attempt, request)
                record = await make_record(item, attempt, ctx, new, request, outcome, scored_turn=1)
                yield record
                if record.response is None:
                    return  # no answer to give feedback on: the attempt is recorded as an error
            if solved(record):
                return
            answer = record.answer
            assert answer is not None
            history = (*request, answer)
            user = Message(role="user", content=spec.message_after(attempt))


register_protocol(FeedbackProtocol())
