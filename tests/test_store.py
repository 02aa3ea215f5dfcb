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


def test_every_encoder_writes_the_same_bytes() -> None:
    """The C encoder of lists, the numpy encoder and the pure-Python one agree byte for byte."""
    import random

    import numpy as np

    from expbook.store import codec

    assert codec._c_encode is not None, "the _speedups extension was not compiled"
    rng = random.Random(1)
    n = 2000
    steps = sorted(rng.sample(range(10**6), n))
    walls = [float("nan")] * 3 + [1.7e9 + i * 0.37 for i in range(n - 3)]
    values = [rng.choice([rng.random(), float("nan"), float("inf"), -0.0]) for _ in range(n)]
    in_c = codec.encode(steps, walls, values)
    with_numpy = codec.encode_python(np.array(steps), np.array(walls), np.array(values))
    import sys

    saved = sys.modules.pop("numpy")
    try:
        pure = codec.encode_python(steps, walls, values)
    finally:
        sys.modules["numpy"] = saved
    assert in_c == with_numpy == pure
    s, _, v = codec.decode_lists(in_c)
    assert s == steps and all(same(a, b) for a, b in zip(v, values))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**61), 2**61),  # deltas fit in int64
            st.one_of(st.floats(width=64), st.integers(0, 2**40), st.just(float("nan"))),
            st.one_of(st.floats(width=64), st.integers(-(2**53), 2**53), st.booleans()),
        ),
        max_size=200,
    )
)
def test_the_c_encoder_matches_the_python_one(points: list[tuple[int, float, float]]) -> None:
    import sys

    from expbook.store import codec

    steps = [p[0] for p in points]
    walls = [p[1] for p in points]
    values = [p[2] for p in points]
    saved = sys.modules.pop("numpy", None)
    try:
        pure = codec.encode_python(steps, walls, values)
    finally:
        if saved is not None:
            sys.modules["numpy"] = saved
    assert codec.encode(steps, walls, values) == pure


def test_chunks_are_compressed_by_isal_and_stay_zlib_streams() -> None:
    """ISA-L writes the chunks where it is installed (a dependency on this platform): the
    same zlib stream format, so a store written with either compressor reads the same."""
    import zlib

    from expbook.store import codec

    assert codec.COMPRESSOR == "isal"
    steps = list(range(0, 6000, 3))
    walls = [1.7e9 + i * 0.25 for i in range(len(steps))]
    values = [((s * 7919) % 1000) / 100.0 for s in steps]
    blob = codec.encode(steps, walls, values)
    head, body = blob[: codec._HEAD.size], blob[codec._HEAD.size :]
    raw = zlib.decompress(body)  # the standard library reads ISA-L's stream
    stdlib = head + zlib.compress(raw, 1)  # a chunk as an expbook without isal writes it
    assert stdlib != blob  # two compressors, two byte strings...
    for chunk in (blob, stdlib):  # ...the same points
        got_steps, got_walls, got_values = codec.decode_lists(chunk)
        assert got_steps == steps and got_values == values
        assert all(abs(a - b) < 1e-3 for a, b in zip(got_walls, walls))
        assert codec.value_at(chunk, 300, 0, 5997) == values[100]
        assert codec.decode_checked(chunk, 8192)[0].tolist() == steps


def test_the_c_encoder_refuses_what_python_refuses() -> None:
    from expbook.store import codec

    for bad in (["x"], [None]):
        with pytest.raises(TypeError):
            codec.encode([1], [0.0], bad)
        with pytest.raises(TypeError):
            codec.encode_python([1], [0.0], bad)
    with pytest.raises(TypeError):
        codec.encode([1], [None], [1.0])
    with pytest.raises(ValueError):
        codec.encode([1, 2], [0.0], [1.0, 2.0])


# -- values_at: the value at one step for many runs in one query ---------------------------


def series_value_at(store: SQLiteStore, run_id: str, key: str, step: int) -> float | None:
    """What read_series says is the value at ``step`` (None: no point there)."""
    s = store.read_series(run_id, [key]).get(key)
    if s is None:
        return None
    hits = [v for st_, v in zip(s.steps.tolist(), s.values.tolist()) if st_ == step]
    return hits[0] if hits else None


@given(
    st.lists(  # runs, each a list of batches written one after another
        st.lists(
            st.lists(st.tuples(st.integers(0, 40), floats), min_size=1, max_size=15),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(-2, 42),
)
@settings(max_examples=80, deadline=None)
def test_values_at_equals_read_series(tmp_path_factory, runs, step) -> None:
    # batches in any order: overlapping chunks, repeated steps (a later write wins), gaps, NaN
    store = SQLiteStore(tmp_path_factory.mktemp("s"))
    ids = []
    for i, batches in enumerate(runs):
        run = store.create_run(name=f"r{i}", project="p")
        ids.append(run.id)
        for b in batches:
            store.append_points(
                run.id, {"k": PointBatch([s for s, _ in b], [0.0] * len(b), [v for _, v in b])}
            )
    want = {}
    for rid in ids:
        v = series_value_at(store, rid, "k", step)
        if v is not None:
            want[rid] = v
    for got in (
        store.values_at("k", step),
        store.values_at("k", step, ids),
        store.values_at("k", step, ids, project="p"),
    ):
        assert got.keys() == want.keys()
        assert all(same(got[r], want[r]) for r in want)
    store.close()


def test_values_at_chunks_out_of_order_and_gaps(store_path: str) -> None:
    store = SQLiteStore(store_path)
    a = store.create_run(name="a", project="p")
    b = store.create_run(name="b", project="p")
    c = store.create_run(name="c", project="q")
    nan = float("nan")
    # a: steps 0..2999 in one chunk, then steps 1000..1999 rewritten later (a newer chunk)
    n = 3000
    store.append_points(
        a.id, {"k": PointBatch(list(range(n)), [0.0] * n, [float(i) for i in range(n)])}
    )
    store.append_points(
        a.id, {"k": PointBatch(list(range(1000, 2000)), [0.0] * 1000, [-1.0] * 999 + [nan])}
    )
    # b: even steps only (a chunk whose step range has gaps), then a later chunk
    # covering step 501 (odd) whose range also covers 500, which it does not hold
    store.append_points(
        b.id, {"k": PointBatch(list(range(0, 2000, 2)), [0.0] * 1000, [0.5] * 1000)}
    )
    store.append_points(b.id, {"k": PointBatch([499, 501], [0.0, 0.0], [7.0, 9.0])})
    # c: another project, another key
    store.append_points(
        c.id, {"k": PointBatch([500], [0.0], [3.0]), "j": PointBatch([500], [0.0], [4.0])}
    )
    (n_chunks,) = store._q(
        "SELECT COUNT(*) FROM chunks WHERE kid=(SELECT kid FROM keys WHERE name='k')"
    )[0]
    assert n_chunks >= 5  # the cases above really are several chunks per run

    assert store.values_at("k", 500) == {a.id: 500.0, b.id: 0.5, c.id: 3.0}
    assert store.values_at("k", 1500) == {a.id: -1.0, b.id: 0.5}
    assert store.values_at("k", 501) == {a.id: 501.0, b.id: 9.0}
    assert store.values_at("k", 499, [b.id]) == {b.id: 7.0}
    assert store.values_at("k", 1001, project="p") == {a.id: -1.0}  # b has no odd step there
    got = store.values_at("k", 1999)  # NaN stays NaN; b has no odd step
    assert set(got) == {a.id} and math.isnan(got[a.id])
    assert store.values_at("k", 1998) == {a.id: -1.0, b.id: 0.5}
    assert store.values_at("k", 500, project="q") == {c.id: 3.0}
    assert store.values_at("j", 500) == {c.id: 4.0}
    assert store.values_at("k", 500, [a.id]) == {a.id: 500.0}
    assert store.values_at("k", 500, []) == {}
    assert store.values_at("k", 10**9) == {}
    assert store.values_at("k", -1) == {}
    assert store.values_at("nope", 500) == {}
    assert store.values_at("k", 2999, [a.id, a.id, "unknown"]) == {a.id: 2999.0}
    for rid in (a.id, b.id):
        for step in (0, 1, 499, 500, 501, 1000, 1001, 1998, 1999, 2000, 2999):
            want = series_value_at(store, rid, "k", step)
            got_v = store.values_at("k", step, [rid]).get(rid)
            assert (want is None and got_v is None) or same(got_v, want), (rid, step)


def test_values_at_many_runs_one_pass(store_path: str, monkeypatch) -> None:
    # more runs than are looked up by id: the one-pass path, keeping only the asked runs
    from expbook.store import sqlite_read as sq

    monkeypatch.setattr(sq, "_FEW_RUNS", 3)
    store = SQLiteStore(store_path)
    ids = []
    for i in range(10):
        run = store.create_run(name=f"r{i}", project="p")
        ids.append(run.id)
        steps = list(range(0, 100, 1 + i % 3))
        store.append_points(
            run.id, {"k": PointBatch(steps, [0.0] * len(steps), [i + s / 100 for s in steps])}
        )
    asked = ids[::2]
    got = store.values_at("k", 43, asked)  # runs 0 and 6 have step 43 (steps of 1)
    want = {r: series_value_at(store, r, "k", 43) for r in asked}
    assert got == {r: v for r, v in want.items() if v is not None}
    assert got == {ids[0]: 0.43, ids[6]: 6.43}
    assert store.values_at("k", 42, ids[:2]) == {ids[0]: 0.42, ids[1]: 1.42}


def test_codec_value_at_reads_the_right_point() -> None:
    from expbook.store import codec

    steps = [3, 4, 5, 9, 10, 200]
    values = [0.1, float("nan"), 0.3, -0.0, float("inf"), 6.0]
    blob = encode(steps, [0.0] * 6, values)
    for s, v in zip(steps, values):
        assert same(codec.value_at(blob, s, 3, 200), v)
    for s in (0, 2, 6, 8, 11, 199, 201):
        assert codec.value_at(blob, s, 3, 200) is None
    dense = encode(list(range(10, 20)), [0.0] * 10, [float(i) for i in range(10)])
    assert [codec.value_at(dense, s, 10, 19) for s in range(10, 20)] == [
        float(i) for i in range(10)
    ]
    assert codec.value_at(dense, 20, 10, 19) is None


# -- run records: JSON columns decoded on first use -------------------------------------------


def test_listed_records_decode_json_lazily_and_compare_equal(store_path: str) -> None:
    import copy
    import dataclasses

    from expbook.store import RunRecord

    store = SQLiteStore(store_path)
    made = store.create_run(
        name="r", project="p", config={"lr": 0.1, "opt": {"name": "adam"}}, tags=["x"]
    )
    store.update_run(made.id, summary={"acc": 0.5}, meta={"host": "h"})
    (rec,) = store.list_runs("p")
    assert "config" not in vars(rec)  # not decoded yet
    assert rec.config == {"lr": 0.1, "opt": {"name": "adam"}}
    assert "config" in vars(rec)
    assert rec.tags == ["x"] and rec.summary == {"acc": 0.5} and rec.meta == {"host": "h"}
    assert rec.source == {"kind": "logged"}
    fresh = store.get_run(made.id)
    plain = RunRecord(**{f.name: getattr(fresh, f.name) for f in dataclasses.fields(RunRecord)})
    assert rec == fresh and fresh == rec and rec == plain and plain == rec
    assert rec != dataclasses.replace(plain, name="other")
    assert dataclasses.replace(rec, name="other").name == "other"
    assert dataclasses.asdict(rec)["config"]["opt"] == {"name": "adam"}
    assert copy.deepcopy(rec) == rec and copy.copy(rec).config == rec.config
    assert "_raw_config" not in repr(rec) and "'lr': 0.1" in repr(rec)
    with pytest.raises(AttributeError):
        rec.no_such_field  # noqa: B018
    rec.config["lr"] = 0.2  # decoded once: the same object every time
    assert rec.config["lr"] == 0.2


def test_list_runs_oldest_first_ties_in_creation_order(store_path: str) -> None:
    store = SQLiteStore(store_path)
    made = [
        store.create_run(name=n, project=p, created_at=t)
        for n, p, t in [
            ("c", "p", 30.0),
            ("a", "p", 10.0),
            ("tie1", "q", 20.0),
            ("b", "p", 20.0),
            ("tie2", "p", 20.0),
            ("z", "q", 5.0),
        ]
    ]
    assert [r.name for r in store.list_runs()] == ["z", "a", "tie1", "b", "tie2", "c"]
    assert [r.name for r in store.list_runs("p")] == ["a", "b", "tie2", "c"]
    assert [r.name for r in store.list_runs("nope")] == []
    assert {r.id for r in store.list_runs()} == {r.id for r in made}


def test_metric_summaries_filters(store_path: str) -> None:
    store = SQLiteStore(store_path)
    a = store.create_run(name="a", project="p")
    b = store.create_run(name="b", project="q")
    store.append_points(a.id, {"x": PointBatch([1, 2], [0.0, 0.0], [3.0, float("nan")])})
    store.append_points(a.id, {"y": PointBatch([5], [0.0], [1.0])})
    store.append_points(b.id, {"x": PointBatch([7], [0.0], [2.0])})
    everything = store.metric_summaries()
    assert {r: sorted(m) for r, m in everything.items()} == {a.id: ["x", "y"], b.id: ["x"]}
    assert math.isnan(everything[a.id]["x"].last_value) and everything[a.id]["x"].min_value == 3
    assert everything[b.id]["x"].first_value == 2.0 and everything[b.id]["x"].count == 1
    assert store.metric_summaries(keys=["y", "nope"]) == {a.id: {"y": everything[a.id]["y"]}}
    assert store.metric_summaries(keys=["nope"]) == {}
    assert store.metric_summaries(keys=[]) == {}
    assert set(store.metric_summaries(keys=["x"], project="q")) == {b.id}
    assert set(store.metric_summaries([a.id], keys=["x", "y"])[a.id]) == {"x", "y"}
    assert store.metric_summaries([b.id], keys=["y"]) == {}
    assert store.metric_summaries([]) == {}


def test_values_at_in_two_threads_same_values_and_errors(store_path: str, monkeypatch) -> None:
    from expbook.store import sqlite_read as sq

    store = SQLiteStore(store_path)
    ids = []
    for i in range(9):
        run = store.create_run(name=f"r{i}", project="p")
        ids.append(run.id)
        steps = list(range(0, 60, 1 + i % 2))
        vals = [float("nan") if i == 4 else i + s / 100 for s in steps]
        store.append_points(run.id, {"k": PointBatch(steps, [0.0] * len(steps), vals)})
        if i == 7:  # a later chunk rewriting step 10
            store.append_points(run.id, {"k": PointBatch([10], [0.0], [-7.0])})
    one = store.values_at("k", 10)
    monkeypatch.setattr(sq, "_THREADS_FROM", 2)
    monkeypatch.setattr(sq, "_cpus", lambda: 2)
    two = store.values_at("k", 10)
    assert list(one) == list(two) and len(two) == 9
    assert all(same(one[r], two[r]) for r in one)
    assert two[ids[7]] == -7.0 and math.isnan(two[ids[4]]) and two[ids[8]] == 8.1
    assert set(store.values_at("k", 11)) == {ids[i] for i in range(0, 9, 2)}
    # a chunk that cannot be decoded, in the second thread's half: the error reaches the caller
    (rid, seq, blob) = store._q(
        "SELECT c.rid, c.seq, c.data FROM chunks c JOIN runs r ON r.rid = c.rid WHERE r.id = ?",
        (ids[8],),
    )[0]
    store._conn.execute(
        "UPDATE chunks SET data = ? WHERE rid = ? AND seq = ?", (b"\x02" + blob[1:], rid, seq)
    )
    with pytest.raises(StoreError, match="unknown chunk version 2"):
        store.values_at("k", 10)


def test_metric_summaries_key_added_between_reads(store_path: str, monkeypatch) -> None:
    # another process may add a key after the key names are read and before the summaries
    store = SQLiteStore(store_path)
    run = store.create_run(name="a", project="p")
    store.append_points(
        run.id, {"x": PointBatch([1], [0.0], [1.0]), "y": PointBatch([1], [0.0], [2.0])}
    )
    real_q = store._q

    def stale_names(sql, params=()):
        rows = real_q(sql, params)
        return [r for r in rows if r[1] != "y"] if sql == "SELECT kid, name FROM keys" else rows

    monkeypatch.setattr(store, "_q", stale_names)
    got = store.metric_summaries()
    assert sorted(got[run.id]) == ["x", "y"] and got[run.id]["y"].last_value == 2.0


def bits(xs) -> list[bytes]:
    """Each float's 8 bytes: equality that also tells NaN payloads, -0.0 and 0.0 apart."""
    import struct

    return [struct.pack("<d", x) for x in xs]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), unique=True, max_size=300),
    st.floats(-1e12, 1e12) | st.just(float("nan")),
    st.data(),
)
def test_list_decoder_equals_numpy_decoder(steps, wall0, data) -> None:
    import numpy as np

    from expbook.store import codec

    steps.sort()
    n = len(steps)
    offset = st.floats(-1e6, 1e6) | st.just(float("nan"))
    offsets = data.draw(st.lists(offset, min_size=n, max_size=n))
    walls = [wall0 + o for o in offsets]
    values = data.draw(st.lists(floats, min_size=n, max_size=n))
    blobs = {codec.encode(steps, walls, values)}
    if n:
        blobs.add(codec.encode_python(np.array(steps), np.array(walls), np.array(values)))
    for blob in blobs:
        s, w, v = codec.decode_lists(blob)
        sa, wa, va = codec.decode_arrays(blob)
        assert type(s) is list and all(type(x) is int for x in s)
        assert all(type(x) is float for x in w + v)
        assert s == sa.tolist() == steps
        assert bits(w) == bits(wa.tolist())
        assert bits(v) == bits(va.tolist()) == bits(values)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-(2**61), 2**61), max_size=300),  # any order: deltas of either sign
    st.floats(-1e12, 1e12) | st.just(float("nan")),
    st.data(),
)
def test_the_c_list_decoder_matches_the_python_one(steps, wall0, data) -> None:
    """decode_lists builds its lists in C where the extension is built: the same ints and
    the same floats, bit for bit, as the standard-library path."""
    import zlib

    from expbook.store import codec

    assert codec._c_decode is not None, "the _speedups extension was not compiled"
    n = len(steps)
    walls = [wall0 + o for o in data.draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n))]
    values = data.draw(st.lists(floats, min_size=n, max_size=n))
    blob = codec.encode(steps, walls, values)
    _, n, w0 = codec._HEAD.unpack_from(blob)
    raw = zlib.decompress(blob[codec._HEAD.size :])
    c_steps, c_walls, c_values = codec._c_decode(raw, n, w0)
    py_steps, py_walls, py_values = codec._lists(raw, n, w0)
    assert c_steps == py_steps == steps and all(type(x) is int for x in c_steps)
    assert bits(c_walls) == bits(py_walls)
    assert bits(c_values) == bits(py_values) == bits(values)
    assert codec.decode_lists(blob)[0] == steps


def test_the_c_list_decoder_refuses_a_body_of_the_wrong_size() -> None:
    from expbook.store import codec

    assert codec._c_decode is not None
    with pytest.raises(ValueError, match="holds 19 bytes, not 20 for 1 points"):
        codec._c_decode(b"\0" * 19, 1, 0.0)
    with pytest.raises(ValueError):
        codec._c_decode(b"", -1, 0.0)
    with pytest.raises(TypeError):
        codec._c_decode(bytearray(20), 1, 0.0)
    assert codec._c_decode(b"", 0, 0.0) == ([], [], [])


def test_a_corrupt_chunk_stream_raises_zlib_error_whichever_library_inflates() -> None:
    """ISA-L's errors are raised as zlib.error, which the stores' read paths catch."""
    import zlib

    from expbook.store import codec
    from expbook.store.sqlite_core import _READ_ERRORS

    blob = codec.encode(list(range(100)), [1.7e9] * 100, [0.5] * 100)
    body = bytearray(blob[codec._HEAD.size :])
    body[-1] ^= 0xFF  # the stream's checksum
    for damaged in (blob[: codec._HEAD.size] + bytes(body), blob[:-5]):
        for decode in (codec.decode_lists, codec.decode_arrays):
            with pytest.raises(zlib.error) as caught:
                decode(damaged)
            assert isinstance(caught.value, _READ_ERRORS)


def test_list_decoder_refuses_a_damaged_chunk() -> None:
    import zlib

    from expbook.store import codec

    blob = codec.encode([1, 2, 3], [0.0] * 3, [1.0, 2.0, 3.0])
    short = blob[:13] + zlib.compress(zlib.decompress(blob[13:])[:-8])
    with pytest.raises(ValueError, match="chunk body"):
        codec.decode_lists(short)
    with pytest.raises(ValueError, match="version"):
        codec.decode_lists(b"\x02" + blob[1:])


@given(
    st.lists(  # batches written one after another: out of order, repeated steps, NaN
        st.lists(st.tuples(st.integers(0, 3000), floats), min_size=1, max_size=40),
        min_size=1,
        max_size=6,
    ),
    st.one_of(st.none(), st.integers(-5, 3005)),
    st.one_of(st.none(), st.integers(-5, 3005)),
    st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_read_series_lists_equals_read_series(
    tmp_path_factory, batches, step_min, step_max, long_first
) -> None:
    store = SQLiteStore(tmp_path_factory.mktemp("s"))
    run = store.create_run(name="r", project="p")
    if long_first:  # a chunk of several thousand points under the small batches
        n = 2500
        store.append_points(
            run.id, {"k": PointBatch(list(range(0, 2 * n, 2)), [1.7e9] * n, [0.5] * n)}
        )
    for i, b in enumerate(batches):
        walls = [1.7e9 + i + j / 8 for j in range(len(b))]
        store.append_points(
            run.id,
            {
                "k": PointBatch([s for s, _ in b], walls, [v for _, v in b]),
                "j": PointBatch([s + 1 for s, _ in b], walls, [float(i)] * len(b)),
            },
        )
    for keys in (None, ["k"], ["j", "k", "k"], []):
        arrays = store.read_series(run.id, keys, step_min, step_max)
        lists = store.read_series_lists(run.id, keys, step_min, step_max)
        assert list(lists) == list(arrays)
        for key, s in lists.items():
            a = arrays[key]
            assert type(s.steps) is list and s.steps == a.steps.tolist()
            assert bits(s.walls) == bits(a.walls.tolist())
            assert bits(s.values) == bits(a.values.tolist())
    store.close()


def test_read_series_lists_of_a_key_without_points_in_range(store_path: str) -> None:
    store = SQLiteStore(store_path)
    run = store.create_run(name="r", project="p")
    store.append_points(run.id, {"k": PointBatch([5, 6], [0.0, 0.0], [1.0, 2.0])})
    assert store.read_series_lists(run.id, ["k"], step_min=10) == {"k": ([], [], [])}
    assert store.read_series_lists(run.id, ["nope"]) == {}
    assert store.read_series_lists(run.id, step_max=5)["k"].values == [1.0]


def test_reading_points_as_lists_never_imports_numpy(store_path: str) -> None:
    import subprocess
    import sys

    import expbook

    run = expbook.init(project="p", name="r", store=store_path)
    for i in range(3000):
        run.log({"loss": 1 / (i + 1), "acc": i / 3000}, step=i)
    run.finish()
    code = f"""
import sys, json
import expbook
from expbook.cli import main
book = expbook.open_store({store_path!r})
pts = book.series_points("r", "loss")
recs = book.series_records("r", ["acc"])
assert main(["history", "r", "loss", "--store", {store_path!r}, "--format", "json"]) == 0
print(json.dumps({{"numpy": "numpy" in sys.modules, "n": len(pts), "last": pts[-1],
                  "acc": recs["acc"][-1]}}))
"""
    import json
    import os
    from pathlib import Path

    src = str(Path(expbook.__file__).resolve().parents[1])  # this expbook, not an installed one
    env = {**os.environ, "PYTHONPATH": src}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr

    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got == {"numpy": False, "n": 3000, "last": [2999, 1 / 3000], "acc": [2999, 2999 / 3000]}


def test_series_points_of_an_unknown_key_is_an_error(store_path: str) -> None:
    import expbook
    from expbook.errors import ExpbookError

    run = expbook.init(project="p", name="r", store=store_path)
    run.log({"loss": 1.0}, step=0)
    run.finish()
    book = expbook.open_store(store_path)
    assert book.series_points("r", "loss") == [(0, 1.0)]
    with pytest.raises(ExpbookError, match="no metric 'acc'"):
        book.series_points("r", "acc")
