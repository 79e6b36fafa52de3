"""Means and 95% confidence intervals over replications (Student t), plain and paired.

Replications are independent and identically distributed, so the mean of a metric over
``n`` of them has a t-distributed error with ``n - 1`` degrees of freedom; its 95%
interval is ``mean +/- t(0.975, n - 1) * s / sqrt(n)``. A comparison pairs baseline and
scenario replications that shared their random numbers, and takes the interval of the
per-replication differences: common random numbers make that interval much narrower
than the difference of two independent intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# t(0.975, df) for df = 1..30 (any statistics table); beyond, the Cornish-Fisher expansion
# below is accurate to better than 1e-4.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959963984540054


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (two-sided 95%)."""
    if df < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


@dataclass(frozen=True)
class Estimate:
    """A metric's mean over replications with the half-width of its 95% interval.

    ``ci95`` is ``None`` with a single replication (no spread to estimate).
    """

    mean: float
    ci95: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """The estimate as JSON data."""
        return {"mean": _finite(self.mean), "ci95": _finite(self.ci95), "n": self.n}

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the 95% interval."""
        half = self.ci95 or 0.0
        return self.mean - half <= value <= self.mean + half


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and 95% half-width of independent replication values."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, None, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, None, 1)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Estimate(mean, t975(n - 1) * math.sqrt(var / n), n)


@dataclass(frozen=True)
class Difference:
    """Scenario minus baseline over paired replications, absolute and relative to the baseline."""

    baseline: Estimate
    scenario: Estimate
    absolute: Estimate
    relative: Estimate | None
    """Relative change (0.081 is +8.1%), interval by the delta method; ``None`` for a zero baseline."""

    def to_dict(self) -> dict[str, Any]:
        """The difference as JSON data."""
        return {
            "baseline": self.baseline.to_dict(),
            "scenario": self.scenario.to_dict(),
            "difference": self.absolute.to_dict(),
            "relative": None if self.relative is None else self.relative.to_dict(),
        }

    @property
    def significant(self) -> bool:
        """Whether the 95% interval of the difference excludes zero."""
        return self.absolute.ci95 is not None and not self.absolute.contains(0.0)


def paired(baseline: Sequence[float], scenario: Sequence[float]) -> Difference:
    """The difference of paired replications (replication ``i`` of both used the same seed)."""
    if len(baseline) != len(scenario):
        raise ValueError("paired replications must be as many in both runs")
    n = len(baseline)
    diffs = [s - b for b, s in zip(baseline, scenario, strict=True)]
    base, scen, absolute = estimate(baseline), estimate(scenario), estimate(diffs)
    relative: Estimate | None = None
    if n and base.mean != 0:
        ratio = absolute.mean / base.mean
        half: float | None = None
        if n > 1:
            # Delta method for mean(D) / mean(B): Var ~ (s_D^2 - 2 r s_DB + r^2 s_B^2) / (n B^2).
            s_dd = math.fsum((d - absolute.mean) ** 2 for d in diffs) / (n - 1)
            s_bb = math.fsum((b - base.mean) ** 2 for b in baseline) / (n - 1)
            s_db = math.fsum(
                (d - absolute.mean) * (b - base.mean) for d, b in zip(diffs, baseline, strict=True)
            ) / (n - 1)
            var = max(0.0, s_dd - 2 * ratio * s_db + ratio**2 * s_bb) / (n * base.mean**2)
            half = t975(n - 1) * math.sqrt(var)
        relative = Estimate(ratio, half, n)
    return Difference(base, scen, absolute, relative)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, linear between order statistics."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: they become null."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value
