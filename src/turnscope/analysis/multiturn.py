"""Multi-turn metrics over stored records, each with a bootstrap 95 % interval over items.

Definitions (docs/analysis.md says the same in prose). Everything that depends on the shape of
a conversation is asked of the item's protocol (turnscope.protocols):

- turn value: the mean over an item's samples of the turn's score (a turn's score is the mean
  of its scorer values; None when a scorer failed or the turn has no answer).
- conversation score: the protocol's `conversation_score` of one played conversation: for
  scripted ones the mean of the key turns (metadata["probe_turns"] when given, else every
  scored turn; the single-turn twin: its one answer), or their minimum for items whose
  metadata says "aggregate": "min" (MT-Bench-101), for feedback ones 1 if solved within the
  budget; None when a key turn failed, so a failure never raises a score.
- item score: the mean over samples of the conversation scores that are known; items without
  one are counted as errors beside the figure, never as a value.
- score by turn: at each turn, the mean turn value over the items whose key turns include it
  (a distractor turn is not in the curve).
- score by family / distance: the mean over items of the item score.
- gaps: each protocol declares paired differences between its conditions (scripted: multi −
  single, own − gold, own − user-only, restated − own); per item, first condition's item score
  (or its value at the item's last turn, for multi − single) minus the second's; mean over
  items with both.
- flip rate: over pushback conversations whose challenged answer was correct, the share whose
  answer at challenge_turn scored < 1.0 (per item over samples, then over items). The
  challenged answer is the model's answer at challenge_turn - 1 (it must have scored 1.0);
  under a condition whose history holds reference answers (gold) it is the reference, correct
  by construction, so every such conversation with a scored reply counts. Conditions whose
  history holds no earlier answer (single, user-only) have no flip rate.
- success at k: for items whose protocol gives an attempt budget (feedback), the share of
  conversations with an attempt t <= k scored 1.0.
- aptitude and unreliability (Laban et al. 2025), with several samples: per item, the 90th
  percentile of its conversation scores over samples, and the 90th minus the 10th
  percentile (numpy's linear interpolation); mean over the items with at least two known
  conversation scores.
- spoilt conversations: a conversation any of whose records (any role) carries the flag
  "spoilt" (a simulated user leaked the answer, failed, broke the release rule ...) is left
  out of every figure above and counted per condition; serving roles' records, errors and
  audit findings ("sim:*" flags) are counted apart from the target's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict

from turnscope.analysis.rows import ScoredTurn, ServingTurn
from turnscope.analysis.stats import DEFAULT_RESAMPLES, Estimate, ItemResampler
from turnscope.core import Item
from turnscope.protocols import (
    FINDING_PREFIX,
    SPOILT,
    ConditionGap,
    ConversationProtocol,
    get_protocol,
    known_conditions,
)

PUSHBACK = "pushback"


class Gap(BaseModel):
    """A paired difference between two conditions over the items that have both."""

    model_config = ConfigDict(frozen=True)

    first: Estimate
    """Mean of the first condition's values over the paired items."""
    second: Estimate
    """Mean of the second condition's values over the same items."""
    difference: Estimate
    """Mean over items of first minus second, with its paired bootstrap interval."""


class GapReport(BaseModel):
    """One declared gap: what it compares, overall and per family."""

    model_config = ConfigDict(frozen=True)

    spec: ConditionGap
    """What the gap compares, as its protocol declares it."""
    overall: Gap
    """Over every paired item."""
    by_family: dict[str, Gap]
    """Per family (item category)."""


class FlipRate(BaseModel):
    """Pushback: how often a correct answer is abandoned once the user disputes it."""

    model_config = ConfigDict(frozen=True)

    rate: Estimate
    """Mean over items of the per-item share of flipped conversations."""
    conversations: int
    """Conversations whose challenged answer was correct (the denominator)."""
    flips: int
    """Of those, conversations whose answer after the challenge scored < 1.0."""
    challenged_wrong: int
    """Conversations left out because the challenged answer was already wrong."""
    errors: int
    """Conversations left out because the challenged answer or the reply failed to score."""


class SuccessCurve(BaseModel):
    """Feedback: success within k attempts, for every k up to the largest budget."""

    model_config = ConfigDict(frozen=True)

    by_k: dict[int, Estimate]
    """k -> mean over items of the share of conversations solved by attempt k."""
    conversations: int
    """Feedback conversations with at least one recorded attempt."""
    errors: int
    """Conversations whose outcome is unknown from some k on: an attempt failed to score
    (turn or scorer error) or is missing (the run was cut short)."""


class ServingStats(BaseModel):
    """A serving role's records in a run (a simulated user's messages), apart from the
    target's."""

    model_config = ConfigDict(frozen=True)

    records: int
    """Records the role wrote."""
    errors: int
    """Of those, records without an answer (the role's model failed)."""
    flagged: int
    """Of those, records with an audit finding."""


class MultiTurnAnalysis(BaseModel):
    """Every multi-turn figure of a run; empty sections mean the run has no such data."""

    model_config = ConfigDict(frozen=True)

    items: int
    """Items with at least one recorded turn."""
    turns: int
    """Turn records analysed."""
    turn_errors: int
    """Turns with no answer (model failures); never counted as a score."""
    scorer_errors: int
    """Scores that failed; never counted as a value."""
    resamples: int
    """Bootstrap resamples behind every interval."""
    seed: int
    """Seed of the bootstrap resamples."""
    overall: dict[str, Estimate]
    """Condition -> mean item score."""
    by_turn: dict[str, dict[int, Estimate]]
    """Condition -> turn index -> mean turn value over the items for which it is a key turn."""
    by_family: dict[str, dict[str, Estimate]]
    """Condition -> family (item category) -> mean item score."""
    by_distance: dict[str, dict[str, dict[int, Estimate]]]
    """Condition -> family -> metadata distance -> mean item score."""
    gaps: dict[str, GapReport]
    """Gap name ("multi − single", "own − gold" ...) -> the paired difference, for every gap
    the run's protocols declare whose two conditions were both played."""
    flip_rate: dict[str, FlipRate]
    """Condition (own, gold ...) -> pushback flip rate."""
    success_at_k: dict[str, SuccessCurve]
    """Condition -> success-at-k curve of the items played as attempts at one task."""
    aptitude: dict[str, Estimate] = {}
    """Condition -> mean over items of the 90th percentile of an item's conversation scores
    over samples (items with at least two samples scored)."""
    unreliability: dict[str, Estimate] = {}
    """Condition -> mean over items of the 90th minus the 10th percentile of those scores."""
    spoilt: dict[str, int] = {}
    """Condition -> conversations a serving role spoilt (flag "spoilt"): left out of every
    score above, never counted as the target's failure."""
    findings: dict[str, int] = {}
    """Audit finding ("sim:leak", "sim:repeat" ...) -> records flagged with it, every role."""
    serving: dict[str, ServingStats] = {}
    """Serving role -> its records, errors and flagged records."""

    def gap(self, name: str) -> Gap | None:
        """The overall difference of gap `name`, if the run has it."""
        report = self.gaps.get(name)
        return report.overall if report is not None else None


@dataclass
class _Cell:
    """What is known about one (condition, item): per-turn scores over samples, errors."""

    scores: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[int, dict[int, float | None]] = field(default_factory=lambda: defaultdict(dict))
    """Sample -> turn -> score, None for a turn that failed; turns with nothing to score
    (no scorer, no instruction in force) are absent."""

    def value(self, turn: int) -> float | None:
        values = self.scores.get(turn)
        return sum(values) / len(values) if values else None

    def error_count(self) -> int:
        return sum(self.errors.values())


def _record_errors(record: ScoredTurn) -> tuple[int, int]:
    """(turn errors, scorer errors) of one record."""
    return int(record.error is not None), sum(s.error is not None for s in record.scores)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _RunTable:
    """Records grouped once by (condition, item), with the item list fixing resampler columns."""

    def __init__(
        self,
        records: Iterable[ScoredTurn],
        items: Sequence[Item],
        serving: Iterable[ServingTurn] = (),
    ) -> None:
        self.items: dict[str, Item] = {it.id: it for it in items}
        self.cells: dict[str, dict[str, _Cell]] = defaultdict(dict)
        self.turns = 0
        self.turn_errors = 0
        self.scorer_errors = 0
        order = [it.id for it in items]
        rows = list(records)
        others = list(serving)
        flagged: list[ScoredTurn | ServingTurn] = [r for r in rows if r.flags]
        flagged.extend(r for r in others if r.flags)
        self.spoilt = {(r.item_id, r.condition, r.sample) for r in flagged if SPOILT in r.flags}
        self.findings = Counter(f for r in flagged for f in r.flags if f.startswith(FINDING_PREFIX))
        self.serving = _serving_stats(others)
        for record in rows:
            self.turns += 1
            turn_err, scorer_err = _record_errors(record)
            self.turn_errors += turn_err
            self.scorer_errors += scorer_err
            if (record.item_id, record.condition, record.sample) in self.spoilt:
                continue  # not the target's doing: counted apart, never scored
            if record.item_id not in self.items:
                # Records of an item the store does not list still count as an item.
                self.items[record.item_id] = Item.model_validate(
                    {"id": record.item_id, "turns": [{"user": ""}]}
                )
                order.append(record.item_id)
            by_item = self.cells[record.condition]
            cell = by_item.get(record.item_id)
            if cell is None:
                cell = by_item[record.item_id] = _Cell()
            score = record.score
            if score is not None:
                cell.scores[record.turn].append(score)
            if turn_err or scorer_err:
                cell.errors[record.turn] += 1
                cell.samples[record.sample][record.turn] = None
            elif score is not None:
                cell.samples[record.sample][record.turn] = score
        self.column = {item_id: i for i, item_id in enumerate(order)}
        recorded = {i for cells in self.cells.values() for i in cells}
        self.recorded_items = len(recorded)
        # The figures ask for the same item's scores again and again (overall, by family, by
        # distance, gaps, spread): each is worked out once, the cells being complete here.
        self._known: dict[tuple[str, str], list[float]] = {}

    def protocol(self, item_id: str) -> ConversationProtocol:
        return get_protocol(self.items[item_id].protocol)

    def family(self, item_id: str) -> str:
        return self.items[item_id].family

    def key_turns(self, condition: str, item_id: str) -> tuple[int, ...] | None:
        """The turns whose scores make up the item's conversation score (None: every one)."""
        return self.protocol(item_id).key_turns(self.items[item_id], condition)

    def conversation_scores(self, condition: str, item_id: str, cell: _Cell) -> list[float]:
        """The known scores of the item's played conversations, one per sample (`cell` is the
        table's own cell of the condition and item). Read them, never change them."""
        known = self._known.get((condition, item_id))
        if known is None:
            item = self.items[item_id]
            protocol = self.protocol(item_id)
            known = self._known[condition, item_id] = [
                score
                for turns in cell.samples.values()
                if (score := protocol.conversation_score(item, condition, turns)) is not None
            ]
        return known

    def item_score(self, condition: str, item_id: str, cell: _Cell) -> float | None:
        """Mean over samples of the known conversation scores (None when none is known)."""
        known = self.conversation_scores(condition, item_id, cell)
        return sum(known) / len(known) if known else None

    def spoilt_by_condition(self) -> dict[str, int]:
        counts = Counter(condition for _, condition, _ in self.spoilt)
        return {c: counts[c] for c in ordered_conditions(counts)}


def _serving_stats(rows: Sequence[ServingTurn]) -> dict[str, ServingStats]:
    by_role: dict[str, list[ServingTurn]] = defaultdict(list)
    for row in rows:
        by_role[row.role].append(row)
    return {
        role: ServingStats(
            records=len(group),
            errors=sum(r.error is not None for r in group),
            flagged=sum(any(f.startswith(FINDING_PREFIX) for f in r.flags) for r in group),
        )
        for role, group in sorted(by_role.items())
    }


def _success_by_k(turns: dict[int, float | None], budget: int, k_max: int) -> dict[int, bool]:
    """k -> solved by attempt k, for each k in 1..k_max whose outcome is known.

    Attempts stop at the first success or at the budget, so past the budget the outcome stays
    what it was at the budget. An attempt with no score (a turn or scorer failure), or missing
    because the conversation was cut short, leaves that k and every later one unknown."""
    known: dict[int, bool] = {}
    solved = False
    for k in range(1, k_max + 1):
        if not solved and k <= budget:
            score = turns.get(k)
            if score is None:
                break
            solved = score == 1.0
        known[k] = solved
    return known


class _Analyser:
    def __init__(self, table: _RunTable, resampler: ItemResampler) -> None:
        self.t = table
        self.r = resampler
        self._item_scores: dict[str, dict[str, float]] = {}

    def estimate(self, pairs: list[tuple[str, float]], errors: int = 0) -> Estimate:
        return self.r.estimate(
            [self.t.column[i] for i, _ in pairs], [v for _, v in pairs], errors=errors
        )

    def item_scores(self, condition: str) -> dict[str, float]:
        """Item id -> item score under `condition`; worked out once (read it, never change
        it)."""
        scores = self._item_scores.get(condition)
        if scores is None:
            scores = self._item_scores[condition] = {
                item_id: score
                for item_id, cell in self.t.cells[condition].items()
                if (score := self.t.item_score(condition, item_id, cell)) is not None
            }
        return scores

    def overall(self, condition: str) -> Estimate:
        cells = self.t.cells[condition]
        errors = sum(c.error_count() for c in cells.values())
        return self.estimate(list(self.item_scores(condition).items()), errors)

    def by_turn(self, condition: str) -> dict[int, Estimate]:
        groups: dict[int, list[tuple[str, float]]] = defaultdict(list)
        errors: dict[int, int] = defaultdict(int)
        for item_id, cell in self.t.cells[condition].items():
            # Key turns only: a distractor turn's score says nothing about the family's
            # measure, and mixing both made the curve rise and fall with the suite's layout.
            keys = self.t.key_turns(condition, item_id)
            for turn in cell.scores:
                value = cell.value(turn)
                if value is not None and (keys is None or turn in keys):
                    groups[turn].append((item_id, value))
            for turn, count in cell.errors.items():
                if keys is None or turn in keys:
                    errors[turn] += count
        turns = sorted(set(groups) | set(errors))
        return {t: self.estimate(groups.get(t, []), errors.get(t, 0)) for t in turns}

    def by_family(self, condition: str) -> dict[str, Estimate]:
        scores = self.item_scores(condition)
        groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        for item_id, cell in self.t.cells[condition].items():
            family = self.t.family(item_id)
            errors[family] += cell.error_count()
            if item_id in scores:
                groups[family].append((item_id, scores[item_id]))
        return {f: self.estimate(groups.get(f, []), errors[f]) for f in sorted(errors)}

    def by_distance(self, condition: str) -> dict[str, dict[int, Estimate]]:
        scores = self.item_scores(condition)
        groups: dict[str, dict[int, list[tuple[str, float]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for item_id, score in scores.items():
            distance = _int(self.t.items[item_id].metadata.get("distance"))
            if distance is not None:
                groups[self.t.family(item_id)][distance].append((item_id, score))
        return {
            f: {d: self.estimate(pairs) for d, pairs in sorted(ds.items())}
            for f, ds in sorted(groups.items())
        }

    def gap(self, triples: list[tuple[str, float, float]]) -> Gap:
        return Gap(
            first=self.estimate([(i, a) for i, a, _ in triples]),
            second=self.estimate([(i, b) for i, _, b in triples]),
            difference=self.estimate([(i, a - b) for i, a, b in triples]),
        )

    def gap_report(self, spec: ConditionGap) -> GapReport | None:
        triples = self.gap_triples(spec)
        if not triples:
            return None
        families: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for triple in triples:
            families[self.t.family(triple[0])].append(triple)
        return GapReport(
            spec=spec,
            overall=self.gap(triples),
            by_family={f: self.gap(ts) for f, ts in sorted(families.items())},
        )

    def gap_triples(self, spec: ConditionGap) -> list[tuple[str, float, float]]:
        """(item, first value, second value) for the items of a declaring protocol that have
        both."""
        first_cells = self.t.cells.get(spec.first, {})
        second = self.item_scores(spec.second)
        firsts = self.item_scores(spec.first)
        triples = []
        for item_id, second_value in second.items():
            if spec not in self.t.protocol(item_id).gaps:
                continue
            if spec.first_at_last_turn:
                cell = first_cells.get(item_id)
                value = cell.value(len(self.t.items[item_id].turns)) if cell else None
            else:
                value = firsts.get(item_id)
            if value is not None:
                triples.append((item_id, value, second_value))
        return triples

    def spread(self, condition: str) -> tuple[Estimate, Estimate] | None:
        """(aptitude, unreliability) over the items with two or more scored samples."""
        tops: list[tuple[str, float]] = []
        ranges: list[tuple[str, float]] = []
        for item_id, cell in self.t.cells[condition].items():
            known = self.t.conversation_scores(condition, item_id, cell)
            if len(known) < 2:
                continue
            low, high = np.percentile(np.asarray(known, dtype=np.float64), [10, 90])
            tops.append((item_id, float(high)))
            ranges.append((item_id, float(high - low)))
        if not tops:
            return None
        return self.estimate(tops), self.estimate(ranges)

    def flip_rate(self, condition: str) -> FlipRate | None:
        per_item: list[tuple[str, float]] = []
        eligible_total = flips_total = wrong = errors = 0
        found = False
        for item_id, cell in self.t.cells[condition].items():
            challenge = _int(self.t.items[item_id].metadata.get("challenge_turn"))
            if self.t.family(item_id) != PUSHBACK or challenge is None or challenge < 2:
                continue
            answers = self.t.protocol(item_id).history_answers(condition)
            if answers == "none":
                continue
            found = True
            eligible = flips = 0
            for turns in cell.samples.values():
                before, after = turns.get(challenge - 1), turns.get(challenge)
                if answers == "reference":
                    # The history holds the reference there, not the model's answer.
                    before = 1.0
                if before is None:
                    errors += 1
                elif before < 1.0:
                    wrong += 1
                elif after is None:
                    errors += 1
                else:
                    eligible += 1
                    flips += after < 1.0
            if eligible:
                per_item.append((item_id, flips / eligible))
            eligible_total += eligible
            flips_total += flips
        if not found:
            return None
        return FlipRate(
            rate=self.estimate(per_item),
            conversations=eligible_total,
            flips=flips_total,
            challenged_wrong=wrong,
            errors=errors,
        )

    def success_at_k(self, condition: str) -> SuccessCurve | None:
        conversations: list[tuple[str, dict[int, float | None], int]] = []
        for item_id, cell in self.t.cells[condition].items():
            budget = self.t.protocol(item_id).attempt_budget(self.t.items[item_id])
            if budget is None:
                continue
            for turns in cell.samples.values():
                conversations.append((item_id, turns, budget))
        if not conversations:
            return None
        k_max = max(b for _, _, b in conversations)
        solved: dict[int, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        errors = 0
        for item_id, turns, budget in conversations:
            known = _success_by_k(turns, budget, k_max)
            errors += len(known) < k_max
            for k, ok in known.items():
                solved[k][item_id].append(ok)
        by_k = {
            k: self.estimate([(i, sum(v) / len(v)) for i, v in solved.get(k, {}).items()])
            for k in range(1, k_max + 1)
        }
        return SuccessCurve(by_k=by_k, conversations=len(conversations), errors=errors)


def ordered_conditions(conditions: Iterable[str]) -> list[str]:
    """Conditions in the order the protocols register them (own, gold, single ...), unknown
    ones (from a plugin no longer installed) last."""
    present = set(conditions)
    known = [c for c in known_conditions() if c in present]
    return known + sorted(present - set(known))


def _declared_gaps(table: _RunTable) -> list[ConditionGap]:
    """Every gap the protocols of the run's items declare, in declaration order."""
    gaps: dict[str, ConditionGap] = {}
    for item_id in table.column:
        for spec in table.protocol(item_id).gaps:
            gaps.setdefault(spec.name, spec)
    return list(gaps.values())


def analyse(
    records: Iterable[ScoredTurn],
    items: Sequence[Item],
    *,
    serving: Iterable[ServingTurn] = (),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MultiTurnAnalysis:
    """Every multi-turn metric of a run's target records; `items` are the run's items
    (metadata), `serving` the serving roles' records (simulated users: errors, audit flags)."""
    table = _RunTable(records, items, serving)
    a = _Analyser(table, ItemResampler(len(table.column), resamples=resamples, seed=seed))
    conditions = ordered_conditions(table.cells)
    gaps = {g.name: r for g in _declared_gaps(table) if (r := a.gap_report(g)) is not None}
    flips = {c: f for c in conditions if (f := a.flip_rate(c)) is not None}
    success = {c: s for c in conditions if (s := a.success_at_k(c)) is not None}
    spreads = {c: sp for c in conditions if (sp := a.spread(c)) is not None}
    return MultiTurnAnalysis(
        items=table.recorded_items,
        turns=table.turns,
        turn_errors=table.turn_errors,
        scorer_errors=table.scorer_errors,
        resamples=resamples,
        seed=seed,
        overall={c: a.overall(c) for c in conditions},
        by_turn={c: a.by_turn(c) for c in conditions},
        by_family={c: a.by_family(c) for c in conditions},
        by_distance={c: d for c in conditions if (d := a.by_distance(c))},
        gaps=gaps,
        flip_rate=flips,
        success_at_k=success,
        aptitude={c: sp[0] for c, sp in spreads.items()},
        unreliability={c: sp[1] for c, sp in spreads.items()},
        spoilt=table.spoilt_by_condition(),
        findings=dict(table.findings.most_common()),
        serving=table.serving,
    )


def item_scores(
    records: Iterable[ScoredTurn], items: Sequence[Item], serving: Iterable[ServingTurn] = ()
) -> dict[str, dict[str, float]]:
    """Condition -> item id -> item score (the unit a comparison of two runs pairs on);
    conversations a serving role spoilt are left out."""
    table = _RunTable(records, items, serving)
    a = _Analyser(table, ItemResampler(0, resamples=1))
    return {c: a.item_scores(c) for c in table.cells}


class HeadlineScore(BaseModel):
    """A condition's headline as a run's meta keeps it for `turnscope runs`: the score per
    conversation (key turns), mean over items."""

    model_config = ConfigDict(frozen=True)

    mean: float | None
    """Mean item score; None when no item has one."""
    n: int
    """Items with a score."""


def headline_scores(analysis: MultiTurnAnalysis) -> dict[str, HeadlineScore]:
    """Condition -> the headline of an analysed run (its `overall`, without the interval)."""
    return {c: HeadlineScore(mean=e.mean, n=e.n) for c, e in analysis.overall.items()}


def quick_headline_scores(
    records: Iterable[ScoredTurn], items: Sequence[Item], serving: Iterable[ServingTurn] = ()
) -> dict[str, HeadlineScore]:
    """The same figures as `headline_scores(analyse(...))` with no bootstrap, for a run whose
    meta lacks them (played before they were stored)."""
    scores = item_scores(records, items, serving)
    return {
        c: HeadlineScore(mean=sum(v.values()) / len(v) if v else None, n=len(v))
        for c in ordered_conditions(scores)
        for v in (scores[c],)
    }


def item_families(items: Sequence[Item]) -> dict[str, str]:
    """Item id -> family (metadata["family"] when set, else the category)."""
    return {item.id: item.family for item in items}
