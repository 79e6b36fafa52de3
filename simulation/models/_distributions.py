"""Random durations of the base ontology's distributions, drawn ahead in numpy blocks.

A model asks for the next value of a stream thousands of times per simulated hour;
drawing them one at a time through numpy costs a microsecond each. A :class:`Duration`
draws a block of 1,024 at once and hands them out through a C-level iterator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Literal

import numpy as np

Kind = Literal["constant", "exponential", "normal", "lognormal", "triangular", "uniform"]
KINDS: tuple[Kind, ...] = ("constant", "exponential", "normal", "lognormal", "triangular", "uniform")
_BLOCK = 1024


@dataclass(frozen=True)
class Duration:
    """A distribution of durations in seconds, as the ontology's ``...Distribution`` names it.

    ``normal`` is clipped to ``[low, high]`` and never below 0; ``lognormal`` has mean
    ``mean`` and standard deviation ``std``; ``triangular`` has its mode where the mean
    comes out as ``mean``; ``uniform`` uses ``low`` and ``high`` only.
    """

    kind: Kind
    mean: float
    std: float = 0.0
    low: float = 0.0
    high: float = math.inf

    def block(self, rng: np.random.Generator, n: int = _BLOCK) -> list[float]:
        """``n`` draws as a Python list (floats are faster to hand out than numpy scalars)."""
        if self.kind == "constant":
            return [self.mean] * n
        if self.kind == "exponential":
            values = rng.exponential(self.mean, n)
        elif self.kind == "normal":
            values = np.clip(rng.normal(self.mean, self.std, n), max(self.low, 0.0), self.high)
        elif self.kind == "lognormal":
            sigma2 = math.log1p((self.std / self.mean) ** 2)
            values = rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), n)
        elif self.kind == "triangular":
            values = rng.triangular(self.low, self.mode, self.high, n)
        else:
            values = rng.uniform(self.low, self.high, n)
        drawn: list[float] = values.tolist()
        return drawn

    @property
    def mode(self) -> float:
        """The triangular mode that gives mean ``mean``: (low + mode + high) / 3 = mean."""
        return 3 * self.mean - self.low - self.high

    def stream(self, rng: np.random.Generator) -> Iterator[float]:
        """An endless iterator of draws; ``next()`` on it is the cheapest call Python has."""
        return chain.from_iterable(_blocks(self, rng))


def _blocks(duration: Duration, rng: np.random.Generator) -> Iterator[list[float]]:
    while True:
        yield duration.block(rng)


def uniforms(rng: np.random.Generator) -> Iterator[float]:
    """Endless U(0, 1) draws, for routing and scrap decisions."""
    return chain.from_iterable(_uniform_blocks(rng))


def _uniform_blocks(rng: np.random.Generator) -> Iterator[list[float]]:
    while True:
        block: list[float] = rng.random(_BLOCK).tolist()
        yield block
