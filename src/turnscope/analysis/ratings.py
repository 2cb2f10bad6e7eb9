"""Bradley–Terry ratings from pairwise verdicts, with bootstrap intervals over items.

Model: P(i beats j) = p_i / (p_i + p_j), p_i = exp(theta_i). The strengths maximise the
likelihood of the observed verdicts and the prior games below (the fixed point of Zermelo's
iteration, Hunter 2004, "MM algorithms for generalized Bradley-Terry models"); they are found by
Newton–Raphson, as for a logistic regression, which converges in a handful of steps where
Zermelo's iteration crawls along the direction the weak prior barely pins down.
A tie counts as half a win for each side: it pulls the two strengths together and adds one
comparison.

Each model also plays `prior` virtual games, half won and half lost, against a fixed player of
strength 1 (the average). Without it a model that wins (or loses) every comparison, in the data
or in a bootstrap resample, has no finite maximum-likelihood strength; with it every strength
is finite and the effect fades as real comparisons accumulate (one virtual game against
hundreds of real ones).

Ratings are on an Elo-like scale: 400 * log10(p_i), shifted so that the mean over models is
1000; a 400-point gap means 10:1 odds. Intervals are percentile intervals (95 %) of the same
fit repeated on bootstrap resamples of the *items*: every outcome of an item (all its turns,
all its model pairs) is drawn together, because outcomes on one item are not independent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

FloatArray = npt.NDArray[np.float64]

BASE_RATING = 1000.0
ELO_SCALE = 400.0
INTERVAL = 0.95
_TOLERANCE = 1e-10
_MAX_ITERATIONS = 500
_MAX_STEP = 1.0
_CHUNK_CELLS = 4_000_000
"""Bootstrap replicates are fitted in chunks of at most this many (replicate, item) cells."""


class RatingError(ValueError):
    """Outcomes that cannot be rated; the message says which models are concerned."""


class PairOutcome(BaseModel):
    """One pairwise verdict: which of two models answered a turn of an item better."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    """The item both answers belong to (the unit resampled by the bootstrap)."""
    turn: int
    """The judged turn (1-based)."""
    model_a: str
    """The first model."""
    model_b: str
    """The second model."""
    outcome: Literal["a", "b", "tie"]
    """Who won: model_a, model_b, or neither."""


class Rating(BaseModel):
    """One model's Bradley–Terry rating and its record."""

    model_config = ConfigDict(frozen=True)

    model: str
    """The model's name as given in the outcomes."""
    rating: float
    """Elo-like rating: 400 * log10 of the strength, the mean over models being 1000."""
    low: float
    """Lower end of the 95 % bootstrap interval (items resampled); equals rating without
    bootstrap."""
    high: float
    """Upper end of the 95 % bootstrap interval."""
    wins: int
    """Comparisons this model won."""
    losses: int
    """Comparisons this model lost."""
    ties: int
    """Comparisons that ended in a tie."""
    comparisons: int
    """wins + losses + ties."""


@dataclass
class _Tally:
    """A model's record, counted while reading the outcomes."""

    wins: int = 0
    losses: int = 0
    ties: int = 0


def _components(models: Sequence[str], edges: set[tuple[int, int]]) -> list[list[str]]:
    """Connected components of the comparison graph, as lists of model names."""
    parent = list(range(len(models)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        parent[root(a)] = root(b)
    groups: dict[int, list[str]] = defaultdict(list)
    for i, name in enumerate(models):
        groups[root(i)].append(name)
    return sorted(groups.values(), key=lambda g: (-len(g), g))


def _fit(wins: FloatArray, prior: float) -> FloatArray:
    """Log-strengths maximising the likelihood, for a stack of win matrices.

    `wins` has shape (R, M, M): wins[r, i, j] is how often i beat j in replicate r (ties
    already split in halves). Returns shape (R, M), natural-log strengths. Newton–Raphson on
    the (concave, thanks to the prior strictly concave) log-likelihood, all replicates at
    once; a step is capped so a far-off start cannot overshoot."""
    games = wins + np.swapaxes(wins, 1, 2)
    won = wins.sum(axis=2) + prior / 2
    theta = np.zeros(wins.shape[:2])
    eye = np.eye(wins.shape[1], dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        beats = 1.0 / (1.0 + np.exp(theta[:, None, :] - theta[:, :, None]))  # P(i beats j)
        versus_average = 1.0 / (1.0 + np.exp(-theta))
        gradient = won - (games * beats).sum(axis=2) - prior * versus_average
        curvature = games * beats * (1.0 - beats)
        hessian = curvature - np.where(
            eye,
            curvature.sum(axis=2)[:, :, None]
            + (prior * versus_average * (1 - versus_average))[:, :, None],
            0.0,
        )
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        step = np.clip(step, -_MAX_STEP, _MAX_STEP)
        theta = theta - step
        if np.abs(step).max() < _TOLERANCE:
            break
    return theta


def _to_scale(log_strengths: FloatArray) -> FloatArray:
    """Elo-like ratings, mean 1000 over models, for each row of log-strengths."""
    elo = ELO_SCALE * log_strengths / np.log(10.0)
    centred: FloatArray = BASE_RATING + elo - elo.mean(axis=-1, keepdims=True)
    return centred


@dataclass
class _Table:
    """The outcomes read into counts: per-model records, who met whom, wins per item."""

    tallies: dict[str, _Tally]
    edges: set[tuple[int, int]]
    per_item: FloatArray
    """Shape (items, M, M): per_item[k, i, j] = wins of model i over model j on item k, a
    tie counting half to each side."""


def _table(data: Sequence[PairOutcome], names: Sequence[str]) -> _Table:
    index = {name: i for i, name in enumerate(names)}
    items: dict[str, int] = {}
    tallies = {name: _Tally() for name in names}
    edges: set[tuple[int, int]] = set()
    cells: list[tuple[int, int, int, float]] = []
    for o in data:
        a, b = index[o.model_a], index[o.model_b]
        item = items.setdefault(o.item_id, len(items))
        edges.add((a, b))
        ta, tb = tallies[o.model_a], tallies[o.model_b]
        if o.outcome == "a":
            cells.append((item, a, b, 1.0))
            ta.wins += 1
            tb.losses += 1
        elif o.outcome == "b":
            cells.append((item, b, a, 1.0))
            tb.wins += 1
            ta.losses += 1
        else:
            cells += [(item, a, b, 0.5), (item, b, a, 0.5)]
            ta.ties += 1
            tb.ties += 1
    per_item = np.zeros((len(items), len(names), len(names)))
    for item, winner, loser, weight in cells:
        per_item[item, winner, loser] += weight
    return _Table(tallies, edges, per_item)


def _check(names: Sequence[str], table: _Table) -> None:
    """Raise RatingError when the outcomes cannot put every model on one scale."""
    unplayed = [n for n, t in table.tallies.items() if t.wins + t.losses + t.ties == 0]
    if unplayed:
        raise RatingError(f"no comparisons for model(s) {', '.join(map(repr, unplayed))}")
    pieces = _components(names, table.edges)
    if len(pieces) > 1:
        groups = "; ".join("{" + ", ".join(g) + "}" for g in pieces)
        raise RatingError(
            f"the comparison graph is disconnected: no comparisons link the groups {groups}"
        )


def bradley_terry(
    outcomes: Iterable[PairOutcome],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    models: Sequence[str] | None = None,
    prior: float = 1.0,
) -> list[Rating]:
    """Bradley–Terry ratings, best first, with 95 % intervals from `bootstrap` resamples of
    items (seeded by `seed`; 0 resamples gives low == high == rating).

    `models`, if given, are models that must be rated: one without any comparison is an error
    (as is one that appears in no outcome). `prior` is the number of virtual games (half won)
    each model plays against an average player; it must be positive.

    Raises RatingError for fewer than two models, a model compared with itself or with no
    comparisons, and a comparison graph in more than one piece (their ratings would not be on
    one scale)."""
    if prior <= 0:
        raise RatingError(f"prior must be positive, got {prior}")
    if bootstrap < 0:
        raise RatingError(f"bootstrap must be 0 or more resamples, got {bootstrap}")
    data = list(outcomes)
    for o in data:
        if o.model_a == o.model_b:
            raise RatingError(
                f"item {o.item_id!r} turn {o.turn}: model {o.model_a!r} is compared with itself"
            )
    names = sorted({o.model_a for o in data} | {o.model_b for o in data} | set(models or ()))
    if len(names) < 2:
        found = f" ({names[0]!r})" if names else ""
        raise RatingError(
            f"ratings need outcomes between at least 2 models, got {len(names)}{found}"
        )
    table = _table(data, names)
    _check(names, table)

    point = _to_scale(_fit(table.per_item.sum(axis=0)[None], prior))[0]
    low, high = point, point
    if bootstrap:
        low, high = _intervals(table.per_item, bootstrap, seed, prior)
    ratings = []
    for i, name in enumerate(names):
        t = table.tallies[name]
        ratings.append(
            Rating(
                model=name,
                rating=float(point[i]),
                low=float(low[i]),
                high=float(high[i]),
                wins=t.wins,
                losses=t.losses,
                ties=t.ties,
                comparisons=t.wins + t.losses + t.ties,
            )
        )
    ratings.sort(key=lambda r: (-r.rating, r.model))
    return ratings


def _intervals(
    per_item: FloatArray, bootstrap: int, seed: int, prior: float
) -> tuple[FloatArray, FloatArray]:
    """Percentile interval ends per model over `bootstrap` item resamples."""
    items, m, _ = per_item.shape
    rng = np.random.default_rng(seed)
    flat = per_item.reshape(items, m * m)
    chunk = max(1, _CHUNK_CELLS // items)
    scaled: list[FloatArray] = []
    for start in range(0, bootstrap, chunk):
        size = min(chunk, bootstrap - start)
        # How often each item is drawn in each replicate: a resample of `items` items.
        counts = rng.multinomial(items, np.full(items, 1.0 / items), size=size)
        wins = (counts @ flat).reshape(size, m, m)
        scaled.append(_to_scale(_fit(wins, prior)))
    replicates = np.concatenate(scaled)
    tail = (1.0 - INTERVAL) / 2 * 100
    low: FloatArray = np.percentile(replicates, tail, axis=0)
    high: FloatArray = np.percentile(replicates, 100 - tail, axis=0)
    return low, high
