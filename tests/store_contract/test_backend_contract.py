"""The Backend contract: the same calls give the same results on every store kind
(``conftest.FACTORIES``: the embedded SQLite store, PostgreSQL, and the team server's remote
store where it is registered)."""

from __future__ import annotations

import math
import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expbook.errors import AmbiguousRun, RunNotFound, StoreError
from expbook.store import MetricSummary, PointBatch


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return (math.isnan(a) and math.isnan(b)) or a == b


def brute(points: list[tuple[int, float]]) -> tuple[list[int], list[float], MetricSummary]:
    """Last write wins per step; the series and its summary computed the obvious way."""
    by_step: dict[int, float] = {}
    for s, v in points:
        by_step[s] = v
    steps = sorted(by_step)
    vals = [by_step[s] for s in steps]
    finite = [(v, s) for s, v in zip(steps, vals) if not math.isnan(v)]
    mn = min(finite, key=lambda t: (t[0], t[1])) if finite else (None, None)
    mx = max(finite, key=lambda t: (t[0], -t[1])) if finite else (None, None)
    summ = MetricSummary(
        len(steps),
        sum(math.isnan(v) for v in vals),
        steps[0],
        vals[0],
        None,
        steps[-1],
        vals[-1],
        None,
        mn[0],
        mn[1],
        mx[0],
        mx[1],
    )
    return steps, vals, summ


def check_summary(got: MetricSummary, want: MetricSummary) -> None:
    for field in MetricSummary._fields:
        if field in ("first_wall", "last_wall"):
            continue
        assert same(getattr(got, field), getattr(want, field)), (field, got, want)


def batch(steps: list[int], values: list[float], wall: float = 1.7e9) -> PointBatch:
    return PointBatch(steps, [wall + i for i in range(len(steps))], values)


# -- runs ----------------------------------------------------------------------------------


def test_runs_create_get_update_list_page_delete(backend, reader) -> None:
    a = backend.create_run(
        name="alpha",
        project="p1",
        config={"lr": 0.1, "model": {"depth": 4}, "z": [1, 2]},
        tags=["x", "y"],
        group="g",
        notes="first",
        meta={"host": "h"},
        status="finished",
        created_at=100.0,
    )
    b = backend.create_run(name="beta", project="p1", run_id="beta0001", created_at=200.0)
    c = backend.create_run(name=None, project="p2", created_at=150.0)
    assert b.id == "beta0001"
    assert c.name.endswith("-1")  # generated: adjective-noun-count
    assert a.status == "finished" and a.heartbeat_at is None and a.pid is None
    assert b.status == "running" and b.pid == os.getpid() and b.heartbeat_at is not None

    got = reader.get_run(a.id)
    assert got == a
    assert list(got.config) == ["lr", "model", "z"]  # key order kept
    assert got.config["model"] == {"depth": 4} and got.tags == ["x", "y"]
    assert (got.group, got.notes, got.meta, got.source) == (
        "g",
        "first",
        {"host": "h"},
        {"kind": "logged"},
    )
    assert reader.get_run("alpha").id == a.id
    assert (
        reader.get_run(a.id[:5]).id == a.id
        or len({r.id for r in reader.list_runs() if r.id.startswith(a.id[:5])}) > 1
    )
    with pytest.raises(RunNotFound):
        reader.get_run("no-such-run")
    with pytest.raises(RunNotFound):
        reader.get_run("alpha", project="p2")

    assert [r.id for r in reader.list_runs()] == [a.id, c.id, b.id]  # by created_at
    assert [r.id for r in reader.list_runs("p1")] == [a.id, b.id]
    assert reader.list_runs("nope") == []
    assert reader.projects() == ["p1", "p2"]

    backend.update_run(
        b.id,
        status="failed",
        exit_code=3,
        finished_at=300.0,
        summary={"acc": 0.9},
        config={"seed": 1},
        group="g2",
        tags=["t"],
    )
    got = reader.get_run(b.id)
    assert (got.status, got.exit_code, got.finished_at) == ("failed", 3, 300.0)
    assert got.summary == {"acc": 0.9} and got.config == {"seed": 1}
    assert got.group == "g2" and got.tags == ["t"]
    assert got.updated_at >= b.updated_at
    with pytest.raises(RunNotFound):
        backend.update_run("missing0", name="x")
    with pytest.raises(ValueError):
        backend.update_run(b.id, status="weird")
    with pytest.raises(ValueError):
        backend.update_run(b.id, rid=5)
    with pytest.raises(StoreError):
        backend.create_run(name="dup", project="p1", run_id="beta0001")

    total, page = reader.page_runs(None, "created_at DESC, rid DESC", 2, 0)
    assert total == 3 and [r.id for r in page] == [b.id, c.id]
    total, page = reader.page_runs("p1", "lower(name) ASC, created_at ASC, rid ASC", 1, 1)
    assert total == 2 and [r.id for r in page] == [b.id]

    assert backend.delete_runs([a.id, "missing0"]) == 1
    with pytest.raises(RunNotFound):
        reader.get_run(a.id)
    assert [r.id for r in reader.list_runs()] == [c.id, b.id]


def test_ambiguous_names_and_prefixes(backend, reader) -> None:
    backend.create_run(name="same", project="p", run_id="abc00001")
    backend.create_run(name="same", project="p", run_id="abc00002")
    with pytest.raises(AmbiguousRun):
        reader.get_run("same")
    with pytest.raises(AmbiguousRun):
        reader.get_run("abc0000")
    assert reader.get_run("abc00002").id == "abc00002"
    with pytest.raises(RunNotFound):
        reader.get_run("ab%")  # no pattern characters reach LIKE unescaped


def test_heartbeat_and_state(backend, reader) -> None:
    r = backend.create_run(name="r", project="p")
    backend.update_run(r.id, heartbeat_at=time.time() - 3600)
    assert reader.get_run(r.id).state == "crashed"
    backend.heartbeat([r.id])
    assert reader.get_run(r.id).state == "running"


# -- points and summaries --------------------------------------------------------------------


def test_points_in_order_out_of_order_repeated_nan(backend, reader) -> None:
    r = backend.create_run(name="r", project="p")
    nan, inf = float("nan"), float("inf")
    writes = [
        ([0, 1, 2, 3], [4.0, 3.0, nan, 2.0]),
        ([4, 5], [1.5, inf]),
        ([2, 7, 6], [0.5, 9.0, -inf]),  # out of order, step 2 again
        ([7, 7], [8.0, 8.5]),  # a repeated step inside one batch: the last one wins
        ([10], [nan]),
    ]
    everything: list[tuple[int, float]] = []
    for steps, values in writes:
        backend.append_points(r.id, {"loss": batch(steps, values)})
        everything += list(zip(steps, values))
    steps, vals, want = brute(everything)
    summ = reader.metric_summaries([r.id])[r.id]["loss"]
    check_summary(summ, want)
    assert summ.count == 9 and summ.nan_count == 1 and summ.min_value == -inf

    lists = reader.read_series_lists(r.id)["loss"]
    assert lists.steps == steps
    assert all(same(a, b) for a, b in zip(lists.values, vals))
    arrays = reader.read_series(r.id, ["loss"])["loss"]
    assert arrays.steps.tolist() == steps
    assert all(same(a, b) for a, b in zip(arrays.values.tolist(), vals))
    part = reader.read_series_lists(r.id, ["loss"], step_min=2, step_max=6)["loss"]
    assert part.steps == [2, 3, 4, 5, 6] and part.values[0] == 0.5
    assert reader.read_series(r.id, ["nokey"]) == {}
    empty = reader.read_series_lists(r.id, ["loss"], step_min=100)
    assert empty["loss"].steps == []

    assert same(reader.values_at("loss", 2)[r.id], 0.5)
    assert reader.values_at("loss", 7) == {r.id: 8.5}
    assert reader.values_at("loss", 8) == {}
    assert reader.values_at("nokey", 1) == {}


@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 40), st.floats(allow_nan=True, allow_infinity=True)),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=5,
    )
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_summary_matches_series_after_any_writes(backend, reader, batches) -> None:
    r = backend.create_run(name=None, project="prop")
    everything: list[tuple[int, float]] = []
    for b in batches:
        backend.append_points(r.id, {"k": batch([s for s, _ in b], [v for _, v in b])})
        everything += b
    steps, vals, want = brute(everything)
    check_summary(reader.metric_summaries([r.id], ["k"])[r.id]["k"], want)
    got = reader.read_series_lists(r.id, ["k"])["k"]
    assert got.steps == steps and all(same(a, b) for a, b in zip(got.values, vals))
    step = random.choice(steps)
    assert same(reader.values_at("k", step, [r.id]).get(r.id), vals[steps.index(step)])


def test_many_points_chunks_overviews_tail(backend, reader) -> None:
    r = backend.create_run(name="big", project="p")
    n = 140_000  # more than 16 chunks of 8,192 points in one write
    steps = list(range(n))
    values = [math.sin(i / 500.0) + (5.0 if i == 77_777 else 0.0) for i in steps]
    backend.append_points(r.id, {"v": batch(steps, values), "w": batch([0, 1], [1.0, 2.0])})
    backend.append_points(r.id, {"v": batch([n, n + 1], [0.25, 0.5])})  # grows the tail
    s = reader.metric_summaries([r.id], ["v"])[r.id]["v"]
    assert s.count == n + 2 and s.max_step == 77_777 and s.last_value == 0.5
    got = reader.read_series(r.id, ["v"])["v"]
    assert len(got) == n + 2 and got.values[77_777] == values[77_777]
    assert reader.stats()["points"] == n + 4
    ov = reader.read_overview(r.id, "v")
    assert ov is not None
    series, covered = ov
    assert covered == n + 2 and len(series) < n / 10
    assert series.values.max() == values[77_777]  # the extreme survives the sketch
    ranged = reader.read_overview(r.id, "v", 1000, 2000)
    assert ranged is not None and ranged[1] == 1001
    many = reader.read_overviews([r.id], ["v", "w"])
    assert len(many[r.id, "v"]) < n / 10 and many[r.id, "w"].values.tolist() == [1.0, 2.0]
    start = reader.tail_start(r.id, ["v"], 100)
    assert start is not None and start <= n + 1 - 99
    assert reader.values_at("v", 130_001) == {r.id: values[130_001]}


def test_summaries_keys_projects_values_at_many_runs(backend, reader) -> None:
    ids = []
    for i in range(5):
        run = backend.create_run(name=f"r{i}", project="a" if i < 3 else "b", created_at=i)
        backend.append_points(run.id, {"acc": batch([0, 10], [0.1 * i, 0.2 * i])})
        if i % 2 == 0:
            backend.append_points(run.id, {"loss": batch([0, 5, 10], [3.0, 2.0, 1.0 + i])})
        ids.append(run.id)
    summ = reader.metric_summaries()
    assert set(summ) == set(ids)
    assert set(summ[ids[0]]) == {"acc", "loss"} and set(summ[ids[1]]) == {"acc"}
    assert set(reader.metric_summaries(project="b")) == set(ids[3:])
    assert set(reader.metric_summaries(keys=["loss"])) == {ids[0], ids[2], ids[4]}
    assert reader.metric_summaries(run_ids=[]) == {}
    assert reader.metric_summaries(keys=["nope"]) == {}
    assert reader.metric_keys() == {
        rid: (["acc", "loss"] if i % 2 == 0 else ["acc"]) for i, rid in enumerate(ids)
    }
    assert reader.metric_keys("b") == {ids[3]: ["acc"], ids[4]: ["acc", "loss"]}
    assert reader.keys(ids[0]) == ["acc", "loss"]
    assert reader.values_at("acc", 10, project="a") == {
        ids[0]: 0.0,
        ids[1]: pytest.approx(0.2),
        ids[2]: pytest.approx(0.4),
    }
    assert reader.values_at("loss", 10, run_ids=[ids[2], ids[1]]) == {ids[2]: 3.0}
    assert reader.values_at("loss", 10, run_ids=[]) == {}
    with pytest.raises(RunNotFound):
        backend.append_points("missing0", {"acc": batch([0], [1.0])})


def test_replace_points_and_values(backend, reader) -> None:
    r = backend.create_run(name="r", project="p")
    backend.append_points(r.id, {"a": batch([0, 1], [1.0, 2.0]), "b": batch([0], [5.0])})
    backend.replace_points(r.id, {"a": batch([3], [7.0])})
    assert reader.keys(r.id) == ["a"]
    assert reader.read_series_lists(r.id)["a"].steps == [3]
    backend.append_values(r.id, [("note", 1, 1.0, '"hi"'), ("cfg", 0, 2.0, '{"a":1}')])
    backend.append_values(r.id, [("note", 1, 3.0, '"again"'), ("note", 2, 4.0, "null")])
    assert reader.read_values(r.id) == [
        ("cfg", 0, 2.0, {"a": 1}),
        ("note", 1, 3.0, "again"),
        ("note", 2, 4.0, None),
    ]
    assert reader.read_values(r.id, "cfg") == [("cfg", 0, 2.0, {"a": 1})]


# -- imports, reports, artifacts, media, events ----------------------------------------------


def test_sources(backend, reader) -> None:
    r = backend.create_run(name="imp", project="p", source={"kind": "csv", "path": "/x.csv"})
    assert reader.get_run(r.id).source == {"kind": "csv", "path": "/x.csv"}
    assert reader.source_of("p", "/x.csv") is None
    files = [{"path": "/x.csv", "size": 10, "mtime": 1.0}]
    backend.record_source(
        r.id,
        project="p",
        source="/x.csv",
        external_id="",
        format="csv",
        content_hash="h1",
        files=files,
    )
    assert reader.source_of("p", "/x.csv") == (r.id, "h1")
    backend.record_source(
        r.id,
        project="p",
        source="/x.csv",
        external_id="",
        format="csv",
        content_hash="h2",
        files=files,
    )
    assert reader.source_of("p", "/x.csv") == (r.id, "h2")
    assert reader.source_files("/x.csv") == [(r.id, "imp", files)]
    newer = [{"path": "/x.csv", "size": 10, "mtime": 2.0}]
    backend.set_source_files("p", "/x.csv", "", newer)
    assert reader.source_files("/x.csv", "p") == [(r.id, "imp", newer)]
    backend.refresh_source_files("/x.csv", None, files)
    assert reader.source_files("/x.csv") == [(r.id, "imp", files)]
    assert reader.source_files("/x.csv", "other") == []
    backend.set_artifacts(r.id, [("/ckpt/model.pt", "checkpoint", "abc"), ("/p.csv", "pred", "")])
    assert reader.artifacts(r.id) == [
        ("/ckpt/model.pt", "checkpoint", "abc"),
        ("/p.csv", "pred", ""),
    ]
    listed = reader.list_artifacts(project="p")
    assert [a["name"] for a in listed] == [f"run-{r.id}-model.pt", f"run-{r.id}-p.csv"]
    assert all(a["external"] for a in listed)


def test_reports(backend, reader, tmp_path) -> None:
    assert reader.reports() == []
    path = str(tmp_path / "doc.md")
    rid = backend.record_report(
        path, title="T", text="# hi", figures={"f": {"data": []}}, project="p", info={"n": 1}
    )
    rid2 = backend.record_report(path, title="T2", text="# hi2", figures={}, project=None)
    assert rid == rid2
    listed = reader.reports()
    assert [(r["id"], r["title"], r["project"]) for r in listed] == [(rid, "T2", None)]
    got = reader.get_report(rid)
    assert got["text"] == "# hi2" and got["figures"] == {} and got["path"] == path
    assert reader.get_report("nope") is None


def test_media_and_artifacts(backend, reader) -> None:
    from expbook.media._files import put_bytes

    r = backend.create_run(name="m", project="p")
    rel = put_bytes(backend.files_dir, "media", b"\x89PNG fake image", ".png")
    rel2 = put_bytes(backend.files_dir, "media", b"second", ".png")
    backend.add_media(
        r.id,
        [
            ("img", 0, 0, 1.0, "image", rel, {"w": 1}),
            ("img", 0, 1, 1.0, "image", rel2, {"w": 2}),
            ("img", 5, 0, 2.0, "image", rel, {}),
        ],
    )
    backend.add_media(r.id, [("img", 5, 0, 3.0, "image", rel2, {"again": True})])
    rows = reader.read_media(r.id)
    assert [(m["key"], m["step"], m["index"], m["path"]) for m in rows] == [
        ("img", 0, 0, rel),
        ("img", 0, 1, rel2),
        ("img", 5, 0, rel2),
    ]
    assert rows[2]["meta"] == {"again": True}
    with open(os.path.join(reader.files_dir, rel), "rb") as f:
        assert f.read() == b"\x89PNG fake image"
    assert reader.media_keys(r.id) == [
        {"key": "img", "type": "image", "count": 2, "objects": 3, "first_step": 0, "last_step": 5}
    ]

    blob = put_bytes(backend.files_dir, "artifacts", b"weights", "")
    v0 = backend.add_artifact_version(
        project="p",
        name="model",
        type="model",
        digest="d0",
        files=[("w.bin", "sha0", 7, blob)],
        run_id=r.id,
        aliases=["best"],
    )
    assert v0["version"] == "v0" and v0["aliases"] == ["latest", "best"]
    same_again = backend.add_artifact_version(
        project="p", name="model", type="model", digest="d0", files=[], run_id=r.id
    )
    assert same_again["version"] == "v0"
    v1 = backend.add_artifact_version(
        project="p", name="model", type="model", digest="d1", files=[], run_id=None
    )
    assert v1["version"] == "v1"
    from expbook.errors import UsageError

    with pytest.raises(UsageError):
        backend.add_artifact_version(
            project="p", name="model", type="dataset", digest="d2", files=[], run_id=None
        )
    user = backend.create_run(name="user", project="p")
    backend.record_artifact_use("p", "model", 0, user.id)
    backend.record_artifact_use("p", "model", 0, user.id)
    got = reader.get_artifact("model", "best", "p")
    assert got["version"] == "v0" and got["used_by"] == [user.id]
    assert got["files"] == [{"path": "w.bin", "sha256": "sha0", "size": 7, "blob": blob}]
    with open(os.path.join(reader.files_dir, blob), "rb") as f:
        assert f.read() == b"weights"
    assert reader.get_artifact("model")["version"] == "v1"
    assert reader.get_artifact("model", "v7") is None
    assert [a["version"] for a in reader.list_artifacts(project="p", name="model")] == ["v0", "v1"]
    assert [a["version"] for a in reader.list_artifacts(run_id=user.id)] == ["v0"]
    assert reader.artifact_names("p") == ["model"]


def test_events(backend, reader) -> None:
    r = backend.create_run(name="e", project="p")
    e1 = backend.add_event(r.id, "alert", level="warn", title="t", text="x" * 10, wall=5.0)
    e2 = backend.add_event(r.id, "env", data={"packages": ["a==1"]})
    assert e2 > e1
    assert [e["kind"] for e in reader.events(r.id)] == ["alert", "env"]
    assert reader.events(r.id, "env")[0]["data"] == {"packages": ["a==1"]}
    assert reader.events(r.id, "alert")[0]["wall"] == 5.0
    with pytest.raises(RunNotFound):
        backend.add_event("missing0", "alert")
    backend.delete_runs([r.id])
    assert reader.events(r.id) == []


# -- tokens and sync counters (the team server's) -------------------------------------------


def test_tokens(backend) -> None:
    assert backend.tokens() == []
    backend.add_token(
        token_id="t1", project="*", scope="admin", name="ci", secret_hash="h1", created_at=10.0
    )
    backend.add_token(
        token_id="t2", project="p", scope="read", name=None, secret_hash="h2", created_at=20.0
    )
    listed = backend.tokens()
    assert [t["id"] for t in listed] == ["t1", "t2"]
    assert set(listed[0]) == {
        "id",
        "project",
        "scope",
        "name",
        "created_at",
        "revoked_at",
        "last_used_at",
    }
    assert backend.token_by_hash("h2") == {
        "id": "t2",
        "project": "p",
        "scope": "read",
        "name": None,
        "created_at": 20.0,
        "revoked_at": None,
        "last_used_at": None,
    }
    assert backend.token_by_hash("nope") is None
    backend.touch_token("t2", 30.0)
    assert backend.token_by_hash("h2")["last_used_at"] == 30.0
    assert backend.revoke_token("t2") is True
    assert backend.revoke_token("zzz") is False
    revoked = backend.token_by_hash("h2")
    assert revoked is not None and revoked["revoked_at"] is not None


def test_sync_counters(backend, kind) -> None:
    """The team server's counters, on the stores a server writes to (the remote kind's
    ``backend`` is the server's own SQLite store: the remote store itself is read-only)."""
    r = backend.create_run(name="s", project="p")
    assert backend.received_counts(r.id) == {}
    assert backend.received_counts(r.id, ["a", "b"]) == {"a": 0, "b": 0}
    with backend.atomic():
        have = backend.received_counts(r.id, ["a"])
        backend.append_points(r.id, {"a": batch([0, 1, 2], [1.0, 2.0, 3.0])})
        backend.set_received_counts(r.id, {"a": have["a"] + 3})
    assert backend.received_counts(r.id, ["a", "b"]) == {"a": 3, "b": 0}
    try:
        with backend.atomic():
            backend.append_points(r.id, {"a": batch([3], [4.0])})
            backend.set_received_counts(r.id, {"a": 4})
            raise RuntimeError("upload failed")
    except RuntimeError:
        pass
    assert backend.received_counts(r.id) == {"a": 3}  # the batch and its counter: neither
    assert reader_count(backend, r.id) == 3
    with pytest.raises(RunNotFound):
        backend.received_counts("missing0")


def reader_count(store, run_id: str) -> int:
    return store.metric_summaries([run_id])[run_id]["a"].count


# -- transactions ---------------------------------------------------------------------------


def test_atomic_rollback_and_nesting(backend, reader) -> None:
    r = backend.create_run(name="keep", project="p")
    backend.append_points(r.id, {"x": batch([0], [1.0])})
    with pytest.raises(RuntimeError), backend.atomic():
        backend.create_run(name="gone", project="p", run_id="gone0001")
        with backend.atomic():  # joins the outer transaction
            backend.append_points(r.id, {"x": batch([1, 2], [2.0, 3.0])})
            backend.update_run(r.id, notes="changed")
        raise RuntimeError("boom")
    with pytest.raises(RunNotFound):
        reader.get_run("gone0001")
    assert reader.get_run(r.id).notes is None
    assert reader.metric_summaries([r.id])[r.id]["x"].count == 1
    assert reader.read_series_lists(r.id)["x"].steps == [0]
    # the store works on after the rollback (cached ids were dropped with it)
    backend.append_points(r.id, {"x": batch([1], [5.0])})
    assert reader.read_series_lists(r.id)["x"].values == [1.0, 5.0]
    with backend.atomic():
        backend.create_run(name="kept", project="p", run_id="kept0001")
    assert reader.get_run("kept0001").name == "kept"


def test_read_only_kinds_refuse_writes(kind, backend, reader) -> None:
    """A read-only kind (conftest.READ_ONLY: the remote store) refuses every write with a
    one-line StoreError and stores nothing; the other kinds read and write one store."""
    from .conftest import READ_ONLY

    if kind not in READ_ONLY:
        assert reader is backend
        return
    before = [r.id for r in reader.list_runs()]
    with pytest.raises(StoreError, match="read-only"):
        reader.create_run(name="nope", project="p")
    run = backend.create_run(name="r", project="p")
    with pytest.raises(StoreError, match="read-only"):
        reader.append_points(run.id, {"k": batch([0], [1.0])})
    with pytest.raises(StoreError, match="read-only"):
        reader.update_run(run.id, notes="x")
    assert [r.id for r in reader.list_runs()] == [*before, run.id]
    assert reader.metric_summaries([run.id]) == {}


def test_sweeps(backend) -> None:
    """Sweep state (``expbook sweep``): the owner taken by compare-and-set, updates only by
    the owner, trials upserted, JSON fields round-tripped."""
    spec = {"name": "s", "params": {"lr": [0.1, 0.01]}, "metric": {"name": "loss"}}
    assert backend.sweep_get("s") is None and backend.sweep_list() == []
    assert backend.sweep_claim("s", spec=spec, owner="A", pid=1, host="h", expect=None)
    assert not backend.sweep_claim("s", spec=spec, owner="B", pid=2, host="h", expect=None)
    assert backend.sweep_update("s", owner="A", heartbeat_at=5.0, info={"done": 1})
    assert backend.sweep_claim("s", spec=spec, owner="B", pid=2, host="h", expect="A")
    assert not backend.sweep_update("s", owner="A", status="finished")
    row = backend.sweep_get("s")
    assert (row["owner"], row["pid"], row["status"], row["spec"], row["info"]) == (
        "B",
        2,
        "running",
        spec,
        {"done": 1},
    )
    backend.sweep_put_trials(
        "s",
        [
            {"idx": 0, "params": {"lr": 0.1}, "status": "pending"},
            {"idx": 1, "params": {"lr": 0.01}, "status": "pending"},
        ],
    )
    backend.sweep_put_trials("s", [{"idx": 1, "status": "finished", "value": 0.5}])
    t0, t1 = backend.sweep_trials("s")
    assert (t0["params"], t0["status"], t0["value"]) == ({"lr": 0.1}, "pending", None)
    assert (t1["params"], t1["status"], t1["value"]) == ({"lr": 0.01}, "finished", 0.5)
    assert backend.sweep_trials("s", 1) == [t1]
    assert [r["name"] for r in backend.sweep_list()] == ["s"]
