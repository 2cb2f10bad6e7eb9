"""The judge role: asking judge models for verdicts, with bounded retries of unparseable text,
the shared response cache, a concurrency limit of their own, and the judge pass of a run.

A judgment is one judge's verdict on one answer (or, for pairwise, on one order of two
answers). Every attempt's raw text is kept; a judgment whose text never parsed is an error,
never a score. The judge pass of a run scores the turns whose scorer spec is `type: judge`:
it runs beside the play, commits each judgment as soon as it is made and then rewrites the
turn record with its judge scores, so a killed pass resumes without asking a finished
judgment again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from turnscope.core import (
    Check,
    Item,
    JudgeSettings,
    JuryMethod,
    Message,
    ModelIdentity,
    Score,
    ScorerSpec,
    TurnRecord,
    Variant,
    derive_seed,
    request_key,
)
from turnscope.engine.calls import ModelCaller
from turnscope.scorers import scorer_params
from turnscope.scorers.judged import JUDGE_SCORER
from turnscope.scorers.judges import (
    JudgeInput,
    JudgeKind,
    JudgeParams,
    Verdict,
    VerdictParseError,
    aggregate,
    judge_kind,
    parse_failure_text,
    resolve_swap,
)

RETRY_TEMPERATURE = 0.7
"""Temperature of the retries of a greedy judge: at 0 it would repeat the same unparseable text."""


class JudgeAttempt(BaseModel):
    """One request of a judgment and what came back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_hash: str
    """Content address of the request (the response cache key)."""
    text: str | None = None
    """The judge's raw text; None when the model call itself failed."""
    error: str | None = None
    """Why this attempt gave no verdict: the parse error, or the model failure."""
    cached: bool = False
    """Whether the text came from the response cache."""


class Judgment(BaseModel):
    """One judge's verdict on one judged input, with every attempt it took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    """The judge's model spec, as given to --judge."""
    identity: ModelIdentity
    """What identifies the judge model (backend, model, weights fingerprint)."""
    kind: str
    """Judge kind: "grade", "checklist", "rubric" or "pairwise"."""
    attempts: tuple[JudgeAttempt, ...]
    """Every request made for this judgment, in order (raw text kept for the audit)."""
    verdict: Verdict | None = None
    """The parsed verdict of the last attempt; None when no attempt parsed."""
    error: str | None = None
    """Why there is no verdict (retries exhausted on unparseable text, or a model failure)."""
    finished_at: datetime
    """When the judgment was made."""

    @property
    def requests_sent(self) -> int:
        """Attempts that were not served from the cache."""
        return sum(not a.cached for a in self.attempts)


class Judge:
    """One judge model: its spec, its caller (cache, retries of transport failures) and its own
    concurrency limit, independent of the model under test's."""

    def __init__(self, spec: str, caller: ModelCaller, concurrency: int) -> None:
        limit = caller.client.max_concurrency
        self.spec = spec
        self.caller = caller
        self._gate = asyncio.Semaphore(min(concurrency, limit) if limit else concurrency)

    @property
    def identity(self) -> ModelIdentity:
        return self.caller.client.identity

    def reusable(self, judgment: Judgment, kind: JudgeKind, inp: JudgeInput, seed: int) -> bool:
        """Whether a stored judgment can stand instead of asking again: it began with the
        request this judge would make now (same model, prompt, parameters and seed), and it
        did not end in a model failure (an outage is worth asking again; unparseable text is
        not, it would come back the same)."""
        first = request_key(
            self.identity, kind.messages(inp), self.caller.params, derive_seed(seed, "judge", 0), 0
        )
        attempts = judgment.attempts
        return (
            bool(attempts) and attempts[0].request_hash == first and attempts[-1].text is not None
        )

    async def judge(
        self, kind: JudgeKind, inp: JudgeInput, *, max_attempts: int, seed: int
    ) -> Judgment:
        """Ask for a verdict; re-ask (sampling, new seed) while the text does not parse, at
        most `max_attempts` requests in all. Every attempt's key is deterministic, so a second
        identical run is answered entirely from the cache."""
        messages = kind.messages(inp)
        attempts: list[JudgeAttempt] = []
        failures: list[VerdictParseError] = []
        params = self.caller.params
        retry_params = params.model_copy(
            update={"temperature": max(params.temperature, RETRY_TEMPERATURE)}
        )
        for number in range(max_attempts):
            async with self._gate:
                outcome = await self.caller.complete(
                    messages,
                    derive_seed(seed, "judge", number),
                    number,
                    params=params if number == 0 else retry_params,
                )
            if outcome.completion is None:
                error = f"judge model failed: {outcome.error}"
                attempts.append(JudgeAttempt(request_hash=outcome.request_hash, error=error))
                return self._judgment(kind, attempts, error=error)
            text = outcome.completion.text
            try:
                verdict = kind.parse(text)
            except VerdictParseError as exc:
                failures.append(exc)
                attempts.append(
                    JudgeAttempt(
                        request_hash=outcome.request_hash,
                        text=text,
                        error=f"unparseable verdict: {exc}",
                        cached=outcome.cached,
                    )
                )
                continue
            attempts.append(
                JudgeAttempt(request_hash=outcome.request_hash, text=text, cached=outcome.cached)
            )
            return self._judgment(kind, attempts, verdict=verdict)
        return self._judgment(kind, attempts, error=parse_failure_text(failures))

    def _judgment(
        self,
        kind: JudgeKind,
        attempts: list[JudgeAttempt],
        *,
        verdict: Verdict | None = None,
        error: str | None = None,
    ) -> Judgment:
        return Judgment(
            judge=self.spec,
            identity=self.identity,
            kind=kind.name,
            attempts=tuple(attempts),
            verdict=verdict,
            error=error,
            finished_at=datetime.now(UTC),
        )


def judge_specs(item: Item, turn: int) -> list[tuple[int, JudgeParams]]:
    """The `type: judge` specs of a turn: (position among the turn's scorer specs, params)."""
    specs = item.turns[turn - 1].scorers
    return [
        (index, _judge_params(spec))
        for index, spec in enumerate(specs)
        if spec.type == JUDGE_SCORER
    ]


def _judge_params(spec: ScorerSpec) -> JudgeParams:
    params = scorer_params(spec)
    assert isinstance(params, JudgeParams)
    return params


def needs_judging(item: Item, record: TurnRecord) -> bool:
    """Whether an answered turn still lacks the scores of its deferred (judge) specs."""
    if record.response is None:
        return False
    specs = item.turns[record.turn - 1].scorers
    return any(s.type == JUDGE_SCORER for s in specs) and len(record.scores) < len(specs)


def request_history(
    item: Item, variant: Variant, records: Mapping[int, TurnRecord], turn: int
) -> tuple[Message, ...]:
    """The messages a turn's answer was given to, rebuilt from the stored records: earlier
    turns' new messages each followed by the assistant message the variant put there."""
    if variant is Variant.SINGLE:
        return records[turn].new_messages
    history: list[Message] = []
    for earlier in range(1, turn):
        record = records[earlier]
        answer = item.turns[earlier - 1].reference if variant is Variant.GOLD else record.response
        history.extend(record.new_messages)
        history.append(Message(role="assistant", content=answer or ""))
    history.extend(records[turn].new_messages)
    return tuple(history)


def judge_input(
    params: JudgeParams,
    history: tuple[Message, ...],
    answer: str,
    reference: str | None,
    answer_b: str | None = None,
) -> JudgeInput:
    """What the judge kind is given for one answer (or pair), honouring `use_reference`."""
    return JudgeInput(
        history=history,
        answer=answer,
        answer_b=answer_b,
        reference=reference if params.use_reference else None,
        guidance=params.guidance,
    )


def jury_score(params: JudgeParams, judgments: Sequence[Judgment], method: JuryMethod) -> Score:
    """One Score from a judge's (or a jury's) judgments. Judges that gave no verdict are left
    out and counted in the detail; with no verdict at all the Score is an error. A checklist's
    answers become the Score's checks, named by their questions."""
    scorer = f"{JUDGE_SCORER}:{params.kind}"
    verdicts = [j.verdict for j in judgments if j.verdict is not None]
    failed = [j for j in judgments if j.verdict is None]
    if not verdicts:
        first = failed[0].error if failed else "no judge"
        return Score(scorer=scorer, error=f"no verdict from {len(judgments)} judge(s): {first}")
    verdict = verdicts[0] if len(verdicts) == 1 else aggregate(verdicts, method)
    if verdict.value is None:
        return Score(scorer=scorer, error=f"verdict of kind {verdict.kind!r} carries no value")
    parts = [verdict_label(v) for v in verdicts]
    detail = parts[0] if len(judgments) == 1 else f"jury {method} of {', '.join(parts)}"
    if failed:
        detail += f"; {len(failed)} judge error(s)"
    checks = tuple(
        Check(name=question, passed=answer)
        for question, answer in zip(params.items, verdict.items, strict=False)
    )
    return Score(scorer=scorer, value=verdict.value, detail=detail, checks=checks)


def verdict_label(verdict: Verdict) -> str:
    """A short label of a verdict for tables and distributions: "grade 7", "3/4 yes",
    "yes" (rubric), "winner a"."""
    if verdict.grade is not None:
        return f"grade {verdict.grade}"
    if verdict.kind == "rubric" and verdict.value is not None:
        return "yes" if verdict.value >= 1.0 else "no"
    if verdict.items:
        return f"{sum(verdict.items)}/{len(verdict.items)} yes"
    if verdict.winner is not None:
        return f"winner {verdict.winner}"
    return f"value {verdict.value:.2f}" if verdict.value is not None else verdict.kind


class JudgmentSink(Protocol):
    """Where a run's judgments and judged turn records go (the run store)."""

    def finished_turns(self, item_id: str, variant: Variant, sample: int) -> dict[int, TurnRecord]:
        """Turns of one conversation recorded so far, by turn index."""
        ...

    def commit(self, record: TurnRecord) -> None:
        """Persist a turn record (here: rewritten with its judge scores)."""
        ...

    def judgments(
        self, item_id: str, variant: Variant, sample: int, turn: int
    ) -> dict[tuple[int, str], Judgment]:
        """Judgments already made for one turn, by (scorer spec position, judge spec)."""
        ...

    def commit_judgment(
        self, item_id: str, variant: Variant, sample: int, turn: int, spec: int, j: Judgment
    ) -> None:
        """Persist one judgment at once."""
        ...


@dataclass
class JudgePassResult:
    """Counts from one judge pass."""

    turns_judged: int = 0
    """Turn records rewritten with their judge scores in this pass."""
    judgments_made: int = 0
    """Judgments made in this pass (judgments found in the store are not counted)."""
    judge_errors: int = 0
    """Of those, judgments without a verdict."""
    judgments_reused: int = 0
    """Judgments found finished in the store (resume)."""


@dataclass
class JudgePass:
    """Judges a run's turns as they are played: `submit` each committed record, then
    `finish`. Judge requests run concurrently under each judge's own limit."""

    judges: Sequence[Judge]
    settings: JudgeSettings
    items: Mapping[str, Item]
    sink: JudgmentSink
    on_judged: Callable[[TurnRecord], None] | None = None
    result: JudgePassResult = field(default_factory=JudgePassResult)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def submit(self, record: TurnRecord) -> None:
        """Start judging `record` if it has judge specs still to score."""
        item = self.items[record.item_id]
        if needs_judging(item, record):
            self._tasks.append(asyncio.create_task(self._judge_turn(item, record)))

    async def finish(self) -> JudgePassResult:
        """Wait for every submitted turn to be judged."""
        await asyncio.gather(*self._tasks)
        return self.result

    async def cancel(self) -> None:
        """Stop judging (after a failure or an interrupt); finished judgments stay stored."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _judge_turn(self, item: Item, record: TurnRecord) -> None:
        key = (record.item_id, record.variant, record.sample, record.turn)
        conversation = self.sink.finished_turns(record.item_id, record.variant, record.sample)
        history = request_history(item, record.variant, conversation, record.turn)
        reference = item.turns[record.turn - 1].reference
        assert record.response is not None
        done = self.sink.judgments(*key)
        judge_scores: dict[int, Score] = {}
        for index, params in judge_specs(item, record.turn):
            kind = judge_kind(params.kind, params)
            inp = judge_input(params, history, record.response, reference)
            judgments = await asyncio.gather(
                *(self._judgment(key, index, judge, kind, inp, done) for judge in self.judges)
            )
            judge_scores[index] = jury_score(params, judgments, self.settings.jury)
        own_scores = iter(record.scores)
        specs = item.turns[record.turn - 1].scorers
        scores = tuple(
            judge_scores[i] if i in judge_scores else next(own_scores) for i in range(len(specs))
        )
        judged = record.model_copy(update={"scores": scores})
        self.sink.commit(judged)
        self.result.turns_judged += 1
        if self.on_judged is not None:
            self.on_judged(judged)

    async def _judgment(
        self,
        key: tuple[str, Variant, int, int],
        index: int,
        judge: Judge,
        kind: JudgeKind,
        inp: JudgeInput,
        done: Mapping[tuple[int, str], Judgment],
    ) -> Judgment:
        found = done.get((index, judge.spec))
        if found is not None and judge.reusable(found, kind, inp, self.settings.seed):
            self.result.judgments_reused += 1
            return found
        judgment = await judge.judge(
            kind, inp, max_attempts=self.settings.max_attempts, seed=self.settings.seed
        )
        self.sink.commit_judgment(*key, index, judgment)
        self.result.judgments_made += 1
        self.result.judge_errors += judgment.verdict is None
        return judgment


Winner = Literal["a", "b", "tie"]


class PairJudgment(BaseModel):
    """One judge's comparison of two answers to the same turn, asked in both orders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ab: Judgment
    """The judgment with the first run's answer shown as A."""
    ba: Judgment
    """The judgment with the second run's answer shown as A."""
    outcome: Winner | None = None
    """Who won, in the first run's terms ("a" = first run); a verdict that flips with the
    order is a tie. None when either order gave no verdict."""
    consistent: bool | None = None
    """Whether both orders agree; None when either order gave no verdict."""
    error: str | None = None
    """Why there is no outcome."""


async def judge_pair(
    judge: Judge,
    kind: JudgeKind,
    inp_ab: JudgeInput,
    inp_ba: JudgeInput,
    settings: JudgeSettings,
) -> PairJudgment:
    """Judge two answers in both orders and resolve the position swap."""
    ab, ba = await asyncio.gather(
        judge.judge(kind, inp_ab, max_attempts=settings.max_attempts, seed=settings.seed),
        judge.judge(kind, inp_ba, max_attempts=settings.max_attempts, seed=settings.seed),
    )
    if ab.verdict is None or ba.verdict is None:
        failed = ab if ab.verdict is None else ba
        return PairJudgment(ab=ab, ba=ba, error=failed.error)
    resolved = resolve_swap(ab.verdict, ba.verdict)
    return PairJudgment(
        ab=ab, ba=ba, outcome=resolved.winner, consistent=resolved.position_consistent
    )
