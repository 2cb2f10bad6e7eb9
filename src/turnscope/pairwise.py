"""Pairwise judging between runs and Bradley–Terry leaderboards: the Python API behind
`turnscope pairwise` and `turnscope leaderboard`.

Two runs are compared on every turn both answered for the same item, condition and sample.
Each judge sees the two answers in both orders; a verdict that flips with the order is a tie
and counts as position-inconsistent. Comparisons are stored in `pairwise.sqlite` under the
runs directory and reused; the judge requests behind them are in the shared response cache,
so asking again (a leaderboard over runs already compared) costs no judge call."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from turnscope.analysis.ratings import PairOutcome, Rating, bradley_terry
from turnscope.core import Condition, Item, JudgeSettings, Message, TurnRecord
from turnscope.engine import Judge, judge_pair
from turnscope.engine.judging import judge_input, judge_specs
from turnscope.protocols import get_protocol
from turnscope.scorers.judges import JudgeParams, Verdict, aggregate, judge_kind
from turnscope.store import PairRecord, PairwiseStore, RunStore

PAIRWISE_KIND = "pairwise"


@dataclass(frozen=True)
class PairTarget:
    """One turn both runs answered: what the judge compares."""

    item: Item
    condition: Condition
    sample: int
    turn: int
    answer_a: str
    answer_b: str
    history: tuple[Message, ...]
    """The history that favours neither run (the protocol's shared history)."""
    own_history_a: tuple[Message, ...]
    """The history run A's answer was given to (its own earlier answers)."""
    own_history_b: tuple[Message, ...]
    """The history run B's answer was given to."""


def run_name(store: RunStore) -> str:
    """How a run is named in comparisons and ratings: its directory name."""
    return store.run_dir.name


def pair_targets(store_a: RunStore, store_b: RunStore) -> tuple[list[PairTarget], int]:
    """Turns answered in both runs, and how many items of the first run the second lacks
    or defines differently (those are not compared)."""
    items_b = {item.id: item for item in store_b.items()}
    targets: list[PairTarget] = []
    skipped = 0
    for item in store_a.items():
        if items_b.get(item.id) != item:
            skipped += 1
            continue
        records_a = _by_conversation(store_a.records(item_id=item.id))
        records_b = _by_conversation(store_b.records(item_id=item.id))
        protocol = get_protocol(item.protocol)
        for (condition, sample), turns_a in records_a.items():
            turns_b = records_b.get((condition, sample), {})
            for turn, record_a in sorted(turns_a.items()):
                record_b = turns_b.get(turn)
                if record_a.response is None or record_b is None or record_b.response is None:
                    continue
                targets.append(
                    PairTarget(
                        item,
                        condition,
                        sample,
                        turn,
                        record_a.response,
                        record_b.response,
                        protocol.shared_history(item, condition, turns_a, turn),
                        protocol.history(item, condition, turns_a, turn),
                        protocol.history(item, condition, turns_b, turn),
                    )
                )
    return targets, skipped


def _by_conversation(
    records: Iterable[TurnRecord],
) -> dict[tuple[Condition, int], dict[int, TurnRecord]]:
    grouped: dict[tuple[Condition, int], dict[int, TurnRecord]] = {}
    for record in records:
        grouped.setdefault((record.condition, record.sample), {})[record.turn] = record
    return grouped


def scored_turn(target: PairTarget) -> int:
    """The item turn whose judging criteria and reference apply to a compared turn."""
    item = target.item
    return get_protocol(item.protocol).scored_turn(item, target.condition, target.turn)


def pair_params(item: Item, turn: int) -> JudgeParams:
    """The judging criteria of item turn `turn`: its first deferred spec's guidance and
    reference setting, or the defaults when the turn has none."""
    specs = judge_specs(item, turn)
    return specs[0][1] if specs else JudgeParams()


@dataclass
class PairwiseResult:
    """Two runs compared: every stored comparison and counts of what this call did."""

    run_a: str
    run_b: str
    records: list[PairRecord] = field(default_factory=list)
    skipped_items: int = 0
    """Items of one run missing from, or defined differently in, the other."""
    reused: int = 0
    """Comparisons found in the pairwise store (not asked again)."""

    def count(self, outcome: str) -> int:
        return sum(r.judgment.outcome == outcome for r in self.records)

    @property
    def inconsistent(self) -> int:
        """Comparisons whose verdict flipped with the order (counted as ties)."""
        return sum(r.judgment.consistent is False for r in self.records)

    @property
    def errors(self) -> int:
        """Comparisons without an outcome (a judge gave no parseable verdict in some order)."""
        return sum(r.judgment.outcome is None for r in self.records)


async def judge_runs(
    store_a: RunStore,
    store_b: RunStore,
    judges: Sequence[Judge],
    settings: JudgeSettings,
    pairs: PairwiseStore,
    *,
    on_pair: Callable[[PairRecord], None] | None = None,
) -> PairwiseResult:
    """Compare two runs turn by turn with every judge, in both orders. Comparisons already in
    `pairs` (same judge model) are reused, so an interrupted call continues where it stopped."""
    first, second = sorted((store_a, store_b), key=run_name)
    result = PairwiseResult(run_name(first), run_name(second))
    targets, result.skipped_items = pair_targets(first, second)
    stored = {
        (r.item_id, r.condition, r.sample, r.turn, r.judge): r
        for r in pairs.records(result.run_a, result.run_b)
    }

    async def compare(target: PairTarget, judge: Judge) -> PairRecord:
        turn = scored_turn(target)
        params = pair_params(target.item, turn)
        kind = judge_kind(params.pairwise_kind(), params)
        reference = target.item.turns[turn - 1].reference
        own_a, own_b = target.own_history_a, target.own_history_b
        ab = judge_input(
            params, target.history, target.answer_a, reference, target.answer_b, (own_a, own_b)
        )
        ba = judge_input(
            params, target.history, target.answer_b, reference, target.answer_a, (own_b, own_a)
        )
        found = stored.get(
            (target.item.id, target.condition, target.sample, target.turn, judge.spec)
        )
        if (
            found is not None
            and judge.reusable(found.judgment.ab, kind, ab, settings.seed)
            and judge.reusable(found.judgment.ba, kind, ba, settings.seed)
        ):
            result.reused += 1
            return found
        judgment = await judge_pair(judge, kind, ab, ba, settings)
        record = PairRecord(
            run_a=result.run_a,
            run_b=result.run_b,
            item_id=target.item.id,
            condition=target.condition,
            sample=target.sample,
            turn=target.turn,
            judge=judge.spec,
            judgment=judgment,
        )
        pairs.commit(record)
        if on_pair is not None:
            on_pair(record)
        return record

    result.records = list(await asyncio.gather(*(compare(t, j) for t in targets for j in judges)))
    return result


def outcomes(results: Sequence[PairwiseResult]) -> list[PairOutcome]:
    """Rating input: one outcome per compared turn. With a jury, the turn's outcome is the
    majority of its judges' outcomes (a split jury is a tie), so a turn weighs the same
    whatever the number of judges; judges without an outcome are left out."""
    verdicts: dict[tuple[str, str, str, str, int, int], list[Verdict]] = {}
    for result in results:
        for r in result.records:
            if r.judgment.outcome is not None:
                key = (r.run_a, r.run_b, r.item_id, r.condition, r.sample, r.turn)
                verdicts.setdefault(key, []).append(
                    Verdict(kind=PAIRWISE_KIND, winner=r.judgment.outcome)
                )
    found = []
    for (run_a, run_b, item_id, _, _, turn), jury in verdicts.items():
        winner = aggregate(jury, "majority").winner
        assert winner is not None
        found.append(
            PairOutcome(item_id=item_id, turn=turn, model_a=run_a, model_b=run_b, outcome=winner)
        )
    return found


@dataclass
class Leaderboard:
    """Ratings of several runs from pairwise comparisons of every pair."""

    ratings: list[Rating]
    pairs: list[PairwiseResult]


async def compare_all(
    stores: Sequence[RunStore],
    judges: Sequence[Judge],
    settings: JudgeSettings,
    pairs: PairwiseStore,
    *,
    on_pair: Callable[[PairRecord], None] | None = None,
) -> list[PairwiseResult]:
    """Compare every pair of runs (reusing stored comparisons), in run-name order."""
    ordered = sorted(stores, key=run_name)
    return [
        await judge_runs(a, b, judges, settings, pairs, on_pair=on_pair)
        for a, b in itertools.combinations(ordered, 2)
    ]


def rate(
    results: Sequence[PairwiseResult], runs: Sequence[str], *, bootstrap: int = 1000, seed: int = 0
) -> list[Rating]:
    """Bradley–Terry ratings of `runs` (names) with bootstrap intervals over items; raises
    RatingError when the comparisons cannot rate them (none decided, a run never compared)."""
    return bradley_terry(outcomes(results), bootstrap=bootstrap, seed=seed, models=runs)


async def leaderboard(
    stores: Sequence[RunStore],
    judges: Sequence[Judge],
    settings: JudgeSettings,
    pairs: PairwiseStore,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
) -> Leaderboard:
    """Compare every pair of runs and rate them."""
    results = await compare_all(stores, judges, settings, pairs)
    names = sorted(run_name(s) for s in stores)
    return Leaderboard(rate(results, names, bootstrap=bootstrap, seed=seed), results)
