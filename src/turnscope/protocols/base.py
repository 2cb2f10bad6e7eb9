"""The ConversationProtocol extension point: how one conversation is played, and everything
that depends on a conversation's shape.

A protocol is asked, never second-guessed, by the engine, judging, pairwise comparison, the
analyses, the report and the CLI: which conditions it can play an item under, how many turns
a conversation can record, which item turn's scorers and reference judge a recorded turn, what
history a recorded turn was answered from, how a conversation's turns become one score, which
model roles it needs, and which paired differences between its conditions are worth reporting.
`ProtocolBase` gives the defaults of a scripted-like conversation; a protocol overrides what
differs. Protocols are registered by `register_protocol` and by the `turnscope.protocols`
entry-point group, so a third party adds one without forking.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from turnscope.core import (
    TARGET_ROLE,
    Completion,
    Condition,
    GenerationParams,
    Item,
    Message,
    ModelIdentity,
    Score,
    ScorerSpec,
    Turn,
    TurnRecord,
    derive_seed,
    error_text,
)
from turnscope.scorers import TurnView, score_turn

SCORING_TIME_LIMIT_S = 10.0
"""Seconds one turn's scorers may take before they are recorded as failed. Scoring runs off
the event loop, so a scorer stuck in a pathological regex never stalls other conversations."""


@dataclass(frozen=True)
class CallOutcome:
    """What the engine's model call gives back: an answer or an error, and what it took."""

    request_hash: str
    seed: int
    completion: Completion | None = None
    error: str | None = None
    retries: int = 0
    cached: bool = False


class Complete(Protocol):
    """The engine's model call for one role: cache, retries and the role's own limits."""

    async def __call__(
        self,
        messages: Sequence[Message],
        seed: int,
        sample: int,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome: ...


HistoryAnswers = Literal["own", "reference", "none"]
"""What stands in the history where the model answered earlier turns under a condition: its
own answers, reference answers, or nothing (they are dropped, or there is no earlier turn)."""


@dataclass(frozen=True)
class RoleCaller:
    """One model role as a protocol sees it: who answers, with which parameters, and the call."""

    role: str
    """"target" (the model under test), "user", "feedback" ..."""
    identity: ModelIdentity
    """The model that plays the role (recorded on every record it produces)."""
    params: GenerationParams
    """Generation parameters of the role's requests."""
    complete: Complete
    """Ask the role's model (cached, retried, under the role's concurrency limit)."""


@dataclass(frozen=True)
class PlayContext:
    """Everything a protocol needs to play one conversation of a run."""

    condition: Condition
    """The condition the conversation is played under."""
    sample: int
    """Sample index (a conversation may be played several times)."""
    run_seed: int
    """The run seed every request seed derives from."""
    roles: Mapping[str, RoleCaller]
    """The run's model roles by name; "target" is always there."""
    finished: Mapping[str, Mapping[int, TurnRecord]] = field(default_factory=dict)
    """Answered records from an earlier attempt of this run (resume), by role then turn:
    never asked again."""
    scoring_time_limit_s: float = SCORING_TIME_LIMIT_S
    """How long one turn's scorers may take (see SCORING_TIME_LIMIT_S)."""
    history_answers: HistoryAnswers = "own"
    """What the condition's history holds where the model answered earlier turns (its
    protocol's `history_answers`); scorers that ask about earlier answers need to know."""

    @property
    def target(self) -> RoleCaller:
        """The model under test."""
        return self.roles[TARGET_ROLE]

    def done(self, turn: int, role: str = TARGET_ROLE) -> TurnRecord | None:
        """The answered record of `turn` by `role` from an earlier attempt, if there is one."""
        return self.finished.get(role, {}).get(turn)

    def seed(self, item: Item, turn: int, role: str = TARGET_ROLE) -> int:
        """The deterministic seed of one request; the target's seeds are those of the runs
        made before roles existed, so their cached answers still match."""
        parts: tuple[str | int, ...] = (item.id, self.condition, self.sample, turn)
        if role != TARGET_ROLE:
            parts = (*parts, role)
        return derive_seed(self.run_seed, *parts)

    async def ask(
        self,
        item: Item,
        turn: int,
        messages: Sequence[Message],
        role: str = TARGET_ROLE,
        *,
        params: GenerationParams | None = None,
    ) -> CallOutcome:
        """Ask `role` to answer `messages` as turn `turn` of this conversation; `params`
        replaces the role's own for this request (tools offered, stop strings)."""
        caller = self.roles[role]
        return await caller.complete(
            messages, self.seed(item, turn, role), self.sample, params=params
        )


class ConditionGap(BaseModel):
    """A paired difference between two conditions that a protocol declares worth reporting."""

    name: str
    """How reports label it, e.g. "multi − single" or "own − gold"."""
    first: Condition
    """The condition whose item scores are the minuend."""
    second: Condition
    """The condition subtracted."""
    first_at_last_turn: bool = False
    """Take the first condition's value at the item's last turn instead of its item score
    (the single-turn twin answers only the last turn, so that is what it is compared with)."""
    meaning: str = ""
    """One line on how to read a negative value."""


@runtime_checkable
class ConversationProtocol(Protocol):
    """Plays one item under one condition, yielding each record as soon as it is finished,
    and answers every question about the shape of its conversations."""

    name: str
    """The name items give in their `protocol` field."""
    conditions: tuple[Condition, ...]
    """Every condition it can play; the first is its default."""
    gaps: tuple[ConditionGap, ...]
    """Paired differences between its conditions that reports show."""

    def check_item(self, item: Item) -> None:
        """Raise ValueError (naming the field) if the item cannot be played by this protocol."""
        ...

    def required_roles(self, item: Item) -> tuple[str, ...]:
        """Model roles besides the target that playing the item needs (e.g. "user")."""
        ...

    def condition_roles(self, item: Item, condition: Condition) -> tuple[str, ...]:
        """Model roles besides the target that playing the item under `condition` needs (a
        condition may add one: tools with a feedback writer)."""
        ...

    def check_available(self, item: Item, condition: Condition) -> None:
        """Raise ValueError with one line (what to install) if something the conversation
        needs beyond a model is missing on this machine, e.g. the sandbox of a tool item.
        Called before a run plays anything."""
        ...

    def item_conditions(self, item: Item) -> tuple[Condition, ...]:
        """The conditions the item may be played under (its own list, else all)."""
        ...

    def skip_reason(self, item: Item, condition: Condition) -> str | None:
        """Why the item cannot be played under `condition` (counted and shown), or None."""
        ...

    def max_turns(self, item: Item, condition: Condition) -> int:
        """Target turns a conversation records when played in full."""
        ...

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        """The item turn (1-based) whose scorers and reference judge the answer recorded at
        `turn` (the single-turn twin: the last; every feedback attempt: the task, 1)."""
        ...

    def key_turns(self, item: Item, condition: Condition) -> tuple[int, ...] | None:
        """Recorded turns whose scores make up the conversation's score (None: every scored
        turn)."""
        ...

    def history_answers(self, condition: Condition) -> HistoryAnswers:
        """What stands in the history where the model answered earlier turns."""
        ...

    def history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        """The messages the target's answer at `turn` was given to, rebuilt from the stored
        target records of the conversation (`records`: turn -> record)."""
        ...

    def shared_history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        """The history a pairwise judge sees when two runs' answers at `turn` are compared:
        one that favours neither run."""
        ...

    def conversation_score(
        self, item: Item, condition: Condition, values: Mapping[int, float | None]
    ) -> float | None:
        """One played conversation's score from its recorded turns' scores (turn -> score,
        None for a turn that failed or did not score); None when it cannot be known."""
        ...

    def attempt_budget(self, item: Item) -> int | None:
        """For protocols where every turn is an attempt at one task: the turn budget k (the
        success-at-k curve is reported); None otherwise."""
        ...

    def play(self, item: Item, ctx: PlayContext) -> AsyncIterator[TurnRecord]:
        """Play the conversation; records found in `ctx.finished` are not asked again."""
        ...


class ProtocolBase:
    """Defaults for a protocol whose target turns are the item's turns, in order."""

    name: str = ""
    conditions: tuple[Condition, ...] = ("own",)
    gaps: tuple[ConditionGap, ...] = ()
    setup_model: type[BaseModel] | None = None
    """The model that validates `item.setup` for this protocol (None: it takes no setup)."""

    def check_item(self, item: Item) -> None:
        unknown = [c for c in item.conditions or () if c not in self.conditions]
        if unknown:
            raise ValueError(
                f"field 'conditions': protocol {self.name!r} cannot play {unknown[0]!r} "
                f"(it plays {', '.join(self.conditions)})"
            )
        if self.setup_model is None:
            if item.setup:
                raise ValueError(f"field 'setup': protocol {self.name!r} takes no setup")
            return
        self.setup(item)

    def setup(self, item: Item) -> Any:
        """The item's setup validated by `setup_model` (ValueError naming the field)."""
        assert self.setup_model is not None
        try:
            return self.setup_model.model_validate(item.setup)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("setup", *first["loc"]))
            raise ValueError(f"field {where!r}: {error_text(first)}") from None

    def required_roles(self, item: Item) -> tuple[str, ...]:
        return ()

    def condition_roles(self, item: Item, condition: Condition) -> tuple[str, ...]:
        return self.required_roles(item)

    def check_available(self, item: Item, condition: Condition) -> None:
        return None

    def item_conditions(self, item: Item) -> tuple[Condition, ...]:
        return item.conditions or self.conditions

    def skip_reason(self, item: Item, condition: Condition) -> str | None:
        return None

    def max_turns(self, item: Item, condition: Condition) -> int:
        return len(item.turns)

    def scored_turn(self, item: Item, condition: Condition, turn: int) -> int:
        return turn

    def key_turns(self, item: Item, condition: Condition) -> tuple[int, ...] | None:
        probes = item.metadata.get("probe_turns")
        if isinstance(probes, list | tuple):
            turns = tuple(t for t in probes if isinstance(t, int) and not isinstance(t, bool))
            return turns or None
        return None

    def history_answers(self, condition: Condition) -> HistoryAnswers:
        return "own"

    def history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        messages: list[Message] = []
        for earlier in range(1, turn):
            record = records[earlier]
            messages.extend(record.new_messages)
            answer = record.answer
            messages.append(answer or Message(role="assistant", content=""))
        messages.extend(records[turn].new_messages)
        return tuple(messages)

    def shared_history(
        self, item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
    ) -> tuple[Message, ...]:
        return self.history(item, condition, records, turn)

    def conversation_score(
        self, item: Item, condition: Condition, values: Mapping[int, float | None]
    ) -> float | None:
        keys = self.key_turns(item, condition)
        if keys is None:
            keys = tuple(t for t, v in values.items() if v is not None)
        picked = [values.get(t) for t in keys]
        if not picked or any(v is None for v in picked):
            return None
        known = [v for v in picked if v is not None]
        # A benchmark whose authors score a dialogue by its weakest turn (MT-Bench-101) says
        # so in its items' metadata.
        if item.metadata.get("aggregate") == "min":
            return min(known)
        return sum(known) / len(known)

    def attempt_budget(self, item: Item) -> int | None:
        return None


# --- records ----------------------------------------------------------------------------------


SCORING_RESCUE_S = 0.05
"""How long the turns handed to a scoring thread together may wait behind a slow one before
another thread takes over those it has not started."""


@dataclass(eq=False)
class _ScoringJob:
    """One turn to score, and (set by the worker thread) what scoring it gave."""

    view: TurnView
    specs: tuple[ScorerSpec, ...]
    future: asyncio.Future[tuple[Score, ...]]
    outcome: tuple[Score, ...] | BaseException | None = None


class _ScoringBatch:
    """The turns that asked to be scored in one pass of the event loop. Worker threads take
    them one by one; what they scored goes back to the loop in one call per thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.jobs: list[_ScoringJob] = []
        self.waiting: deque[_ScoringJob] = deque()
        """Not started yet (deque: worker threads take from it without a lock)."""
        self.finished: deque[_ScoringJob] = deque()
        """Scored, not yet handed to the loop."""

    def work(self) -> None:
        """In a worker thread: score the waiting turns, then hand them all back at once."""
        while True:
            try:
                job = self.waiting.popleft()
            except IndexError:
                break
            try:
                job.outcome = score_turn(job.view, job.specs)
            except BaseException as exc:  # handed to the waiting conversation, not lost here
                job.outcome = exc
            self.finished.append(job)
        # A closed loop raises: a scorer that outlived its run has nobody left to tell.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.hand_back)

    def hand_back(self) -> None:
        """In the loop: give every finished turn its scores."""
        while self.finished:
            job = self.finished.popleft()
            if job.future.done():  # its conversation stopped waiting (time limit, cancel)
                continue
            if isinstance(job.outcome, BaseException):
                job.future.set_exception(job.outcome)
            else:
                job.future.set_result(job.outcome or ())

    def rescue(self) -> None:
        """In the loop, SCORING_RESCUE_S after the start and again until every turn is
        answered: hand back what is finished and, if a slow scorer holds the thread, let
        another thread take the turns it has not started."""
        self.hand_back()
        if any(not job.future.done() for job in self.waiting):
            try:
                self.loop.run_in_executor(None, self.work)
            except RuntimeError:
                return  # the run is ending: its executor takes no more work
        if any(not job.future.done() for job in self.jobs):
            self.loop.call_later(SCORING_RESCUE_S, self.rescue)


class _Scoring:
    """Hands turns to scoring threads a batch at a time: one thread hand-off and one wake-up
    of the loop per pass of the event loop instead of per turn (about 100 us of CPU each with
    asyncio.to_thread, a large share of a turn against a fast server)."""

    def __init__(self) -> None:
        self._open: _ScoringBatch | None = None

    def submit(
        self, view: TurnView, specs: tuple[ScorerSpec, ...]
    ) -> asyncio.Future[tuple[Score, ...]]:
        loop = asyncio.get_running_loop()
        batch = self._open
        if batch is None or batch.loop is not loop:
            batch = self._open = _ScoringBatch(loop)
            loop.call_soon(self._start, batch)
        job = _ScoringJob(view, specs, loop.create_future())
        batch.jobs.append(job)
        batch.waiting.append(job)
        return job.future

    def _start(self, batch: _ScoringBatch) -> None:
        if self._open is batch:
            self._open = None
        batch.loop.run_in_executor(None, batch.work)
        batch.loop.call_later(SCORING_RESCUE_S, batch.rescue)


_scoring = _Scoring()


async def score_answer(
    view: TurnView, spec: Turn, limit_s: float = SCORING_TIME_LIMIT_S
) -> tuple[Score, ...]:
    """Score an answer with a turn's scorers in a worker thread, within `limit_s` seconds; a
    scorer that takes longer is recorded as failed (its thread is left to finish on its own),
    and the turns handed over with it are taken over by another thread."""
    if not spec.scorers:
        return ()
    try:
        async with asyncio.timeout(limit_s):
            return await _scoring.submit(view, spec.scorers)
    except TimeoutError:
        error = f"scoring took longer than {limit_s:g} s and was stopped"
        return tuple(Score(scorer=s.type, error=error) for s in spec.scorers)


async def make_record(
    item: Item,
    turn: int,
    ctx: PlayContext,
    new: tuple[Message, ...],
    request: tuple[Message, ...],
    outcome: CallOutcome,
    *,
    scored_turn: int | None,
    role: str = TARGET_ROLE,
    flags: tuple[str, ...] = (),
    scored_text: str | None = None,
    scores: tuple[Score, ...] | None = None,
) -> TurnRecord:
    """The record of one answered (or failed) request by `role`; an answer is scored with the
    scorers of item turn `scored_turn` (None: not scored, e.g. a simulated user's message),
    on `scored_text` when the protocol scores a transformation of the answer (the record
    keeps the answer as given), unless the protocol scored it itself and passes `scores` (a
    solution taken out of the answer, tests run in a sandbox)."""
    completion = outcome.completion
    given: tuple[Score, ...] = ()
    if completion is not None and scores is not None:
        given = scores
    elif completion is not None and scored_turn is not None:
        view = TurnView(
            item=item,
            turn=scored_turn,
            response=completion.text if scored_text is None else scored_text,
            history=request,
            condition=ctx.condition,
            shows_answers=ctx.history_answers != "none",
        )
        given = await score_answer(view, item.turns[scored_turn - 1], ctx.scoring_time_limit_s)
    caller = ctx.roles[role]
    fresh = completion is not None and not outcome.cached
    # Every value below is already validated (the item, the messages, the completion, the
    # role's identity and parameters), so the record is built without validating it again:
    # that was a measurable share of a turn's CPU against a fast server.
    return TurnRecord.model_construct(
        item_id=item.id,
        turn=turn,
        condition=ctx.condition,
        role=role,
        sample=ctx.sample,
        request_hash=outcome.request_hash,
        new_messages=new,
        response=completion.text if completion else None,
        tool_calls=completion.tool_calls if completion else None,
        prompt_tokens=completion.prompt_tokens if completion else None,
        completion_tokens=completion.completion_tokens if completion else None,
        prefilled_tokens=completion.prefilled_tokens if completion else None,
        finish_reason=completion.finish_reason if completion else None,
        latency_s=completion.latency_s if completion and fresh else 0.0,
        ttft_s=completion.ttft_s if completion and fresh else None,
        retries=outcome.retries,
        cached=outcome.cached,
        served_by=completion.served_by if completion and fresh else None,
        error=outcome.error,
        model=caller.identity,
        params=caller.params,
        seed=outcome.seed,
        scores=given,
        flags=(*flags, "sanitised") if completion and completion.sanitised else flags,
        finished_at=datetime.now(UTC),
    )


def system_messages(item: Item) -> tuple[Message, ...]:
    """The item's system prompt as the messages that open its conversations."""
    return (Message(role="system", content=item.system),) if item.system else ()


# --- the registry -------------------------------------------------------------------------------

_PROTOCOLS: dict[str, ConversationProtocol] = {}
_ENTRY_POINT_GROUP = "turnscope.protocols"
_plugins_loaded = False


def register_protocol(protocol: ConversationProtocol) -> ConversationProtocol:
    """Make a protocol available by its name (items select it with `protocol: NAME`)."""
    _PROTOCOLS[protocol.name] = protocol
    return protocol


def _load_protocols() -> None:
    global _plugins_loaded
    # Once per process: get_protocol runs for every conversation and every analysed item,
    # and six import statements each time were a measurable share of a run's summary.
    if _plugins_loaded:
        return
    # Importing the modules runs their register_protocol calls.
    import turnscope.protocols.environment
    import turnscope.protocols.feedback
    import turnscope.protocols.replay
    import turnscope.protocols.scripted
    import turnscope.protocols.simulated
    import turnscope.protocols.tools  # noqa: F401

    _plugins_loaded = True
    for ep in entry_points(group=_ENTRY_POINT_GROUP):
        ep.load()


def protocols() -> list[ConversationProtocol]:
    """Every registered protocol, built-in ones first."""
    _load_protocols()
    return list(_PROTOCOLS.values())


class UnknownProtocol(ValueError):
    """A protocol name that no installed module registers (a typo in a suite, or a run played
    with a plugin that is not installed here)."""


def get_protocol(name: str) -> ConversationProtocol:
    """A registered protocol by name; UnknownProtocol naming the known ones if there is none."""
    _load_protocols()
    try:
        return _PROTOCOLS[name]
    except KeyError:
        known = ", ".join(_PROTOCOLS)
        raise UnknownProtocol(f"unknown protocol {name!r} (known: {known})") from None


def known_conditions() -> list[Condition]:
    """Every condition some registered protocol plays, in registration order."""
    return list(dict.fromkeys(c for p in protocols() for c in p.conditions))


def check_protocols(items: Iterable[Item]) -> None:
    """Raise ValueError naming the first item whose protocol is unknown or rejects it."""
    for item in items:
        try:
            get_protocol(item.protocol).check_item(item)
        except ValueError as exc:
            raise ValueError(f"item {item.id!r}: {exc}") from None


def check_conditions(conditions: Sequence[Condition], items: Iterable[Item]) -> None:
    """Raise ValueError if a condition is played by no protocol at all, or by none of the
    items' protocols (a typo, or a condition of another kind of suite)."""
    known = known_conditions()
    for condition in conditions:
        if condition not in known:
            raise ValueError(f"unknown condition {condition!r} (known: {', '.join(known)})")
    used = {item.protocol for item in items}
    playable = {c for name in used for c in get_protocol(name).conditions}
    for condition in conditions:
        if used and condition not in playable:
            raise ValueError(
                f"no item of this suite can be played under {condition!r}: its protocols "
                f"({', '.join(sorted(used))}) play {', '.join(sorted(playable))}"
            )
