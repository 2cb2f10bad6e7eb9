"""The judge section of a report: verdicts per judge, judge errors, retries, jury agreement and
position inconsistency of pairwise comparisons."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from turnscope.analysis.summary import full_message
from turnscope.core import Judgment
from turnscope.scorers.judges import Agreement, Verdict, agreement
from turnscope.store import PairRecord, StoredJudgment


class JudgeStats(BaseModel):
    """What one judge did in a run (or in a set of pairwise comparisons)."""

    model_config = ConfigDict(frozen=True)

    judge: str
    """The judge's model spec."""
    judgments: int
    """Judgments made (one per judged answer, or per order of a pair)."""
    errors: int
    """Judgments without a verdict (recorded with their raw text, never as a score)."""
    requests: int
    """Judge requests behind them, retries of unparseable text included."""
    retried: int
    """Judgments that needed more than one request."""
    verdicts: dict[str, int]
    """Verdict distribution: label ("grade 7", "3/4 yes", "winner a" ...) -> count."""


class PairwiseStats(BaseModel):
    """Position consistency of pairwise comparisons."""

    model_config = ConfigDict(frozen=True)

    comparisons: int
    """Comparisons (one per judge and turn, each asked in both orders)."""
    decided: int
    """Comparisons with an outcome (both orders gave a verdict)."""
    inconsistent: int
    """Of those, comparisons whose verdict flipped with the order (counted as ties)."""
    inconsistency_rate: float | None
    """inconsistent / decided; None when nothing was decided."""
    outcomes: dict[str, int]
    """Resolved outcomes ("a", "b", "tie") -> count."""


class JuryAgreement(BaseModel):
    """How much a jury's judges agree over the answers they judged."""

    model_config = ConfigDict(frozen=True)

    judges: tuple[str, ...]
    """The jury's judges."""
    answers: int
    """Answers every judge gave a verdict on."""
    exact: float | None
    """Share of those answers on which all judges gave the same verdict."""
    alpha: dict[str, Agreement]
    """Krippendorff's alpha per judge kind, over every answer (a judge without a verdict is
    a missing value)."""


class JudgeReport(BaseModel):
    """The judge section of a report."""

    model_config = ConfigDict(frozen=True)

    judgments: int
    """All judgments."""
    judge_errors: int
    """Judgments without a verdict."""
    by_judge: list[JudgeStats]
    """Per judge, in the order first seen."""
    error_messages: dict[str, int]
    """Distinct judge error messages (first line, shortened) -> count, most frequent first."""
    jury: JuryAgreement | None
    """Agreement of a jury (two or more judges); None for a single judge."""
    pairwise: PairwiseStats | None
    """Position consistency, when pairwise comparisons are included."""


def judge_report(
    judgments: Iterable[StoredJudgment] = (), pairs: Iterable[PairRecord] = ()
) -> JudgeReport | None:
    """Summarise a run's judgments and/or pairwise comparisons; None when there are neither."""
    rows = [(j.subject, j.judgment) for j in judgments]
    pair_rows = list(pairs)
    for pair in pair_rows:
        key = f"{pair.run_a}|{pair.run_b}|{pair.item_id}|{pair.condition}|{pair.sample}|{pair.turn}"
        rows.append((f"{key}|ab", pair.judgment.ab))
        rows.append((f"{key}|ba", pair.judgment.ba))
    if not rows:
        return None
    per_judge: dict[str, list[Judgment]] = defaultdict(list)
    by_answer: dict[str, dict[str, Judgment]] = defaultdict(dict)
    errors: Counter[str] = Counter()
    for key, judgment in rows:
        per_judge[judgment.judge].append(judgment)
        by_answer[key][judgment.judge] = judgment
        if judgment.verdict is None and judgment.error:
            errors[full_message(judgment.error)] += 1
    stats = [
        JudgeStats(
            judge=judge,
            judgments=len(js),
            errors=sum(j.verdict is None for j in js),
            requests=sum(len(j.attempts) for j in js),
            retried=sum(len(j.attempts) > 1 for j in js),
            verdicts=dict(sorted(Counter(j.verdict.label for j in js if j.verdict).items())),
        )
        for judge, js in per_judge.items()
    ]
    return JudgeReport(
        judgments=len(rows),
        judge_errors=sum(s.errors for s in stats),
        by_judge=stats,
        error_messages=dict(errors.most_common()),
        jury=_jury(list(per_judge), by_answer),
        pairwise=_pairwise(pair_rows) if pair_rows else None,
    )


def _jury(judges: list[str], by_answer: dict[str, dict[str, Judgment]]) -> JuryAgreement | None:
    if len(judges) < 2:
        return None
    complete = [
        {j.verdict.label for j in row.values() if j.verdict is not None}
        for row in by_answer.values()
        if len(row) == len(judges) and all(j.verdict is not None for j in row.values())
    ]
    tables: dict[str, list[list[Verdict | None]]] = defaultdict(list)
    for row in by_answer.values():
        kind = next(iter(row.values())).kind
        tables[kind].append([row[judge].verdict if judge in row else None for judge in judges])
    return JuryAgreement(
        judges=tuple(judges),
        answers=len(complete),
        exact=sum(len(labels) == 1 for labels in complete) / len(complete) if complete else None,
        alpha={kind: agreement(table) for kind, table in sorted(tables.items())},
    )


def _pairwise(rows: list[PairRecord]) -> PairwiseStats:
    decided = [r for r in rows if r.judgment.outcome is not None]
    inconsistent = sum(r.judgment.consistent is False for r in decided)
    return PairwiseStats(
        comparisons=len(rows),
        decided=len(decided),
        inconsistent=inconsistent,
        inconsistency_rate=inconsistent / len(decided) if decided else None,
        outcomes=dict(sorted(Counter(str(r.judgment.outcome) for r in decided).items())),
    )
