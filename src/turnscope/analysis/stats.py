"""Bootstrap intervals over items and the paired test used to compare two runs.

Every aggregate in turnscope is a mean over *items* of an item-level value (an item's score,
its score at one turn, a per-item difference ...). Intervals come from resampling items with
replacement, never turns: the turns of one conversation are correlated, and resampling them
as if independent would give intervals that are too narrow.

One resampling matrix serves every aggregate of a run: entry (i, b) holds how often item i
was drawn in resample b. An aggregate over a subset of the items is, in each resample, the
weighted mean of that subset's values, so hundreds of intervals cost a few matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
PAIRED_TEST = "Wilcoxon signed-rank (two-sided; zero differences dropped)"
SMALL_SAMPLE = 5
"""A figure over fewer items than this is marked as a small sample wherever it is shown: its
interval rests on so few items that it says little about the next ones."""

FloatArray = npt.NDArray[np.float64]
_RESAMPLE_BLOCK = 64


class Estimate(BaseModel):
    """A mean over items with its bootstrap 95 % interval."""

    model_config = ConfigDict(frozen=True)

    mean: float | None
    """Mean of the item values; None when no item had a value."""
    low: float | None
    """Lower end of the 95 % percentile bootstrap interval."""
    high: float | None
    """Upper end of the 95 % percentile bootstrap interval."""
    n: int
    """Items behind the estimate (the resampled units)."""
    errors: int = 0
    """Turns of the group that failed (no answer, or a scorer error); they carry no value."""

    @property
    def small(self) -> bool:
        """True when the estimate rests on fewer than SMALL_SAMPLE items."""
        return self.n < SMALL_SAMPLE


class ItemResampler:
    """B resamples (with replacement) of a fixed list of N items, as an N x B count matrix
    (one contiguous row per item, so picking a subset of items is a cheap row gather)."""

    def __init__(self, n_items: int, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n_items = n_items
        if n_items == 0:
            self.counts: npt.NDArray[np.float32] = np.zeros((0, resamples), dtype=np.float32)
            return
        self.counts = np.empty((n_items, resamples), dtype=np.float64)
        # Drawn and counted a block of resamples at a time: the draws of all of them at once
        # took three more arrays the size of the counts (120 MB for 5,000 items). Consecutive
        # blocks draw exactly the numbers one call for every resample would.
        for start in range(0, resamples, _RESAMPLE_BLOCK):
            block = min(_RESAMPLE_BLOCK, resamples - start)
            draws = rng.integers(0, n_items, size=(block, n_items))
            offsets = (np.arange(block) * n_items)[:, None]
            flat = np.bincount((draws + offsets).ravel(), minlength=block * n_items)
            self.counts[:, start : start + block] = flat.reshape(block, n_items).T

    def estimate(
        self,
        columns: Sequence[int] | npt.NDArray[np.intp],
        values: Sequence[float] | FloatArray,
        *,
        errors: int = 0,
    ) -> Estimate:
        """The mean of `values` (one per item, items given by column) with its interval."""
        cols = np.asarray(columns, dtype=np.intp)
        vals = np.asarray(values, dtype=np.float64)
        if vals.size == 0:
            return Estimate(mean=None, low=None, high=None, n=0, errors=errors)
        # Every item in order (an overall figure) needs no gathered copy of the counts, which
        # for 5,000 items is as large as the counts themselves.
        every = cols.size == self.n_items and bool((cols == np.arange(self.n_items)).all())
        weights = self.counts if every else self.counts[cols]
        totals = weights.sum(axis=0, dtype=np.float64)
        drawn = totals > 0
        # A resample that drew none of the subset's items says nothing about its mean.
        sums = vals.astype(np.float32) @ weights
        # A weighted mean lies within the values' range; clipping removes float32 rounding.
        means = np.clip(sums[drawn].astype(np.float64) / totals[drawn], vals.min(), vals.max())
        tail = (1 - CONFIDENCE) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail]) if means.size else (np.nan, np.nan)
        mean = float(vals.mean())
        # Rounding can put the mean a hair outside its own interval.
        return Estimate(
            mean=mean,
            low=min(float(low), mean),
            high=max(float(high), mean),
            n=int(vals.size),
            errors=errors,
        )


def bootstrap_mean(
    values: Sequence[float] | FloatArray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Estimate:
    """Mean of independent unit values with a 95 % percentile bootstrap interval."""
    vals = np.asarray(values, dtype=np.float64)
    return ItemResampler(vals.size, resamples=resamples, seed=seed).estimate(
        np.arange(vals.size), vals
    )


MIN_TEST_PAIRS = 6
"""Fewest paired items the signed-rank test is made on. With 5 or fewer, even differences all
of one sign give p >= 0.0625 (the exact two-sided test's smallest p is 2 / 2**n): the test
cannot say anything, and a printed p = 1 over one item reads as evidence of no difference."""


def paired_p_value(differences: Sequence[float] | FloatArray) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of paired differences; None (no test) with
    fewer than MIN_TEST_PAIRS of them.

    All-zero differences mean no evidence of any difference: p = 1."""
    diffs = np.asarray(differences, dtype=np.float64)
    if diffs.size < MIN_TEST_PAIRS:
        return None
    if not np.any(diffs != 0):
        return 1.0
    # Imported here: scipy.stats takes most of a second to import, which every command
    # would pay at start-up (`turnscope --version` included).
    from scipy import stats as scipy_stats

    result = scipy_stats.wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
    return float(result.pvalue)
