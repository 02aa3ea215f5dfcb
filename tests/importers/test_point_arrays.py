"""Series carried as numpy arrays (PointArrays) from the parser to the store.

The arrays path must store exactly what the list-of-tuples path stores: the same chunk bytes,
the same summaries, the same series (NaN, infinities and -0.0 kept bit for bit)."""

from __future__ import annotations

import math
import random
import sqlite3
import struct

import numpy as np
import pytest

from expbook.importers import driver, textlog
from expbook.importers.model import ImportedRun, PointArrays
from expbook.store import SQLiteStore, codec
from expbook.store import sqlite_write as sqlite_store

NAN = float("nan")
INF = float("inf")


def bits(x: float | None) -> object:
    return None if x is None else struct.pack("<d", x)


def sample_points(n: int, seed: int, walls: str = "mixed") -> list[tuple[int, float, float | None]]:
    rng = random.Random(seed)
    special = [NAN, INF, -INF, 0.0, -0.0, 1e-310, 5e-324, 1.7976931348623157e308]
    pts = []
    for i in range(n):
        v = special[i % len(special)] if i % 7 == 3 else rng.uniform(-5, 5)
        if walls == "none":
            w = None
        elif walls == "mixed":
            w = None if i % 5 == 1 else 1.7e9 + i * 0.25
        else:
            w = 1.7e9 + i * 0.25
        pts.append((i * 3, v, w))
    return pts


def as_arrays(pts: list[tuple[int, float, float | None]]) -> PointArrays:
    steps = np.array([p[0] for p in pts], dtype=np.int64)
    vals = np.array([p[1] for p in pts], dtype=np.float64)
    if all(p[2] is None for p in pts):
        return PointArrays(steps, vals, None)
    walls = np.array([NAN if p[2] is None else p[2] for p in pts], dtype=np.float64)
    return PointArrays(steps, vals, walls)


def test_point_arrays_read_as_point_tuples() -> None:
    pts = [(1, 0.5, None), (2, NAN, 10.0), (5, -0.0, None)]
    arr = as_arrays(pts)
    assert len(arr) == 3
    got = list(arr)
    assert got[0] == (1, 0.5, None) and got[2][2] is None and got[1][2] == 10.0
    assert math.isnan(got[1][1]) and math.copysign(1.0, got[2][1]) == -1.0
    assert arr[0] == (1, 0.5, None) and arr[-1][:2] == (5, -0.0)
    assert type(arr[0][0]) is int and type(arr[0][1]) is float
    assert arr[2:] == got[2:] and len(arr[1:]) == 2
    assert arr[::2] == [got[0], got[2]]
    no_nan = [(1, 0.5, None), (3, 2.0, 7.5)]
    assert as_arrays(no_nan) == no_nan and no_nan == as_arrays(no_nan)
    assert as_arrays(no_nan) != [(1, 0.5, None)]
    assert as_arrays(no_nan) + [(4, 1.0, None)] == [*no_nan, (4, 1.0, None)]  # noqa: RUF005
    assert [(0, 1.0, None)] + as_arrays(no_nan) == [(0, 1.0, None), *no_nan]  # noqa: RUF005
    assert PointArrays(np.zeros(0, np.int64), np.zeros(0)).points() == []


def test_add_point_after_arrays_keeps_every_point() -> None:
    run = ImportedRun(name="r", format="textlog", source="/x")
    run.series["loss"] = as_arrays([(1, 0.5, None)])
    run.add_point("loss", 2, 0.25)
    assert run.series["loss"] == [(1, 0.5, None), (2, 0.25, None)]
    assert run.n_points == 2


@pytest.mark.parametrize("n", [1, 2, 3, 511, 512, 700])
def test_encode_of_arrays_gives_the_bytes_of_lists(n: int) -> None:
    pts = sample_points(n, n, walls="mixed")
    steps = [p[0] for p in pts]
    values = [p[1] for p in pts]
    walls = [NAN if p[2] is None else p[2] for p in pts]
    for first_wall_missing in (False, True):
        if first_wall_missing:
            walls = [NAN, *walls[1:]]
        want = codec.encode(steps, walls, values)  # lists (pure Python below 512 points)
        got = codec.encode(
            np.array(steps, dtype=np.int64), np.array(walls), np.array(values, dtype=np.float64)
        )
        assert got == want


def summary_bits(s: object) -> list[object]:
    return [bits(x) if isinstance(x, float) else x for x in s]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "values",
    [
        [1.0, -0.0, 0.0, 2.0, 0.0, -0.0],
        [0.0, -0.0, 3.0, 3.0],
        [NAN, INF, -INF, 1.0, INF, -INF],
        [NAN, NAN],
        [NAN, 5.0, NAN],
        [2.5],
    ],
)
def test_summarize_arrays_equals_summarize_lists(values: list[float]) -> None:
    steps = list(range(10, 10 + len(values)))
    walls = [NAN] + [1.0 + i for i in range(1, len(values))]
    want = sqlite_store._summarize(steps, walls, values)
    got = sqlite_store._summarize(
        np.array(steps, dtype=np.int64), np.array(walls), np.array(values, dtype=np.float64)
    )
    assert summary_bits(got) == summary_bits(want)
    assert all(type(a) is type(b) for a, b in zip(got, want))


def test_dedupe_arrays_keeps_the_last_value_of_a_repeated_step() -> None:
    steps = [5, 1, 3, 1, 5, 7]
    values = [0.5, 1.0, 3.0, 1.5, 5.5, 7.0]
    walls = [float(i) for i in range(6)]
    want = sqlite_store._dedupe(sqlite_store.PointBatch(steps, walls, values))
    got = sqlite_store._dedupe(
        sqlite_store.PointBatch(np.array(steps, np.int64), np.array(walls), np.array(values))
    )
    assert [list(x) for x in want] == [np.asarray(x).tolist() for x in got]
    assert want[0] == [1, 3, 5, 7] and want[2] == [1.5, 3.0, 5.5, 7.0]


def stored(store_dir) -> tuple[list, list]:
    db = sqlite3.connect(str(next(store_dir.glob("*.db"))))
    chunks = db.execute(
        "SELECT k.name, c.seq, c.n, c.step_min, c.step_max, c.data FROM chunks c "
        "JOIN keys k ON k.kid = c.kid ORDER BY k.name, c.seq"
    ).fetchall()
    summ = db.execute(
        "SELECT k.name, s.* FROM metric_summary s JOIN keys k ON k.kid = s.kid ORDER BY k.name"
    ).fetchall()
    db.close()
    return chunks, [
        [bits(x) if isinstance(x, float) else x for x in row[:1] + row[3:]] for row in summ
    ]


def test_arrays_through_write_run_store_what_lists_store(tmp_path) -> None:
    series = {
        "long": sample_points(20_000, 1, walls="all"),  # several chunks
        "mixed": sample_points(300, 2, walls="mixed"),  # below the numpy encode threshold
        "nowall": sample_points(1_000, 3, walls="none"),
        "one": [(4, -0.0, None)],
        # out of order with a repeated step: sorted, the last value kept
        "repeat": [(3, 1.0, 100.0), (1, 2.0, 101.0), (3, NAN, 102.0), (2, INF, None)],
    }
    results = []
    for kind in ("lists", "arrays"):
        store_dir = tmp_path / kind
        store = SQLiteStore(store_dir)
        run = ImportedRun(name="r", format="textlog", source=str(tmp_path / "x.log"))
        run.created_at, run.finished_at = 1.7e9, 1.7e9 + 10
        for key, pts in series.items():
            run.series[key] = list(pts) if kind == "lists" else as_arrays(pts)
        out = driver.write_run(store, run, "p", str(tmp_path / "x.log"))
        assert out.status == "imported" and out.points == sum(map(len, series.values()))
        read = {
            k: (s.steps.tolist(), [bits(v) for v in s.values.tolist()], [bits(w) for w in s.walls])
            for k, s in store.read_series(out.id).items()
        }
        results.append((stored(store_dir), read))
        store.close()
    assert results[0][0][0] == results[1][0][0]  # chunk bytes
    assert results[0][0][1] == results[1][0][1]  # summaries, bit for bit
    assert results[0][1] == results[1][1]  # series read back
    assert set(results[1][1]) == set(series)
    steps, vals, _ = results[1][1]["repeat"]
    assert (
        steps == [1, 2, 3] and vals[1] == bits(INF) and math.isnan(struct.unpack("<d", vals[2])[0])
    )


def test_textlog_parse_gives_arrays_with_the_points_of_the_log() -> None:
    text = "".join(
        f"step {i} | loss={1.0 / (i + 1)!r} | acc={'nan' if i == 3 else i / 10}\n"
        for i in range(50)
    )
    res = textlog.parse_text(text)
    assert isinstance(res.series["loss"], PointArrays)
    assert res.series["loss"].points() == [(i, 1.0 / (i + 1), None) for i in range(50)]
    acc = res.series["acc"].points()
    assert math.isnan(acc[3][1]) and acc[4] == (4, 0.4, None)
