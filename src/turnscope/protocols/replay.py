"""The replay protocol: a conversation whose earlier turns are given word for word, user and
assistant alike, and whose last user turn alone is answered by the model.

Benchmarks such as MultiChallenge publish each conversation as a fixed transcript that ends
with a user message: the assistant turns were written by the authors (or another model) and
are part of the test, so they must reach the model exactly as published and the model is
asked once, for the final answer. An item holds that final user turn (with its scorers) and,
in `setup.messages`, the transcript before it. One condition, `replay`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from turnscope.core import Condition, Item, Message, TurnRecord, content_text
from turnscope.protocols.base import (
    HistoryAnswers,
    PlayContext,
    ProtocolBase,
    make_record,
    register_protocol,
    system_messages,
)

REPLAY = "replay"
MAX_MESSAGES = 400
"""Messages a replayed transcript may hold (MultiChallenge's longest has 18)."""


class ReplaySetup(BaseModel):
    """The transcript before the answered turn (an item's `setup`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: tuple[Message, ...] = Field(max_length=MAX_MESSAGES)
    """User and assistant messages in turn, starting with the user and ending with the
    assistant (the item's one turn is the user message that follows); empty for a
    conversation of one turn."""

    @field_validator("messages")
    @classmethod
    def _alternating(cls, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        for index, message in enumerate(messages):
            expected = "user" if index % 2 == 0 else "assistant"
            if message.role != expected:
                raise ValueError(
                    f"message {index + 1} is from {message.role!r}: the transcript alternates "
                    "user and assistant, starting with the user"
                )
            if message.tool_calls or not content_text(message.content).strip():
                raise ValueError(f"message {index + 1} has no text (or calls tools)")
        if len(messages) % 2:
            raise ValueError("the transcript must end with an assistant message")
        return messages


class ReplayProtocol(ProtocolBase):
    """The given transcript, then the item's one user turn, answered once."""

    name = REPLAY
    conditions: tuple[Condition, ...] = (REPLAY,)
    setup_model = ReplaySetup

    def check_item(self, item: Item) -> None:
        super().check_item(item)
        if len(item.turns) != 1:
            raise ValueError(
                "field 'turns': a replay item has exactly one turn, the user message the model "
                "answers; the transcript before it goes in setup.messages"
            )

    def transcript(self, item: Item) -> tuple[Message, ...]:
        """The messages before the answered turn."""
        setup = self.setup(item)
        assert isinstance(setup, ReplaySetup)
        return setup.messages

    def max_turns(self, item: Item, condition: Condition) -> int:
        return 1

    def history_answers(self, condition: Condition) -> HistoryAnswers:
        # The assistant turns in the history are the publisher's, as references are.
        return "reference"

    def history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        # One request holds the whole conversation: it is all in the record.
        return records[turn].new_messages

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        if ctx.done(1) is not None:
            return
        request = (
            *system_messages(item),
            *self.transcript(item),
            Message(role="user", content=item.turns[0].user),
        )
        outcome = await ctx.ask(item, 1, request)
        yield await make_record(item, 1, ctx, request, request, outcome, scored_turn=1)


register_protocol(ReplayProtocol())
