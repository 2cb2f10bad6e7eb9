"""The simulated-user protocol: a user simulator talks to the model under test.

An item holds one task turn (the fully specified task, with its reference and the scorers
that check an answer by code) and a `setup`: the user's persona and goal, and the task's
information split into shards that the user holds and releases. Three conditions:

- `sharded` (default): the simulator writes every user message; it reveals one shard per
  message, in order, and ends the conversation with its stop token once every shard has been
  given and answered (or when its goal is met or abandoned). Every answer of the target is an
  attempt, checked by the task's scorers; a correct attempt ends the conversation. It is also
  capped at `max_turns` target turns. An item without shards is played only here: its user
  pursues the goal from the persona.
- `full`: the task turn, whole, in one message.
- `concat`: every shard in one message (same information as sharded, one turn): bulleted,
  unless the item writes its own (`setup.concat`, for a task with its own way of listing them).

The conversation's score is that of the last attempt (Laban et al. 2025, "LLMs Get Lost in
Multi-Turn Conversation"). Every user message is a stored `user` record, audited by code
(turnscope.protocols.simulators); a message whose finding spoils the conversation is flagged
`spoilt`, and the analysis leaves that conversation out of the target's scores and counts it
apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnscope.core import Condition, Item, Message, TurnRecord
from turnscope.protocols.base import (
    ConditionGap,
    HistoryAnswers,
    PlayContext,
    ProtocolBase,
    make_record,
    register_protocol,
    system_messages,
)
from turnscope.protocols.simulators import (
    SIM_ERROR,
    SPOILT,
    UNREVEALED,
    USER_ROLE,
    SimulatorView,
    audit_message,
    get_simulator,
    has_marker,
)

SHARDED = "sharded"
FULL = "full"
CONCAT = "concat"
SCRIPTED_USER = "scripted-user"
LLM_USER = "llm-user"
DEFAULT_STOP = "<<END>>"
DEFAULT_CLARIFY = "I can't tell you more about that yet. Here is what I can add:"
CONCAT_PREAMBLE = "Here is everything about my request, point by point:"
MAX_SHARDS = 32
MAX_SHARD_CHARS = 20_000
"""The longest shard (one may hold a whole table, as Lost in Conversation's data2text does)."""
MAX_CONCAT_CHARS = 200_000
"""The longest concat message an item may write for itself."""
MAX_TURNS = 64
ENDED_AT_LIMIT = "ended:max-turns"
"""Flag of the target's last record when the conversation reached `max_turns` unsolved and
the user had not stopped."""


class Shard(BaseModel):
    """One piece of the task's information, as the user would say it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_SHARD_CHARS)
    """The shard in the user's words (the scripted user sends it as it is)."""
    markers: tuple[str, ...] = ()
    """Words or numbers that all appear in a message that reveals this shard (the audit's
    evidence); a shard without markers is never detected, so never flagged."""

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the shard's text is blank")
        return text

    @field_validator("markers")
    @classmethod
    def _markers_not_blank(cls, markers: tuple[str, ...]) -> tuple[str, ...]:
        if any(not m.strip() for m in markers):
            raise ValueError("a marker is blank")
        return markers

    @model_validator(mode="after")
    def _markers_in_text(self) -> Shard:
        # A marker the shard itself does not say could never show it revealed: the scripted
        # user would then give the same shard again and again.
        missing = [m for m in self.markers if not has_marker(self.text, m)]
        if missing:
            raise ValueError(f"marker {missing[0]!r} does not appear in the shard's text")
        return self


class SimulatedSpec(BaseModel):
    """Who the simulated user is, what it wants, what it knows (an item's `setup`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    persona: str = Field(max_length=2000)
    """Who the user is, in a sentence or two."""
    goal: str = Field(max_length=2000)
    """What the user wants from the assistant."""
    shards: tuple[Shard, ...] = Field(default=(), max_length=MAX_SHARDS)
    """The hidden information, in release order (the first is the opening request)."""
    simulator: str | None = None
    """Who writes the user's messages: "scripted-user" or "llm-user"; left out, the run
    decides: llm-user when it has a `user` role (--role user=SPEC), else scripted-user."""
    max_turns: int | None = Field(default=None, ge=1, le=MAX_TURNS)
    """Target turns a sharded conversation may last (default: shards + 2); at least one per
    shard."""
    stop: str = Field(default=DEFAULT_STOP, min_length=3, max_length=40)
    """The token with which the user ends the conversation (the simulator is told it)."""
    clarify: str = Field(default=DEFAULT_CLARIFY, min_length=1, max_length=500)
    """What the scripted user says, before the next shard, when the target asked a question."""
    concat: str | None = Field(default=None, min_length=1, max_length=MAX_CONCAT_CHARS)
    """The concat condition's message, for a task that frames its shards in its own way;
    default: turnscope's preamble and one bullet per shard."""

    @field_validator("persona", "goal")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank: say who the user is and what it wants")
        return value

    @field_validator("simulator")
    @classmethod
    def _known_simulator(cls, name: str | None) -> str | None:
        if name is not None:
            get_simulator(name)
        return name

    @model_validator(mode="after")
    def _room_for_every_shard(self) -> SimulatedSpec:
        if self.max_turns is not None and self.max_turns < len(self.shards):
            raise ValueError(
                f"max_turns {self.max_turns} leaves no turn for some of the "
                f"{len(self.shards)} shards"
            )
        return self

    @property
    def turn_limit(self) -> int:
        """Target turns a sharded conversation may last."""
        return (
            self.max_turns if self.max_turns is not None else min(len(self.shards) + 2, MAX_TURNS)
        )


def concatenated(spec: SimulatedSpec) -> str:
    """The concat condition's one message: the item's own, else every shard as a bullet, in
    order."""
    if spec.concat is not None:
        return spec.concat
    return CONCAT_PREAMBLE + "".join(f"\n- {shard.text}" for shard in spec.shards)


class SimulatedProtocol(ProtocolBase):
    """A user simulator releases the task shard by shard; or the task is given in one turn."""

    name = "simulated"
    conditions: tuple[Condition, ...] = (SHARDED, FULL, CONCAT)
    gaps: tuple[ConditionGap, ...] = (
        ConditionGap(
            name="sharded − full",
            first=SHARDED,
            second=FULL,
            meaning="negative: the model does worse when the task arrives piece by piece",
        ),
        ConditionGap(
            name="concat − full",
            first=CONCAT,
            second=FULL,
            meaning="negative: the shards' wording costs, even in one turn",
        ),
        ConditionGap(
            name="sharded − concat",
            first=SHARDED,
            second=CONCAT,
            meaning="negative: the same pieces cost more spread over turns",
        ),
    )
    setup_model = SimulatedSpec

    def check_item(self, item: Item) -> None:
        super().check_item(item)
        if len(item.turns) != 1:
            raise ValueError(
                "field 'turns': a simulated item has exactly one turn, the fully specified "
                "task (with the scorers that check every attempt)"
            )

    def spec(self, item: Item) -> SimulatedSpec:
        """The item's persona, goal, shards and simulator."""
        spec = self.setup(item)
        assert isinstance(spec, SimulatedSpec)
        return spec

    def required_roles(self, item: Item) -> tuple[str, ...]:
        name = self.spec(item).simulator
        return get_simulator(name).required_roles() if name is not None else ()

    def skip_reason(self, item: Item, condition: Condition) -> str | None:
        if condition == CONCAT and not self.spec(item).shards:
            return "no shards to list (concat needs them)"
        return None

    def max_turns(self, item: Item, condition: Condition) -> int:
        return self.spec(item).turn_limit if condition == SHARDED else 1

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        return 1

    def history_answers(self, condition: Condition) -> HistoryAnswers:
        return "own" if condition == SHARDED else "none"

    def conversation_score(
        self, item: Item, condition: Condition, values: Mapping[int, float | None]
    ) -> float | None:
        # The last attempt decides (a correct one ends the conversation, so it is the last).
        if not values:
            return None
        return values[max(values)]

    def default_simulator(self, ctx: PlayContext) -> str:
        """The simulator of an item that names none: a model if the run has a user role."""
        return LLM_USER if USER_ROLE in ctx.roles else SCRIPTED_USER

    def _cut_off(self, spec: SimulatedSpec, revealed: frozenset[int]) -> tuple[str, ...]:
        """Flags of the target's last record when max_turns ends the conversation: that, and
        whether the user left shards it could be seen to hold back (which spoils it)."""
        hidden = [i for i, s in enumerate(spec.shards) if s.markers and i not in revealed]
        return (ENDED_AT_LIMIT, UNREVEALED, SPOILT) if hidden else (ENDED_AT_LIMIT,)

    async def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        system = system_messages(item)
        if ctx.condition != SHARDED:
            if ctx.done(1) is not None:
                return
            spec = self.spec(item)
            text = concatenated(spec) if ctx.condition == CONCAT else item.turns[0].user
            request = (*system, Message(role="user", content=text))
            outcome = await ctx.ask(item, 1, request)
            yield await make_record(item, 1, ctx, request, request, outcome, scored_turn=1)
            return
        async for record in self._sharded(item, ctx, system):
            yield record

    async def _sharded(
        self, item: Item, ctx: PlayContext, system: tuple[Message, ...]
    ) -> AsyncIterator[TurnRecord]:
        spec = self.spec(item)
        simulator = get_simulator(spec.simulator or self.default_simulator(ctx))
        user_ctx = replace(ctx, roles={**ctx.roles, USER_ROLE: simulator.caller(ctx)})
        answer = item.turns[0].reference
        transcript: tuple[Message, ...] = ()
        revealed_before: tuple[frozenset[int], ...] = (frozenset(),)
        limit = spec.turn_limit
        for turn in range(1, limit + 1):
            view = SimulatorView(item, spec, turn, transcript, revealed_before)
            said = ctx.done(turn, USER_ROLE)
            if said is None:
                request, new, outcome = await simulator.write(view, ctx)
                text = outcome.completion.text if outcome.completion is not None else None
                flags = (
                    audit_message(text, view, answer).flags
                    if text is not None
                    else (SIM_ERROR, SPOILT)
                )
                said = await make_record(
                    item,
                    turn,
                    user_ctx,
                    new,
                    request,
                    outcome,
                    scored_turn=None,
                    role=USER_ROLE,
                    flags=flags,
                )
                yield said
                if said.response is None:
                    return  # the user could not speak: the conversation ends with its error
            assert said.response is not None
            audit = audit_message(said.response, view, answer)
            if audit.stop:
                return
            # A simulator that knows which shard it wrote says so; a model's message is only
            # known by its markers. A plugin simulator written before `reveals` existed has
            # none: its messages are audited by markers alone, as they were.
            revealed = audit.revealed
            reveals = getattr(simulator, "reveals", None)
            written = reveals(view) if reveals is not None else None
            if written is not None:
                revealed |= {written}
            revealed_before = (*revealed_before, revealed)
            user = Message(role="user", content=said.response)
            request = (*system, *transcript, user)
            record = ctx.done(turn)
            if record is None:
                new = (*system, user) if turn == 1 else (user,)
                outcome = await ctx.ask(item, turn, request)
                record = await make_record(item, turn, ctx, new, request, outcome, scored_turn=1)
                if turn == limit and record.response is not None and record.score != 1.0:
                    record = record.model_copy(
                        update={"flags": (*record.flags, *self._cut_off(spec, revealed))}
                    )
                yield record
                if record.response is None:
                    return  # no answer to show the user
            if record.score == 1.0:
                return  # solved: the goal is met
            assert record.answer is not None
            transcript = (*request[len(system) :], record.answer)


register_protocol(SimulatedProtocol())
