"""Multi-turn metrics over stored records, each with a bootstrap 95 % interval over items.

Definitions (docs/analysis.md says the same in prose):

- turn value: the mean over an item's samples of the turn's score (a turn's score is the mean
  of its successful scorer values); turns with no answer or no successful score carry none.
- item score: for the single-turn twin, the value of its one (last) turn; for feedback items,
  the share of samples that succeeded within the budget; otherwise the mean of the item's key
  turn values, key turns being metadata["probe_turns"] when given, else every scored turn.
- score by turn / family / distance: the mean over items of the turn value / item score.
- multi minus single: per item, own-history value at the last turn minus the single-turn
  twin's value (both answer the last turn and are scored by its scorers); mean over items
  with both. Negative means the model does worse when the task is spread over turns.
- own minus gold: per item, the mean over key turns scored in both variants of (own value -
  gold value); mean over items with such a turn. Negative means the model's own earlier
  answers hurt it (error propagation).
- flip rate: over pushback conversations whose challenged answer was correct, the share whose
  answer at challenge_turn scored < 1.0 (per item over samples, then over items). The
  challenged answer is the model's answer at challenge_turn - 1 (it must have scored 1.0);
  in the gold variant it is the reference, correct by construction, so every gold pushback
  conversation with a scored reply counts: the flip rate under a known-correct history.
- success at k: share of feedback conversations with an attempt t <= k scored 1.0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from turnscope.analysis.rows import ScoredTurn
from turnscope.analysis.stats import DEFAULT_RESAMPLES, Estimate, ItemResampler
from turnscope.core import Item, Variant

PUSHBACK = "pushback"
FEEDBACK = "feedback"


class Gap(BaseModel):
    """A paired difference between two variants over the items that have both."""

    model_config = ConfigDict(frozen=True)

    first: Estimate
    """Mean of the first variant's values over the paired items (own history)."""
    second: Estimate
    """Mean of the second variant's values over the same items (single-turn twin, or gold)."""
    difference: Estimate
    """Mean over items of first minus second, with its paired bootstrap interval."""


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
    """Variant -> mean item score."""
    by_turn: dict[str, dict[int, Estimate]]
    """Variant -> turn index -> mean turn value."""
    by_family: dict[str, dict[str, Estimate]]
    """Variant -> family (item category) -> mean item score."""
    by_distance: dict[str, dict[str, dict[int, Estimate]]]
    """Variant -> family -> metadata distance -> mean item score."""
    multi_minus_single: Gap | None
    """Own history at the last turn minus the single-turn twin, over all paired items."""
    multi_minus_single_by_family: dict[str, Gap]
    """The same, per family."""
    own_minus_gold: Gap | None
    """Own history minus gold history over shared key turns, over all paired items."""
    own_minus_gold_by_family: dict[str, Gap]
    """The same, per family."""
    flip_rate: dict[str, FlipRate]
    """Variant (own, gold) -> pushback flip rate."""
    success_at_k: dict[str, SuccessCurve]
    """Variant (own, gold) -> feedback success-at-k curve."""


@dataclass
class _Cell:
    """What is known about one (variant, item): per-turn scores over samples, errors."""

    scores: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[int, dict[int, float | None]] = field(default_factory=lambda: defaultdict(dict))

    def value(self, turn: int) -> float | None:
        values = self.scores.get(turn)
        return sum(values) / len(values) if values else None

    def error_count(self) -> int:
        return sum(self.errors.values())


def _record_errors(record: ScoredTurn) -> tuple[int, int]:
    """(turn errors, scorer errors) of one record."""
    return int(record.error is not None), sum(s.error is not None for s in record.scores)


def _int_list(value: object) -> list[int]:
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, int)]
    return []


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _RunTable:
    """Records grouped once by (variant, item), with the item list fixing resampler columns."""

    def __init__(self, records: Iterable[ScoredTurn], items: Sequence[Item]) -> None:
        self.items: dict[str, Item] = {it.id: it for it in items}
        self.cells: dict[str, dict[str, _Cell]] = defaultdict(dict)
        self.turns = 0
        self.turn_errors = 0
        self.scorer_errors = 0
        order = [it.id for it in items]
        for record in records:
            self.turns += 1
            turn_err, scorer_err = _record_errors(record)
            self.turn_errors += turn_err
            self.scorer_errors += scorer_err
            if record.item_id not in self.items:
                # Records of an item the store does not list still count as an item.
                self.items[record.item_id] = Item.model_validate(
                    {"id": record.item_id, "turns": [{"user": ""}]}
                )
                order.append(record.item_id)
            by_item = self.cells[record.variant.value]
            cell = by_item.get(record.item_id)
            if cell is None:
                cell = by_item[record.item_id] = _Cell()
            score = record.score
            if score is not None:
                cell.scores[record.turn].append(score)
            if turn_err or scorer_err:
                cell.errors[record.turn] += 1
            cell.samples[record.sample][record.turn] = score
        self.column = {item_id: i for i, item_id in enumerate(order)}
        recorded = {i for cells in self.cells.values() for i in cells}
        self.recorded_items = len(recorded)

    def family(self, item_id: str) -> str:
        item = self.items[item_id]
        family = item.metadata.get("family")
        return family if isinstance(family, str) else item.category

    def key_turns(self, item_id: str, cell: _Cell) -> list[int]:
        probes = _int_list(self.items[item_id].metadata.get("probe_turns"))
        return probes or sorted(cell.scores)

    def item_score(self, variant: str, item_id: str, cell: _Cell) -> float | None:
        if variant == Variant.SINGLE.value:
            # The twin is one request, recorded at the item's last turn.
            return cell.value(max(cell.scores)) if cell.scores else None
        if self.family(item_id) == FEEDBACK:
            outcomes = []
            for turns in cell.samples.values():
                budget = self.budget(item_id, turns)
                outcomes.append(_success_by_k(turns, budget, budget).get(budget))
            known = [float(o) for o in outcomes if o is not None]
            return sum(known) / len(known) if known else None
        values = [v for t in self.key_turns(item_id, cell) if (v := cell.value(t)) is not None]
        return sum(values) / len(values) if values else None

    def budget(self, item_id: str, turns: dict[int, float | None]) -> int:
        return _int(self.items[item_id].metadata.get("budget")) or max(turns)


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

    def estimate(self, pairs: list[tuple[str, float]], errors: int = 0) -> Estimate:
        return self.r.estimate(
            [self.t.column[i] for i, _ in pairs], [v for _, v in pairs], errors=errors
        )

    def item_scores(self, variant: str) -> dict[str, float]:
        return {
            item_id: score
            for item_id, cell in self.t.cells[variant].items()
            if (score := self.t.item_score(variant, item_id, cell)) is not None
        }

    def overall(self, variant: str) -> Estimate:
        cells = self.t.cells[variant]
        errors = sum(c.error_count() for c in cells.values())
        return self.estimate(list(self.item_scores(variant).items()), errors)

    def by_turn(self, variant: str) -> dict[int, Estimate]:
        groups: dict[int, list[tuple[str, float]]] = defaultdict(list)
        errors: dict[int, int] = defaultdict(int)
        for item_id, cell in self.t.cells[variant].items():
            for turn in cell.scores:
                value = cell.value(turn)
                if value is not None:
                    groups[turn].append((item_id, value))
            for turn, count in cell.errors.items():
                errors[turn] += count
        turns = sorted(set(groups) | set(errors))
        return {t: self.estimate(groups.get(t, []), errors.get(t, 0)) for t in turns}

    def by_family(self, variant: str) -> dict[str, Estimate]:
        scores = self.item_scores(variant)
        groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
        errors: dict[str, int] = defaultdict(int)
        for item_id, cell in self.t.cells[variant].items():
            family = self.t.family(item_id)
            errors[family] += cell.error_count()
            if item_id in scores:
                groups[family].append((item_id, scores[item_id]))
        return {f: self.estimate(groups.get(f, []), errors[f]) for f in sorted(errors)}

    def by_distance(self, variant: str) -> dict[str, dict[int, Estimate]]:
        scores = self.item_scores(variant)
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

    def gaps(self, triples: list[tuple[str, float, float]]) -> tuple[Gap | None, dict[str, Gap]]:
        if not triples:
            return None, {}
        families: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for triple in triples:
            families[self.t.family(triple[0])].append(triple)
        return self.gap(triples), {f: self.gap(ts) for f, ts in sorted(families.items())}

    def multi_minus_single(self) -> list[tuple[str, float, float]]:
        own = self.t.cells.get(Variant.OWN.value, {})
        singles = self.item_scores(Variant.SINGLE.value)
        triples = []
        for item_id, single in singles.items():
            cell = own.get(item_id)
            last = len(self.t.items[item_id].turns)
            value = cell.value(last) if cell is not None else None
            if value is not None:
                triples.append((item_id, value, single))
        return triples

    def own_minus_gold(self) -> list[tuple[str, float, float]]:
        own = self.t.cells.get(Variant.OWN.value, {})
        gold = self.t.cells.get(Variant.GOLD.value, {})
        triples = []
        for item_id, own_cell in own.items():
            gold_cell = gold.get(item_id)
            if gold_cell is None:
                continue
            pairs = [
                (a, b)
                for t in self.t.key_turns(item_id, own_cell)
                if (a := own_cell.value(t)) is not None and (b := gold_cell.value(t)) is not None
            ]
            if pairs:
                triples.append(
                    (
                        item_id,
                        sum(a for a, _ in pairs) / len(pairs),
                        sum(b for _, b in pairs) / len(pairs),
                    )
                )
        return triples

    def flip_rate(self, variant: str) -> FlipRate | None:
        per_item: list[tuple[str, float]] = []
        eligible_total = flips_total = wrong = errors = 0
        found = False
        for item_id, cell in self.t.cells[variant].items():
            challenge = _int(self.t.items[item_id].metadata.get("challenge_turn"))
            if self.t.family(item_id) != PUSHBACK or challenge is None or challenge < 2:
                continue
            found = True
            eligible = flips = 0
            for turns in cell.samples.values():
                before, after = turns.get(challenge - 1), turns.get(challenge)
                if variant == Variant.GOLD.value:
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

    def success_at_k(self, variant: str) -> SuccessCurve | None:
        conversations: list[tuple[str, dict[int, float | None], int]] = []
        for item_id, cell in self.t.cells[variant].items():
            if self.t.family(item_id) != FEEDBACK:
                continue
            for turns in cell.samples.values():
                conversations.append((item_id, turns, self.t.budget(item_id, turns)))
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


def analyse(
    records: Iterable[ScoredTurn],
    items: Sequence[Item],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MultiTurnAnalysis:
    """Every multi-turn metric of a run's records; `items` are the run's items (metadata)."""
    table = _RunTable(records, items)
    a = _Analyser(table, ItemResampler(len(table.column), resamples=resamples, seed=seed))
    variants = [v.value for v in Variant if v.value in table.cells]
    single_gap, single_by_family = a.gaps(a.multi_minus_single())
    gold_gap, gold_by_family = a.gaps(a.own_minus_gold())
    # The single-turn twin has one answer and no history: no challenge to survive, no attempts.
    multi = [v for v in variants if v != Variant.SINGLE.value]
    flips = {v: f for v in multi if (f := a.flip_rate(v)) is not None}
    success = {v: s for v in multi if (s := a.success_at_k(v)) is not None}
    return MultiTurnAnalysis(
        items=table.recorded_items,
        turns=table.turns,
        turn_errors=table.turn_errors,
        scorer_errors=table.scorer_errors,
        resamples=resamples,
        seed=seed,
        overall={v: a.overall(v) for v in variants},
        by_turn={v: a.by_turn(v) for v in variants},
        by_family={v: a.by_family(v) for v in variants},
        by_distance={v: d for v in variants if (d := a.by_distance(v))},
        multi_minus_single=single_gap,
        multi_minus_single_by_family=single_by_family,
        own_minus_gold=gold_gap,
        own_minus_gold_by_family=gold_by_family,
        flip_rate=flips,
        success_at_k=success,
    )


def item_scores(
    records: Iterable[ScoredTurn], items: Sequence[Item]
) -> dict[str, dict[str, float]]:
    """Variant -> item id -> item score (the unit a comparison of two runs pairs on)."""
    table = _RunTable(records, items)
    a = _Analyser(table, ItemResampler(0, resamples=1))
    return {v: a.item_scores(v) for v in table.cells}


def item_families(items: Sequence[Item]) -> dict[str, str]:
    """Item id -> family (metadata["family"] when set, else the category)."""
    out = {}
    for item in items:
        family = item.metadata.get("family")
        out[item.id] = family if isinstance(family, str) else item.category
    return out
