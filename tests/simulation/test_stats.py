"""Means, Student t intervals and paired differences over replications."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulation.stats import estimate, paired, percentile, t975


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.7062), (9, 2.2622), (30, 2.0423), (40, 2.0211), (120, 1.9799), (10_000, 1.9602)],
)
def test_t_quantiles_match_the_table(df: int, expected: float) -> None:
    assert t975(df) == pytest.approx(expected, abs=2e-4)


def test_the_interval_of_a_known_sample() -> None:
    result = estimate([1.0, 2.0, 3.0, 4.0])
    assert result.mean == 2.5
    assert result.ci95 == pytest.approx(3.1824 * math.sqrt(5 / 3 / 4), rel=1e-4)


def test_one_replication_has_no_interval_and_json_has_no_nan() -> None:
    assert estimate([3.0]).to_dict() == {"mean": 3.0, "ci95": None, "n": 1}
    assert estimate([]).to_dict() == {"mean": None, "ci95": None, "n": 0}


def test_intervals_cover_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    # Normal data: the t interval is exact (skewed data with n = 10 would undercover).
    covered = sum(estimate(rng.normal(2.0, 1.0, 10).tolist()).contains(2.0) for _ in range(2000))
    assert 0.92 < covered / 2000 < 0.97


def test_paired_differences_and_relative_change() -> None:
    base = [100.0, 110.0, 90.0, 105.0]
    scen = [b * 1.1 for b in base]
    diff = paired(base, scen)
    assert diff.absolute.mean == pytest.approx(10.125)
    assert diff.relative is not None
    assert diff.relative.mean == pytest.approx(0.1)
    assert diff.relative.ci95 == pytest.approx(0.0, abs=1e-9)  # a constant ratio has no spread
    assert diff.significant


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 1))
def test_percentiles_lie_between_the_extremes(values: list[float], q: float) -> None:
    ordered = sorted(values)
    assert ordered[0] <= percentile(ordered, q) <= ordered[-1]
