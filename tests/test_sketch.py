"""Chunk sketches: the overview points stored with each large chunk, and reads from them."""

from __future__ import annotations

import array
import importlib
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expbook.store import PointBatch, SQLiteStore, sketch
from expbook.store.sketch import (
    SKETCH_MIN,
    SKETCH_WIDTH,
    sketch_indices,
    sketch_indices_numpy,
    sketch_indices_python,
)

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, math.nan]),
)


def reference(values: list[float], width: int) -> list[int]:
    """The definition, written plainly: first point; per group first min, first max (NaN
    ignored) and last point."""
    out = {0} if values else set()
    for lo in range(0, len(values), width):
        group = list(range(lo, min(lo + width, len(values))))
        finite = [i for i in group if not math.isnan(values[i])]
        if finite:
            lowest = min(values[i] for i in finite)
            highest = max(values[i] for i in finite)
            out.add(next(i for i in finite if values[i] == lowest))
            out.add(next(i for i in finite if values[i] == highest))
        out.add(group[-1])
    return sorted(out)


def c_sketch():
    """The C function itself: an extension that does not import fails the test (no skip)."""
    return importlib.import_module("expbook._speedups").sketch_indices


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=300), st.sampled_from([1, 2, 3, 7, 64]))
def test_every_implementation_follows_the_definition(values: list[float], width: int) -> None:
    want = reference(values, width)
    arr = np.array(values, dtype=np.float64)
    assert sketch_indices_python(values, width) == want
    assert sketch_indices_numpy(arr, width) == want
    assert c_sketch()(values, width) == want
    assert c_sketch()(arr, width) == want
    assert sketch_indices(values, width) == want
    assert sketch_indices(arr, width) == want


def test_the_c_sketch_is_built_and_used() -> None:
    assert sketch._c_sketch is not None, "the _speedups extension was not compiled"
    assert sketch._c_sketch is c_sketch()


def awkward(n: int, seed: int) -> list[list[float]]:
    """Series of length n with what the comparisons must get right."""
    rng = np.random.default_rng(seed)
    inf, nan = math.inf, math.nan
    noisy = rng.standard_normal(n)
    noisy[rng.random(n) < 0.2] = nan
    noisy[rng.random(n) < 0.02] = inf
    noisy[rng.random(n) < 0.02] = -inf
    runs = np.repeat(rng.integers(-2, 3, size=n // 5 + 1).astype(np.float64), 5)[:n]
    zeros = rng.choice([0.0, -0.0, nan], size=n)
    holes = rng.standard_normal(n)
    holes[(np.arange(n) // 3) % 2 == 0] = nan  # every other group of 3 is all NaN
    return [
        noisy.tolist(),
        runs.tolist(),  # repeated extremes
        zeros.tolist(),
        holes.tolist(),
        [nan] * n,
        [inf] * n,
        [-inf, inf] * (n // 2) + [nan] * (n % 2),
        rng.integers(-3, 4, size=n).tolist(),  # Python ints
    ]


@pytest.mark.parametrize("width", [1, 3, 64])
def test_the_c_sketch_on_lengths_around_the_width(width: int) -> None:
    f = c_sketch()
    for n in sorted({0, 1, width - 1, width, width + 1, 2 * width + 1, 2000}):
        for k, values in enumerate(awkward(n, seed=n + width)):
            want = sketch_indices_python(values, width)
            assert want == reference([float(x) for x in values], width)
            arr = np.array(values, dtype=np.float64)
            assert sketch_indices_numpy(arr, width) == want, (n, k)
            assert f(values, width) == want, (n, k)
            assert f(tuple(values), width) == want, (n, k)
            assert f(arr, width) == want, (n, k)
            assert f(array.array("d", arr.tolist()), width) == want, (n, k)


def test_what_the_c_sketch_accepts_and_rejects() -> None:
    f = c_sketch()
    assert f([], 64) == [] and f(np.array([]), 64) == []
    assert f([5.0], 64) == [0]
    assert f([1, 2.5, True], 2) == [0, 1, 2]
    with pytest.raises(TypeError):
        f([1.0, "2", 3.0], 64)
    with pytest.raises(TypeError):
        f([1.0, None], 64)
    with pytest.raises(ValueError):
        f([1.0, 2.0], 0)
    with pytest.raises(ValueError):
        f([], -1)
    with pytest.raises(TypeError):
        f([1.0], 2.5)
    with pytest.raises(TypeError):
        f([1.0])
    # not a 1-d C-contiguous buffer of native float64: TypeError, and the caller falls back
    v = np.random.default_rng(2).standard_normal(300)
    for other in (
        v[::2],
        v.astype(np.float32),
        v.astype(np.int64),
        v.astype(">f8"),
        v.reshape(3, 100),
        b"12345678",
        "abc",
        iter([1.0]),
        {1.0: 1},
    ):
        with pytest.raises(TypeError):
            f(other, 64)

    class Shrinks:
        def __float__(self) -> float:
            values.clear()
            return 1.0

    values = [0.0, Shrinks(), 3.0]
    with pytest.raises(RuntimeError):  # an error, not a read past the end
        f(values, 64)


def test_sketch_indices_takes_any_array_or_sequence() -> None:
    """Arrays of other dtypes or layouts go through C after a conversion; other sequences
    and bad values fall back to Python, with the same result or error."""
    v = np.random.default_rng(4).standard_normal(1000)
    v[v > 2.5] = math.nan
    ints = np.arange(-500, 500) % 37
    for values in (v[::2], v.astype(np.float32), ints, v.astype(">f8")):
        assert sketch_indices(values, 64) == sketch_indices_python(values.tolist(), 64)
    assert sketch_indices(tuple(v.tolist()), 7) == sketch_indices_python(v.tolist(), 7)
    assert sketch_indices(range(100), 64) == [0, 63, 64, 99]
    with pytest.raises((TypeError, ValueError)):  # numpy's ValueError, as before the C path
        sketch_indices([1.0, "x"], 64)


def test_a_sketch_keeps_at_most_three_points_per_group() -> None:
    v = np.random.default_rng(1).standard_normal(8192)
    idx = sketch_indices_numpy(v)
    assert len(idx) <= 3 * (8192 // SKETCH_WIDTH) + 1
    assert idx[0] == 0 and idx[-1] == 8191
    assert v[idx].max() == v.max() and v[idx].min() == v.min()


# -- in the store ----------------------------------------------------------------------------
def spiky(n: int, seed: int = 0) -> tuple[list[int], list[float], list[float], int, int]:
    rng = np.random.default_rng(seed)
    v = 1.0 + 0.01 * rng.standard_normal(n)
    up, down = n // 3 + 5, (2 * n) // 3 + 11
    v[up], v[down] = 50.0, -50.0
    steps = list(range(0, 2 * n, 2))  # every other step
    walls = [1_700_000_000.0 + i * 0.5 for i in range(n)]
    return steps, walls, v.tolist(), steps[up], steps[down]


@pytest.fixture
def big(tmp_path: Path) -> tuple[SQLiteStore, str, tuple]:
    data = spiky(50_000)
    st_ = SQLiteStore(tmp_path / "s")
    rid = st_.create_run(name="big", project="p", status="finished").id
    # in several writes, as a training script's flushes would do
    steps, walls, values = data[:3]
    for lo in range(0, len(steps), 7_000):
        sl = slice(lo, lo + 7_000)
        st_.append_points(rid, {"loss": PointBatch(steps[sl], walls[sl], values[sl])})
    yield st_, rid, data
    st_.close()


def sketch_rows(store: SQLiteStore) -> int:
    return store._q("SELECT COUNT(*) FROM chunk_sketches")[0][0]


def test_large_chunks_get_a_sketch_small_ones_do_not(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s") as s:
        rid = s.create_run(name="r", project="p").id
        s.append_points(
            rid, {"a": PointBatch(list(range(SKETCH_MIN - 1)), [0.0] * 1023, [1.0] * 1023)}
        )
        assert sketch_rows(s) == 0
        s.append_points(rid, {"a": PointBatch([5000], [0.0], [2.0])})  # the tail grows to 1024
        assert sketch_rows(s) == 1
        s.replace_points(rid, {"b": PointBatch([1], [0.0], [1.0])})
        assert sketch_rows(s) == 0


def test_overview_of_the_whole_series(big) -> None:
    store, rid, (steps, _, _, up, down) = big
    got = store.read_overview(rid, "loss")
    assert got is not None
    s, covered = got
    assert covered == len(steps)
    assert len(s) < len(steps) // 10  # a small part of the data
    assert s.values.max() == 50.0 and s.values.min() == -50.0
    assert up in s.steps and down in s.steps
    assert s.steps[0] == steps[0] and s.steps[-1] == steps[-1]
    assert np.all(np.diff(s.steps) > 0)
    # the points are the stored points, walls included
    full = store.read_series(rid, ["loss"])["loss"]
    pos = np.searchsorted(full.steps, s.steps)
    assert np.array_equal(full.values[pos], s.values) and np.array_equal(full.walls[pos], s.walls)


def test_overview_of_a_range_cuts_at_its_edges(big) -> None:
    store, rid, (steps, _, _, up, _) = big
    lo, hi = up - 1001, up + 30_001  # odd bounds, inside chunks
    s, covered = store.read_overview(rid, "loss", lo, hi)
    assert covered == sum(1 for x in steps if lo <= x <= hi)
    assert s.steps.min() >= lo and s.steps.max() <= hi
    assert s.values.max() == 50.0
    # the first and last points of the range are in it
    inside = [x for x in steps if lo <= x <= hi]
    assert s.steps[0] == inside[0] and s.steps[-1] == inside[-1]
    assert store.read_overview(rid, "loss", 10**9, 10**9 + 5) is None
    assert store.read_overview(rid, "no such key") is None


def test_chunks_without_sketches_are_read_in_full(big) -> None:
    store, rid, (steps, *_rest) = big
    with_sketch = store.read_overview(rid, "loss")
    store._conn.execute("DELETE FROM chunk_sketches")  # as a store written before sketches
    s, covered = store.read_overview(rid, "loss")
    assert covered == len(steps)
    assert np.array_equal(s.steps, with_sketch[0].steps)
    assert np.array_equal(s.values, with_sketch[0].values)


def test_overlapping_chunks_give_no_overview(big) -> None:
    store, rid, _ = big
    store.append_points(rid, {"loss": PointBatch([3, 5], [0.0, 0.0], [7.0, 8.0])})  # rewrites
    assert store.read_overview(rid, "loss") is None


def test_deleting_a_run_deletes_its_sketches(big) -> None:
    store, rid, _ = big
    assert sketch_rows(store) > 0
    store.delete_runs([rid])
    assert sketch_rows(store) == 0


def test_a_store_from_before_sketches_is_upgraded_and_read(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with SQLiteStore(path) as s:
        rid = s.create_run(name="r", project="p").id
        s.append_points(rid, {"a": PointBatch(list(range(3000)), [0.0] * 3000, [1.0] * 3000)})
    con = sqlite3.connect(path / "expbook.db")
    con.execute("DROP TABLE chunk_sketches")
    con.execute("DROP TABLE reports")
    con.execute("DELETE FROM migrations WHERE name='0002_sketches_reports'")
    con.commit()
    con.close()
    with SQLiteStore(path, readonly=True) as s:  # readonly: not migrated, still readable
        assert s.read_overview(rid, "a") is None
        assert s.reports() == [] and s.get_report("x") is None
        assert len(s.read_series(rid, ["a"])["a"]) == 3000
    with SQLiteStore(path) as s:  # writable: migrated
        s.append_points(rid, {"a": PointBatch(list(range(3000, 4100)), [0.0] * 1100, [2.0] * 1100)})
        got = s.read_overview(rid, "a")
        assert got is not None and got[1] == 4100


def test_the_logging_process_path_stores_the_same_sketch(tmp_path: Path, monkeypatch) -> None:
    """Without numpy (a training script) the writer computes the same sketch."""
    import expbook.store.sqlite_write as sqlite_mod

    steps, walls, values, *_ = spiky(5_000, seed=3)
    values[100:300] = [math.nan] * 200
    stored = []
    for name, fn in [("numpy", sketch_indices_numpy), ("python", sketch_indices_python)]:
        monkeypatch.setattr(sqlite_mod, "sketch_indices", fn)
        with SQLiteStore(tmp_path / name) as s:
            rid = s.create_run(name="r", project="p").id
            s.append_points(rid, {"loss": PointBatch(steps, walls, values)})
            stored.append(s._q("SELECT seq, data FROM chunk_sketches ORDER BY seq"))
    assert stored[0] == stored[1] and len(stored[0]) == 1


def test_arrays_and_lists_store_the_same_sketch(tmp_path: Path) -> None:
    """Importers hand the store numpy arrays, the logging API lists: same sketches."""
    steps, walls, values, *_ = spiky(3_000, seed=5)
    stored = []
    for name, batch in [
        ("lists", PointBatch(steps, walls, values)),
        ("arrays", PointBatch(np.array(steps), np.array(walls), np.array(values))),
    ]:
        with SQLiteStore(tmp_path / name) as s:
            rid = s.create_run(name="r", project="p").id
            s.replace_points(rid, {"loss": batch})
            stored.append(s._q("SELECT seq, data FROM chunk_sketches ORDER BY seq"))
    assert stored[0] == stored[1] and len(stored[0]) == 1
