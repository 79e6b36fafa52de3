"""Telemetry series resampled onto a run's step grid: ``hold`` or ``linear``.

A series is points ``[seconds from the window's start, value]`` in time order (points
before the start included, so the value at the start is known). Step ``k`` starts at
``k * step``. ``hold`` gives the last point at or before it (a sensor's reading stays
until the next); ``linear`` interpolates between the points around it. Before the first
point both give the first point's value, after the last the last's.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Literal

import numpy as np


def resample(
    points: Sequence[Sequence[float]], step: float, steps: int, how: Literal["hold", "linear"]
) -> list[float]:
    """The series' value at the start of each of ``steps`` steps of ``step`` seconds."""
    times = [float(p[0]) for p in points]
    values = [float(p[1]) for p in points]
    grid = [k * step for k in range(steps)]
    if how == "linear":
        found: list[float] = np.interp(grid, times, values).tolist()
        return found
    out: list[float] = []
    for t in grid:
        i = bisect.bisect_right(times, t) - 1
        out.append(values[max(i, 0)])
    return out
