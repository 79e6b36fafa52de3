"""What a bulk import remembers having written, in 8 to 16 bytes per twin or relationship.

A fresh import (the graph held no twin at the start, ``graph.importer``) reads nothing
from the graph as long as it remembers every twin and edge it wrote: a twin it does not
remember is absent, an edge it does not remember was never written. Past its memo's
limit it must read for every batch, and those reads run on the writer thread, in order
after the batches before them, so reading and writing no longer overlap: with memos of
Python dicts and sets (about 100 bytes a twin), capped at 250,000 twins, an import of a
campus of 1,000,000 twins ran at half the rate of one of 100,000. Here each entry is a
64-bit hash in a sorted numpy array (with a 64-bit value beside it for twins), so the same
memory holds several times as many.

``Fingerprints`` maps 64-bit keys to 64-bit values. New keys wait in a dict and are merged
into the sorted arrays once there are an eighth as many as already merged (each merge is
a linear pass of numpy's sort over two sorted runs), so adding costs a dict insert and
looking up a batch one ``searchsorted``. ``TwinMemo`` keeps twin id -> model on it: the key
is the id's hash, the value a second, independent hash of the id (its high 48 bits) with
the model's number (its low 16), so two ids are mistaken for one only if both hashes
agree (odds about 2^-112 per pair). When two ids share the first hash, the memo says so
(:meth:`TwinMemo.add` returns false) and the import stops relying on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

_MODEL_BITS = 16
_MODEL_MASK = (1 << _MODEL_BITS) - 1
_CHECK_MASK = ((1 << 64) - 1) ^ _MODEL_MASK
_MIN_PENDING = 1 << 16
Keys = npt.NDArray[np.int64]


def hashes(items: Iterable[object], count: int) -> Keys:
    """Python's 64-bit hash of each item, as an array (stable within one process)."""
    return np.fromiter((hash(item) for item in items), dtype=np.int64, count=count)


class Fingerprints:
    """A map of 64-bit keys to 64-bit values, up to ``limit`` keys, 16 bytes each.

    Without ``values`` it is a set: every key reads 0, and 8 bytes each.
    """

    def __init__(self, limit: int, *, values: bool = True) -> None:
        self.limit = limit
        self._with_values = values
        self._keys: Keys = np.empty(0, dtype=np.int64)
        self._values: npt.NDArray[np.uint64] = np.empty(0, dtype=np.uint64)
        self._pending: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._pending)

    def find(self, keys: Keys) -> list[int | None]:
        """The value of each key, None where the key is not held."""
        found: list[int | None] = [None] * len(keys)
        if len(self._keys):
            at = np.searchsorted(self._keys, keys)
            at[at == len(self._keys)] = 0
            for i in np.flatnonzero(self._keys[at] == keys).tolist():
                found[i] = int(self._values[at[i]]) if self._with_values else 0
        if self._pending:
            pending = self._pending
            for i, key in enumerate(keys.tolist()):
                if found[i] is None:
                    found[i] = pending.get(key)
        return found

    def add(self, keys: Keys, values: Sequence[int]) -> bool:
        """Hold the keys not held yet; false (and nothing added) if that would pass ``limit``
        or a key is held with another value."""
        held = self.find(keys)
        new: dict[int, int] = {}
        for key, value, old in zip(keys.tolist(), values, held, strict=True):
            if old is None:
                if new.setdefault(key, value) != value:
                    return False
            elif old != value:
                return False
        if len(self) + len(new) > self.limit:
            return False
        self._pending.update(new)
        if len(self._pending) >= max(_MIN_PENDING, len(self._keys) // 8):
            self._merge()
        return True

    def _merge(self) -> None:
        count = len(self._pending)
        keys = np.concatenate([self._keys, np.fromiter(self._pending.keys(), np.int64, count)])
        order = np.argsort(keys, kind="stable")  # two sorted runs: merged in one pass
        self._keys = keys[order]
        if self._with_values:
            values = np.fromiter(self._pending.values(), np.uint64, count)
            self._values = np.concatenate([self._values, values])[order]
        self._pending.clear()


class KeySet:
    """Which 64-bit keys were seen (no false 'absent'; a shared hash only reads 'maybe')."""

    def __init__(self, limit: int) -> None:
        self._map = Fingerprints(limit, values=False)

    def __len__(self) -> int:
        return len(self._map)

    def contains(self, keys: Keys) -> list[bool]:
        return [value is not None for value in self._map.find(keys)]

    def add(self, keys: Keys) -> bool:
        """Hold ``keys``; false (nothing added) past the limit."""
        return self._map.add(keys, [0] * len(keys))


class TwinMemo:
    """Twin id -> model of the twins an import wrote, up to ``limit`` twins (see the module)."""

    def __init__(self, limit: int) -> None:
        self._map = Fingerprints(limit)
        self._models: list[str] = []
        self._numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._map)

    def models_of(self, ids: Iterable[str]) -> dict[str, str]:
        """The model of each id held; ids not held are absent."""
        wanted = list(ids)
        found: dict[str, str] = {}
        for twin_id, value in zip(wanted, self._map.find(hashes(wanted, len(wanted))), strict=True):
            if value is not None and value & _CHECK_MASK == _check(twin_id):
                found[twin_id] = self._models[value & _MODEL_MASK]
        return found

    def add(self, twins: Sequence[tuple[str, str]]) -> bool:
        """Hold (id, model) pairs; false (nothing added) past the limit, past 65,536 models,
        or when an id shares its first hash with another: the memo cannot hold them all."""
        values = []
        for twin_id, model in twins:
            number = self._numbers.get(model)
            if number is None:
                if len(self._models) > _MODEL_MASK:
                    return False
                number = self._numbers[model] = len(self._models)
                self._models.append(model)
            values.append(_check(twin_id) | number)
        return self._map.add(hashes((twin_id for twin_id, _ in twins), len(twins)), values)


def _check(twin_id: str) -> int:
    """A second hash of the id, independent of ``hash(twin_id)``, in the high 48 bits."""
    return hash("\x00" + twin_id) & _CHECK_MASK
