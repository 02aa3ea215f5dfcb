"""The SQLite store: points, summaries, NaN/inf, ordering, migrations, location, size."""

from __future__ import annotations

import math
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expbook.errors import AmbiguousRun, RunNotFound, StoreError
from expbook.store import PointBatch, SQLiteStore, connect, resolve_location
from expbook.store.codec import decode_arrays, decode_lists, encode
from expbook.store.migrations import MIGRATIONS

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@given(st.lists(st.tuples(st.integers(-(2**40), 2**40), floats), max_size=50))
@settings(max_examples=150, deadline=None)
def test_codec_round_trips_every_float(points) -> None:
    steps = [s for s, _ in points]
    values = [v for _, v in points]
    walls = [1.7e9 + i for i in range(len(points))]
    blob = encode(steps, walls, values)
    s2, w2, v2 = decode_lists(blob)
    assert s2 == steps
    assert all(same(a, b) for a, b in zip(v2, values))
    assert all(abs(a - b) < 1e-3 for a, b in zip(w2, walls))
    sa, _, va = decode_arrays(blob)
    assert sa.tolist() == steps
    assert all(same(a, b) for a, b in zip(va.tolist(), values))


def brute_summary(points: list[tuple[int, float]]) -> dict:
    """Last write wins per step, then the summary computed the slow, obvious way."""
    by_step: dict[int, float] = {}
    for s, v in points:
        by_step[s] = v
    steps = sorted(by_step)
    vals = [by_step[s] for s in steps]
    finite = [(v, s) for s, v in zip(steps, vals) if not math.isnan(v)]
    mn = min(finite, key=lambda t: (t[0], t[1])) if finite else (None, None)
    mx = max(finite, key=lambda t: (t[0], -t[1])) if finite else (None, None)
    return {
        "count": len(steps),
        "nan_count": sum(math.isnan(v) for v in vals),
        "first_step": steps[0],
        "first_value": vals[0],
        "last_step": steps[-1],
        "last_value": vals[-1],
        "min_value": mn[0],
        "min_step": mn[1],
        "max_value": mx[0],
        "max_step": mx[1],
        "series": list(zip(steps, vals)),
    }


@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 60), floats), min_size=1, max_size=20),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=80, deadline=None)
def test_summary_matches_series_after_any_writes(tmp_path_factory, batches) -> None:
    store = SQLiteStore(tmp_path_factory.mktemp("s"))
    run = store.create_run(name="r", project="p")
    everything = []
    for b in batches:
        store.append_points(
            run.id, {"k": PointBatch([s for s, _ in b], [0.0] * len(b), [v for _, v in b])}
        )
        everything.extend(b)
    want = brute_summary(everything)
    got = store.metric_summaries([run.id])[run.id]["k"]._asdict()
    for field in (
        "count",
        "nan_count",
        "first_step",
        "last_step",
        "min_value",
        "min_step",
        "max_value",
        "max_step",
    ):
        assert got[field] == want[field], field
    assert same(got["first_value"], want["first_value"])
    assert same(got["last_value"], want["last_value"])
    series = store.read_series(run.id, ["k"])["k"]
    assert series.steps.tolist() == [s for s, _ in want["series"]]
    assert all(same(a, b) for a, (_, b) in zip(series.values.tolist(), want["series"]))
    store.close()


def test_small_writes_merge_into_chunks(store_path: str) -> None:
    store = SQLiteStore(store_path)
    run = store.create_run(name="r", project="p")
    for i in range(50):
        store.append_points(run.id, {"k": PointBatch([i], [0.0], [float(i)])})
    (n_chunks,) = store._q("SELECT COUNT(*) FROM chunks")[0]
    assert n_chunks == 1
    assert store.read_series(run.id)["k"].values.tolist() == [float(i) for i in range(50)]


def test_step_range_read(store_path: str) -> None:
    store = SQLiteStore(store_path)
    run = store.create_run(name="r", project="p")
    n = 30000
    store.append_points(
        run.id, {"k": PointBatch(list(range(n)), [0.0] * n, [float(i) for i in range(n)])}
    )
    s = store.read_series(run.id, ["k"], step_min=10000, step_max=10010)["k"]
    assert s.steps.tolist() == list(range(10000, 10011))


def test_bytes_per_point_is_small(store_path: str) -> None:
    import random

    store = SQLiteStore(store_path)
    rng = random.Random(0)
    n = 20000
    for r in range(5):
        run = store.create_run(name=f"r{r}", project="p")
        store.append_points(
            run.id,
            {
                k: PointBatch(
                    list(range(n)),
                    [1.7e9 + 0.01 * i for i in range(n)],
                    [rng.random() for _ in range(n)],
                )
                for k in ("loss", "acc")
            },
        )
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stats = store.stats()
    assert stats["points"] == 5 * 2 * n
    assert stats["bytes"] / stats["points"] <= 24


def test_migrations_are_recorded(store_path: str) -> None:
    SQLiteStore(store_path).close()
    conn = sqlite3.connect(f"{store_path}/expbook.db")
    names = [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    SQLiteStore(store_path).close()  # reopening applies nothing twice
    assert conn.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)


def test_run_lookup_by_prefix_and_name(store_path: str) -> None:
    store = SQLiteStore(store_path)
    a = store.create_run(name="same", project="p", run_id="aaaa1111")
    store.create_run(name="same", project="p", run_id="aaab2222")
    store.create_run(name="other", project="q", run_id="bbbb3333")
    assert store.get_run("aaaa1").id == a.id
    assert store.get_run("other").id == "bbbb3333"
    with pytest.raises(AmbiguousRun, match="2 runs are named"):
        store.get_run("same")
    with pytest.raises(AmbiguousRun, match="prefix"):
        store.get_run("aaa")
    with pytest.raises(RunNotFound):
        store.get_run("nothing")
    assert store.delete_runs(["aaaa1111"]) == 1
    assert store.get_run("same").id == "aaab2222"


def test_readonly_and_missing_stores(tmp_path) -> None:
    with pytest.raises(StoreError, match="no expbook store"):
        SQLiteStore(tmp_path / "none", create=False)
    bad = tmp_path / "notadb"
    bad.write_text("hello")
    with pytest.raises(StoreError, match="not an expbook store"):
        connect(str(bad))


def test_resolve_location(tmp_path, monkeypatch) -> None:
    (tmp_path / "a" / ".expbook").mkdir(parents=True)
    (tmp_path / "a" / "b").mkdir()
    assert resolve_location(None, start=str(tmp_path / "a" / "b")) == str(
        tmp_path / "a" / ".expbook"
    )
    assert resolve_location(None, start=str(tmp_path)) == str(tmp_path / ".expbook")
    monkeypatch.setenv("EXPBOOK_STORE", str(tmp_path / "env"))
    assert resolve_location(None, start=str(tmp_path / "a")) == str(tmp_path / "env")
    assert resolve_location(str(tmp_path / "x")) == str(tmp_path / "x")


def test_failed_transaction_leaves_nothing(store_path: str) -> None:
    store = SQLiteStore(store_path)
    run = store.create_run(name="r", project="p")
    with pytest.raises(RuntimeError), store.atomic():
        store.append_points(run.id, {"k": PointBatch([1], [0.0], [1.0])})
        raise RuntimeError("boom")
    assert store.read_series(run.id) == {}
    assert store.metric_summaries() == {}


def test_numpy_encoder_writes_the_same_bytes() -> None:
    import random

    import numpy  # noqa: F401  (loaded: encode takes its vectorised path for long chunks)

    from expbook.store import codec

    rng = random.Random(1)
    n = 2000
    steps = sorted(rng.sample(range(10**6), n))
    walls = [float("nan")] * 3 + [1.7e9 + i * 0.37 for i in range(n - 3)]
    values = [rng.choice([rng.random(), float("nan"), float("inf"), -0.0]) for _ in range(n)]
    fast = codec.encode(steps, walls, values)
    import sys

    saved = sys.modules.pop("numpy")
    try:
        slow = codec.encode(steps, walls, values)
    finally:
        sys.modules["numpy"] = saved
    assert fast == slow
    s, _, v = codec.decode_lists(fast)
    assert s == steps and all(same(a, b) for a, b in zip(v, values))
