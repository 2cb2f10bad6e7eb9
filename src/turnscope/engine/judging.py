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
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from turnscope.core import (
    TARGET_ROLE,
    Check,
    Condition,
    GenerationParams,
    Item,
    JudgeAttempt,
    JudgeSettings,
    Judgment,
    JuryMethod,
    Message,
    ModelIdentity,
    PairJudgment,
    Score,
    ScorerSpec,
    TurnRecord,
    Verdict,
    derive_seed,
    request_key,
)
from turnscope.engine.calls import ModelCaller
from turnscope.protocols import get_protocol
from turnscope.scorers import is_deferred, scorer_params
from turnscope.scorers.judged import JUDGE_SCORER
from turnscope.scorers.judges import (
    JudgeInput,
    JudgeKind,
    JudgeParams,
    VerdictParseError,
    aggregate,
    judge_kind,
    parse_failure_text,
    parse_verdict,
    resolve_swap,
)

logger = logging.getLogger(__name__)

RETRY_TEMPERATURE = 0.7
"""Temperature of the retries of a greedy judge: at 0 it would repeat the same unparseable text."""


class Judge:
    """One judge model: its spec, its caller (cache, retries of transport failures) and its own
    concurrency limit, independent of the model under test's."""

    def __init__(self, spec: str, caller: ModelCaller, concurrency: int) -> None:
        limit = caller.client.max_concurrency
        self.spec = spec
        self.caller = caller
        self._gate = asyncio.Semaphore(min(concurrency, limit) if limit else concurrency)
        self._unenforced_said: set[str] = set()

    @property
    def identity(self) -> ModelIdentity:
        return self.caller.client.identity

    def params(self, kind: JudgeKind) -> GenerationParams:
        """The judge's generation parameters for a verdict of `kind`: its constraint added,
        so a backend that can holds the text to the verdict's form. Said once per judge and
        kind when the backend cannot: its verdicts are then parsed and retried."""
        constraint = kind.constraint()
        if constraint is None:
            return self.caller.params
        if kind.name not in self._unenforced_said and not self.caller.client.enforces(constraint):
            self._unenforced_said.add(kind.name)
            logger.warning(
                "judge %s cannot hold its %s verdicts to their format while decoding; "
                "unparseable ones are asked again (see `turnscope models`)",
                self.spec,
                kind.name,
            )
        return self.caller.params.model_copy(update={"constraint": constraint})

    def reusable(self, judgment: Judgment, kind: JudgeKind, inp: JudgeInput, seed: int) -> bool:
        """Whether a stored judgment can stand instead of asking again: it began with the
        request this judge would make now (same model, prompt, parameters and seed), and it
        did not end in a model failure (an outage is worth asking again; unparseable text is
        not, it would come back the same)."""
        first = request_key(
            self.identity, kind.messages(inp), self.params(kind), derive_seed(seed, "judge", 0), 0
        )
        attempts = judgment.attempts
        return bool(attempts) and attempts[0].request_hash == first and not judgment.model_failed

    async def judge(
        self, kind: JudgeKind, inp: JudgeInput, *, max_attempts: int, seed: int
    ) -> Judgment:
        """Ask for a verdict; re-ask (sampling, new seed) while the text does not parse, at
        most `max_attempts` requests in all. Every attempt's key is deterministic, so a second
        identical run is answered entirely from the cache."""
        messages = kind.messages(inp)
        attempts: list[JudgeAttempt] = []
        failures: list[VerdictParseError] = []
        params = self.params(kind)
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
                verdict = parse_verdict(kind, text, inp)
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
    """The deferred specs of item turn `turn` (`type: judge` and any deferred scorer a plugin
    registers): (position among the turn's scorer specs, judge params)."""
    specs = item.turns[turn - 1].scorers
    return [(index, judge_params(spec)) for index, spec in enumerate(specs) if is_deferred(spec)]


def judge_params(spec: ScorerSpec) -> JudgeParams:
    """A deferred spec's parameters: a deferred scorer's parameter model is a JudgeParams
    (whose `kind` names the judge kind that scores it)."""
    params = scorer_params(spec)
    if not isinstance(params, JudgeParams):
        raise TypeError(
            f"deferred scorer {spec.type!r}: its parameter model must subclass JudgeParams"
        )
    return params


def needs_judging(item: Item, record: TurnRecord) -> bool:
    """Whether an answered target turn still lacks a verdict for a deferred spec: never judged
    (a killed pass), or judged with an error (a judge outage is asked again; a judgment whose
    text never parsed is found in the store and reused, not asked again)."""
    if record.response is None or record.role != TARGET_ROLE:
        return False
    turn = get_protocol(item.protocol).scored_turn(item, record.condition, record.turn)
    specs = item.turns[turn - 1].scorers
    deferred = [i for i, spec in enumerate(specs) if is_deferred(spec)]
    if not deferred:
        return False
    if len(record.scores) < len(specs):
        return True
    return any(record.scores[i].error is not None for i in deferred)


def request_history(
    item: Item, condition: Condition, records: Mapping[int, TurnRecord], turn: int
) -> tuple[Message, ...]:
    """The messages a target turn's answer was given to, as its protocol rebuilds them from
    the conversation's stored target records."""
    return get_protocol(item.protocol).history(item, condition, records, turn)


def judge_input(
    params: JudgeParams,
    history: tuple[Message, ...],
    answer: str,
    reference: str | None,
    answer_b: str | None = None,
    own_histories: tuple[tuple[Message, ...], tuple[Message, ...]] | None = None,
) -> JudgeInput:
    """What the judge kind is given for one answer (or pair), honouring `use_reference`."""
    return JudgeInput(
        history=history,
        answer=answer,
        answer_b=answer_b,
        own_histories=own_histories,
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
    parts = [v.label for v in verdicts]
    detail = parts[0] if len(judgments) == 1 else f"jury {method} of {', '.join(parts)}"
    if failed:
        detail += f"; {len(failed)} judge error(s)"
    checks = tuple(
        Check(name=question, passed=answer)
        for question, answer in zip(params.items, verdict.items, strict=False)
    )
    return Score(scorer=scorer, value=verdict.value, detail=detail, checks=checks)


class JudgmentSink(Protocol):
    """Where a run's judgments and judged turn records go (the run store)."""

    def conversation_records(
        self, item_id: str, condition: Condition, sample: int
    ) -> list[TurnRecord]:
        """Every record of one conversation so far (all roles), in turn order."""
        ...

    def commit(self, record: TurnRecord) -> None:
        """Persist a turn record (here: rewritten with its judge scores)."""
        ...

    def judgments(
        self, item_id: str, condition: Condition, sample: int, turn: int
    ) -> dict[tuple[int, str], Judgment]:
        """Judgments already made for one turn, by (scorer spec position, judge spec)."""
        ...

    def commit_judgment(
        self, item_id: str, condition: Condition, sample: int, turn: int, spec: int, j: Judgment
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
        key = (record.item_id, record.condition, record.sample, record.turn)
        conversation = {
            r.turn: r for r in self.sink.conversation_records(*key[:3]) if r.role == TARGET_ROLE
        }
        history = request_history(item, record.condition, conversation, record.turn)
        turn = get_protocol(item.protocol).scored_turn(item, record.condition, record.turn)
        reference = item.turns[turn - 1].reference
        assert record.response is not None
        done = self.sink.judgments(*key)
        judge_scores: dict[int, Score] = {}
        for index, params in judge_specs(item, turn):
            kind = judge_kind(params.kind, params)
            inp = judge_input(params, history, record.response, reference)
            judgments = await asyncio.gather(
                *(self._judgment(key, index, judge, kind, inp, done) for judge in self.judges)
            )
            judge_scores[index] = jury_score(params, judgments, self.settings.jury)
        specs = item.turns[turn - 1].scorers
        if len(record.scores) == len(specs):
            # Judged before, with an error: the other scores keep their places.
            scores = tuple(judge_scores.get(i, s) for i, s in enumerate(record.scores))
        else:
            own_scores = iter(record.scores)
            scores = tuple(
                judge_scores[i] if i in judge_scores else next(own_scores)
                for i in range(len(specs))
            )
        judged = record.model_copy(update={"scores": scores})
        self.sink.commit(judged)
        self.result.turns_judged += 1
        if self.on_judged is not None:
            self.on_judged(judged)

    async def _judgment(
        self,
        key: tuple[str, Condition, int, int],
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
