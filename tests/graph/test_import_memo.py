"""The bulk import's memo of what it wrote (``graph._import_memo``): exact, bounded, compact."""

from __future__ import annotations

import tracemalloc

import numpy as np

from graph._import_memo import Fingerprints, KeySet, TwinMemo, hashes

MODELS = [f"dtmi:example:memo:M{i};1" for i in range(7)]


def test_twins_are_found_with_their_model_across_merges_and_others_are_absent() -> None:
    memo = TwinMemo(1_000_000)
    twins = [(f"twin-{i}", MODELS[i % len(MODELS)]) for i in range(200_000)]
    for start in range(0, len(twins), 5000):  # past several merges of the pending entries
        assert memo.add(twins[start : start + 5000])
    assert len(memo) == 200_000
    asked = [twin_id for twin_id, _ in twins[::997]] + ["twin-200000", "twin--1", "", "Twin-5"]
    assert memo.models_of(asked) == dict(twins[::997])


def test_adding_a_twin_again_adds_nothing() -> None:
    memo = TwinMemo(10)
    assert memo.add([("a", MODELS[0]), ("b", MODELS[1]), ("a", MODELS[0])])
    assert memo.add([("b", MODELS[1])])
    assert len(memo) == 2


def test_past_the_limit_nothing_of_the_batch_is_added() -> None:
    memo = TwinMemo(3)
    assert memo.add([("a", MODELS[0]), ("b", MODELS[0])])
    assert not memo.add([("c", MODELS[0]), ("d", MODELS[0])])
    assert memo.models_of(["a", "b", "c", "d"]) == {"a": MODELS[0], "b": MODELS[0]}


def test_a_key_held_with_another_value_is_refused_so_a_shared_hash_is_never_trusted() -> None:
    table = Fingerprints(100)
    keys = np.array([7, 8], dtype=np.int64)
    assert table.add(keys, [1, 2])
    assert not table.add(np.array([9, 7], dtype=np.int64), [3, 5])
    assert table.find(np.array([7, 8, 9], dtype=np.int64)) == [1, 2, None]
    assert not table.add(np.array([10, 10], dtype=np.int64), [1, 2])  # within one batch too


def test_more_than_65536_models_do_not_fit() -> None:
    memo = TwinMemo(100_000)
    assert memo.add([(f"t{i}", f"dtmi:m:M{i};1") for i in range(65_536)])
    assert not memo.add([("t-last", "dtmi:m:Last;1")])


def test_key_sets_say_maybe_only_for_what_was_added() -> None:
    seen = KeySet(1_000_000)
    pairs = [(f"s{i}", f"r{i % 3}") for i in range(100_000)]
    assert seen.add(hashes(pairs, len(pairs)))
    asked = [pairs[5], ("s5", "r9"), pairs[99_999], ("s100000", "r1")]
    assert seen.contains(hashes(asked, len(asked))) == [True, False, True, False]


def test_a_million_twins_take_under_32_bytes_each() -> None:
    ids = [f"campus/b{i // 10_000}/room-{i}" for i in range(1_000_000)]
    memo = TwinMemo(4_000_000)
    tracemalloc.start()
    try:
        for start in range(0, len(ids), 5000):
            memo.add([(twin_id, MODELS[0]) for twin_id in ids[start : start + 5000]])
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(memo) == 1_000_000
    # 16 bytes in the sorted arrays, and the entries not merged yet in a dict; the ids
    # themselves (70-80 bytes each) are not kept.
    assert held < 32 * 1_000_000, held
    assert peak < 64 * 1_000_000, peak


def test_a_million_relationship_keys_take_under_20_bytes_each() -> None:
    keys = [(f"campus/room-{i}", "feeds", f"campus/vav-{i}") for i in range(1_000_000)]
    seen = KeySet(4_000_000)
    tracemalloc.start()
    try:
        for start in range(0, len(keys), 5000):
            batch = keys[start : start + 5000]
            assert seen.add(hashes(batch, len(batch)))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == 1_000_000
    # 8 bytes in the sorted array (a set keeps no values), and the keys not merged yet
    # (up to an eighth as many, in a dict).
    assert held < 20 * 1_000_000, held
