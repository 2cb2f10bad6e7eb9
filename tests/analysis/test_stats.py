"""Bootstrap intervals over items and the paired test."""

from __future__ import annotations

import numpy as np
import pytest

from turnscope.analysis import ItemResampler, bootstrap_mean, paired_p_value


def test_interval_contains_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(3)
    widths = []
    for n in (20, 200, 2000):
        values = rng.binomial(1, 0.6, size=n).astype(float)
        e = bootstrap_mean(values, resamples=1000, seed=0)
        assert e.mean == pytest.approx(values.mean())
        assert e.low is not None and e.high is not None
        assert e.low < e.mean < e.high
        assert e.n == n
        widths.append(e.high - e.low)
    assert widths[0] > widths[1] > widths[2]
    # Binomial standard error: the 95 % width at n = 2000 is about 4 * sqrt(.24 / 2000).
    assert widths[2] == pytest.approx(3.92 * (0.24 / 2000) ** 0.5, rel=0.2)


def test_constant_values_have_a_point_interval() -> None:
    e = bootstrap_mean([0.7] * 10)
    assert e.low == e.mean == e.high == pytest.approx(0.7)


def test_empty_values_have_no_estimate() -> None:
    e = bootstrap_mean([])
    assert e.mean is None and e.low is None and e.n == 0


def test_seeded() -> None:
    values = np.linspace(0, 1, 50)
    assert bootstrap_mean(values, seed=5) == bootstrap_mean(values, seed=5)
    assert bootstrap_mean(values, seed=5) != bootstrap_mean(values, seed=6)


def test_subset_estimates_share_one_resampling() -> None:
    resampler = ItemResampler(100, resamples=300, seed=0)
    # Every resample (column) draws 100 items with replacement.
    assert resampler.counts.shape == (100, 300)
    assert np.all(resampler.counts.sum(axis=0) == 100)
    values = np.arange(10, dtype=float)
    e = resampler.estimate(np.arange(40, 50), values)
    assert e.mean == pytest.approx(4.5) and e.n == 10
    assert e.low is not None and e.high is not None and e.low < 4.5 < e.high


def test_paired_p_value() -> None:
    assert paired_p_value([]) is None
    assert paired_p_value([0.0] * 6) == 1.0
    # Five or fewer pairs: no test (p could not drop below 0.0625), not p = 1.
    assert paired_p_value([0.0, 0.0, 0.0]) is None
    assert paired_p_value([-1.0]) is None
    shifted = paired_p_value([0.2 + 0.01 * i for i in range(-5, 25)])
    assert shifted is not None and shifted < 0.001
    noise = paired_p_value([(-1) ** i * 0.1 for i in range(30)])
    assert noise is not None and noise > 0.5
