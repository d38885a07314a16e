"""The one t-interval and the one quantile agree with scipy and numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from vaxdrill.core.stats import quantile, t975, t_interval


def test_t975_is_scipys_student_t() -> None:
    for df in (1, 3, 19, 200):
        assert t975(df) == scipy_stats.t.ppf(0.975, df)
    assert t975(1) == pytest.approx(12.706, abs=1e-3)


def test_t_interval_matches_scipys_interval() -> None:
    values = np.random.default_rng(11).normal(50.0, 8.0, size=12)
    mean, half = t_interval(values)
    lo, hi = scipy_stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values))
    assert float(mean) == values.mean()
    assert float(mean) - float(half) == pytest.approx(lo, rel=1e-12)
    assert float(mean) + float(half) == pytest.approx(hi, rel=1e-12)


def test_t_interval_works_column_by_column() -> None:
    rows = np.random.default_rng(12).exponential(3.0, size=(7, 4))
    mean, half = t_interval(rows)
    assert mean.shape == half.shape == (4,)
    for k in range(4):
        m, h = t_interval(rows[:, k].copy())
        assert mean[k] == pytest.approx(float(m), rel=1e-14) and half[k] == pytest.approx(float(h), rel=1e-14)


def test_one_replication_has_no_spread() -> None:
    mean, half = t_interval([[2.0, 3.0]])
    assert mean.tolist() == [2.0, 3.0] and half.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 101, 1000])
def test_quantile_is_numpys_linear_quantile_to_the_bit(n: int) -> None:
    sample = np.sort(np.random.default_rng(n).lognormal(3.0, 1.0, size=n))
    for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0, 1 / 3):
        want = float(np.quantile(sample, q))
        assert quantile(sample, q) == want, (n, q)
        assert quantile(sample.tolist(), q) == want, (n, q)


def test_quantile_of_nothing_is_zero() -> None:
    assert quantile([], 0.9) == 0.0


def test_quantile_interpolates_between_order_statistics() -> None:
    assert quantile([1.0, 2.0, 4.0, 8.0], 0.5) == 3.0
    assert quantile([1.0, 2.0, 4.0, 8.0], 0.9) == pytest.approx(8.0 - 4.0 * 0.3)
    assert math.isclose(quantile([10.0, 20.0], 0.25), 12.5)
