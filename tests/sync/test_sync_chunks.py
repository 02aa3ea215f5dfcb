"""Uploads of a client's stored chunks as they are (``{key, start, chunks}`` batches), the
run's fields and points in one request, and the checks the server makes of a chunk it did
not write, against a real ``expbook server`` on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
import math
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import expbook
from expbook.store import PointBatch, SQLiteStore, codec, connect
from expbook.sync import client as sync_client
from expbook.sync.engine import Engine, run_fields

from .conftest import ServerProc, assert_same_run, log_offline


def _post(url: str, body: dict[str, Any]) -> httpx.Response:
    """POST as the sync client does (a run's summary may hold NaN, as Python writes it)."""
    content = json.dumps(body, allow_nan=True).encode()
    return httpx.post(url, content=content, headers={"Content-Type": "application/json"})


def _num(v: float) -> Any:
    """A value as the write API's JSON lists take it."""
    if math.isnan(v):
        return None
    return v if math.isfinite(v) else ("Infinity" if v > 0 else "-Infinity")


def _columns(series: Any, key: str, start: int, stop: int) -> dict[str, Any]:
    """A batch of positions ``start`` to ``stop`` of a series read back, as columns."""
    part = slice(start, stop)
    return {
        "key": key,
        "start": start,
        "steps": series.steps[part],
        "values": [_num(v) for v in series.values[part]],
        "times": series.walls[part],
    }


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def _stored_chunks(db: str, run_id: str, key: str) -> list[bytes]:
    with connect(db) as s:
        rows = s._q(
            "SELECT c.data FROM chunks c JOIN runs r ON r.rid = c.rid JOIN keys k "
            "ON k.kid = c.kid WHERE r.id=? AND k.name=? ORDER BY c.seq",
            (run_id, key),
        )
    return [bytes(r[0]) for r in rows]


def _local(store: Path, run_id: str) -> tuple[Any, dict[str, list[bytes]]]:
    with SQLiteStore(store) as s:
        rec = s.get_run(run_id)
        keys = sorted(s.metric_summaries([run_id])[run_id])
        return rec, s.encoded_tails(run_id, {k: 0 for k in keys})


def test_chunks_are_kept_as_sent_with_the_run_in_one_request(
    server: ServerProc, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=20_000, keys=2)  # 8192 + 8192 + 3616 points a key
    rec, tails = _local(local, run_id)
    assert [codec.points_in(b) for b in tails["m0"]] == [8192, 8192, 3616]
    body = {
        "batches": [
            {"key": k, "start": 0, "chunks": [_b64(b) for b in blobs]}
            for k, blobs in sorted(tails.items())
        ],
        "run": run_fields(rec),
    }
    r = _post(f"{server.url}/api/v1/runs/{run_id}/points", body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["created"] is True and got["status"] == "finished"
    assert got["received"] == {"m0": 20_000, "m1": 20_000}
    for key, blobs in tails.items():  # the client's bytes, not encoded again
        assert _stored_chunks(server.db, run_id, key) == blobs
    assert_same_run(local, server.db, run_id)
    with connect(server.db) as s:  # sketches made by the server for the large chunks
        (n,) = s._q(
            "SELECT COUNT(*) FROM chunk_sketches c JOIN runs r ON r.rid = c.rid WHERE r.id=?",
            (run_id,),
        )[0]
        assert n == 6
        assert s.get_run(run_id).config == {"lr": 0.1, "nested": {"a": 1}}
    # the same request again: nothing stored twice
    r = _post(f"{server.url}/api/v1/runs/{run_id}/points", body)
    assert r.status_code == 200 and r.json()["created"] is False
    assert_same_run(local, server.db, run_id)


def test_a_retry_that_overlaps_keeps_only_the_new_points(
    server: ServerProc, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=20_000, keys=1)
    rec, tails = _local(local, run_id)
    blobs = tails["m0"]
    url = f"{server.url}/api/v1/runs/{run_id}/points"
    first = {"batches": [{"key": "m0", "start": 0, "chunks": [_b64(blobs[0])]}]}
    r = _post(url, {**first, "run": run_fields(rec, "running")})
    assert r.status_code == 200 and r.json()["received"] == {"m0": 8192}
    # the server holds 8192; a batch from position 4000 overlaps: only its new part is kept
    with SQLiteStore(local) as s:
        series = s.read_series_lists(run_id)["m0"]
    r = _post(url, {"batches": [_columns(series, "m0", 4000, 12000)]})
    assert r.status_code == 200 and r.json()["received"] == {"m0": 12000}
    # then chunks from 8192 on: the part before 12000 is skipped, the rest kept
    rest = {"batches": [{"key": "m0", "start": 8192, "chunks": [_b64(b) for b in blobs[1:]]}]}
    r = _post(url, {**rest, "run": run_fields(rec)})
    assert r.status_code == 200, r.text
    assert r.json()["received"] == {"m0": 20_000} and r.json()["status"] == "finished"
    assert_same_run(local, server.db, run_id)


def _chunk(steps: list[int], n: int | None = None, body: bytes | None = None) -> bytes:
    blob = codec.encode_python(steps, [1.0] * len(steps), [0.5] * len(steps))
    if n is not None:
        blob = struct.pack("<BId", 1, n, 1.0) + blob[13:]
    if body is not None:
        blob = blob[:13] + body
    return blob


@pytest.mark.parametrize(
    ("chunks", "says"),
    [
        (["not base64!"], "base64 of a chunk"),
        ([_b64(b"\x01\x02")], "shorter than a chunk's header"),
        ([_b64(b"\x02" + _chunk([1, 2])[1:])], "unknown chunk version 2"),
        ([_b64(_chunk([1, 2], n=3))], "not 60 bytes"),
        ([_b64(_chunk([1, 2], n=0))], "0 points"),
        ([_b64(_chunk([1], n=9000, body=zlib.compress(bytes(20 * 9000))))], "9000 points"),
        ([_b64(_chunk([1, 2]) + b"tail")], "not 40 bytes"),
        ([_b64(_chunk([1, 2], body=b"not zlib at all"))], "not zlib"),
        ([_b64(_chunk([5, 6])), _b64(_chunk([6, 7]))], "strictly increasing"),
        ([_b64(_chunk([3, 2]))], "strictly increasing"),
        ([], "non-empty list"),
        ([7], "base64 of a chunk"),
    ],
)
def test_bad_chunks_are_400_and_store_nothing(
    server: ServerProc, chunks: list[Any], says: str
) -> None:
    url = f"{server.url}/api/v1/runs/bad1/points"
    body = {"batches": [{"key": "m", "start": 0, "chunks": chunks}], "run": {"project": "p"}}
    r = _post(url, body)
    assert r.status_code == 400 and says in r.json()["error"], r.text
    assert httpx.get(f"{server.url}/api/v1/store/runs/bad1").status_code == 404


def test_chunks_with_columns_are_refused(server: ServerProc) -> None:
    batch = {"key": "m", "start": 0, "chunks": [_b64(_chunk([1]))], "steps": [1]}
    r = _post(f"{server.url}/api/v1/runs/x1/points", {"batches": [batch], "run": {"project": "p"}})
    assert r.status_code == 400 and "chunks come without steps" in r.json()["error"]


def test_a_gap_with_the_run_fields_creates_no_run(server: ServerProc) -> None:
    url = f"{server.url}/api/v1/runs/gap1/points"
    batch = {"key": "m", "start": 5, "steps": [5, 6], "values": [1.0, 2.0]}
    r = _post(url, {"batches": [batch], "run": {"project": "p", "status": "finished"}})
    assert r.status_code == 409 and r.json()["received"] == {"m": 0}
    assert httpx.get(f"{server.url}/api/v1/store/runs/gap1").status_code == 404
    # an id of another project is refused with the points
    assert httpx.put(f"{server.url}/api/v1/runs/gap1", json={"project": "q"}).status_code == 200
    batch["start"] = 0
    r = _post(url, {"batches": [batch], "run": {"project": "p"}})
    assert r.status_code == 409 and "another project" in r.json()["error"]
    with connect(server.db) as s:
        assert s.received_counts("gap1") == {}


class _Calls:
    """The sync client's requests in this process: (method, path, body)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()
        real = sync_client.Client._call

        def call(client: Any, method: str, path: str, body: Any = None, params: Any = None) -> Any:
            with self.lock:
                self.seen.append((method, path, body))
            return real(client, method, path, body, params)

        monkeypatch.setattr(sync_client.Client, "_call", call)


def test_a_short_run_goes_up_in_one_request_of_its_chunks(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _Calls(monkeypatch)
    local = tmp_path / "local"
    run = expbook.init(project="p", name="short", store=str(local), server=server.url)
    for step in range(3000):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 3000})
    run.finish()
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, _ in calls.seen] == [("POST", "points")]
    body = calls.seen[0][2]
    assert body["run"]["status"] == "finished"
    assert all("chunks" in b and "steps" not in b for b in body["batches"])
    with SQLiteStore(local) as s:
        blobs = s.encoded_tails(run.id, {"loss": 0})["loss"]
    assert _stored_chunks(server.db, run.id, "loss") == blobs
    assert_same_run(local, server.db, run.id)


def test_points_after_a_position_inside_a_chunk_go_as_arrays(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=3000, keys=1)
    with SQLiteStore(local) as s:
        series = s.read_series_lists(run_id)["m0"]
        rec = s.get_run(run_id)
    # the server holds the first 1000 points (an earlier upload of a live run)
    head = _columns(series, "m0", 0, 1000)
    r = _post(
        f"{server.url}/api/v1/runs/{run_id}/points",
        {"batches": [head], "run": run_fields(rec, "running")},
    )
    assert r.status_code == 200, r.text
    calls = _Calls(monkeypatch)
    with SQLiteStore(local) as s, sync_client.Client(server.url) as c:
        engine = Engine(s, c)
        engine._counts[run_id] = {"m0": 1000}  # what this client heard before
        out = engine.sync_run(run_id)
    assert out.sent == 2000 and out.pending == 0 and out.status == "finished"
    (_method, path, body), *rest = calls.seen
    assert path.endswith("/points") and not rest
    (batch,) = body["batches"]
    assert batch["start"] == 1000 and "steps" in batch and "chunks" not in batch
    assert_same_run(local, server.db, run_id)


def test_a_client_that_thinks_the_server_has_more_is_told_by_the_gap(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=500, keys=2)
    with SQLiteStore(local) as s:  # a sync state that says the server had everything
        s.record_sync(server.url, run_id, counts={"m0": 300, "m1": 500}, status="running")
    calls = _Calls(monkeypatch)
    with SQLiteStore(local) as s, sync_client.Client(server.url) as c:
        out = Engine(s, c).sync_run(run_id)
    assert out.pending == 0 and out.status == "finished"
    # the first batch starts at the guessed 300 (a gap: 409), the next ones from 0
    posts = [b["batches"] for m, p, b in calls.seen if p.endswith("/points")]
    assert [b["start"] for b in posts[0]] == [300]
    assert sorted((b["key"], b["start"]) for b in posts[1]) == [("m0", 0), ("m1", 0)]
    assert_same_run(local, server.db, run_id)


# -- the pieces, without a server ------------------------------------------------------------
def test_encoded_tails_leave_out_keys_whose_chunks_are_not_in_order(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s") as s:
        rec = s.create_run(name="r", project="p")
        s.append_points(rec.id, {"a": PointBatch([0, 1, 2], [1.0] * 3, [1.0] * 3)})
        s.append_points(rec.id, {"a": PointBatch(list(range(3, 1500)), [1.0] * 1497, [2.0] * 1497)})
        s.append_points(
            rec.id, {"b": PointBatch(list(range(10, 2000)), [1.0] * 1990, [1.0] * 1990)}
        )
        s.append_points(rec.id, {"b": PointBatch([5], [1.0], [1.0])})  # out of order
        tails = s.encoded_tails(rec.id, {"a": 0, "b": 0})
        assert sorted(tails) == ["a"]
        assert sum(codec.points_in(b) for b in tails["a"]) == 1500
        # a position inside a chunk: no chunk starts there
        assert s.encoded_tails(rec.id, {"a": 2}) == {}


def test_decode_checked_gives_the_points_of_a_good_chunk() -> None:
    steps, walls, values = [0, 3, 9], [10.0, 11.0, math.nan], [1.5, math.nan, -math.inf]
    blob = codec.encode_python(steps, walls, values)
    s, w, v = codec.decode_checked(blob, 10)
    assert s.tolist() == steps and w[:2].tolist() == walls[:2] and math.isnan(w[2])
    assert v[0] == 1.5 and math.isnan(v[1]) and v[2] == -math.inf
    with pytest.raises(ValueError, match="1 to 2"):
        codec.decode_checked(blob, 2)
    assert np.array_equal(codec.decode_arrays(blob)[0], s)


def test_a_final_status_waits_for_the_keys_the_client_only_guessed_were_there(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=500, keys=2)
    with SQLiteStore(local) as s:
        rec = s.get_run(run_id)
        m0 = s.read_series_lists(run_id)["m0"]
        # the sync state says the server had m0 up to 300 and all of m1; it lost m1
        s.record_sync(server.url, run_id, counts={"m0": 300, "m1": 500}, status="running")
    head = _columns(m0, "m0", 0, 300)
    r = _post(
        f"{server.url}/api/v1/runs/{run_id}/points",
        {"batches": [head], "run": run_fields(rec, "running")},
    )
    assert r.status_code == 200, r.text
    calls = _Calls(monkeypatch)
    with SQLiteStore(local) as s, sync_client.Client(server.url) as c:
        out = Engine(s, c).sync_run(run_id)
    assert out.pending == 0 and out.status == "finished"
    statuses = [(body.get("run") or body).get("status") for _m, _p, body in calls.seen]
    assert statuses[0] == "running" and statuses[-1] == "finished", statuses
    assert_same_run(local, server.db, run_id)


def test_chunks_after_a_small_tail_are_merged_into_it(server: ServerProc) -> None:
    """A server whose last chunk of a key is small merges what comes next into it (as the
    stores do for any write): the client's chunk is decoded, not kept as it is."""
    steps = list(range(3000))
    walls = [1_700_000_000.0 + s for s in steps]
    values = [math.cos(s / 50) for s in steps]
    url = f"{server.url}/api/v1/runs/tail1/points"
    head = {"key": "m", "start": 0, "steps": steps[:700], "values": values[:700]}
    head["times"] = walls[:700]
    r = _post(url, {"batches": [head], "run": {"project": "p", "status": "running"}})
    assert r.status_code == 200 and r.json()["received"] == {"m": 700}
    rest = codec.encode_python(steps[700:], walls[700:], values[700:])
    r = _post(url, {"batches": [{"key": "m", "start": 700, "chunks": [_b64(rest)]}]})
    assert r.status_code == 200 and r.json()["received"] == {"m": 3000}
    (stored,) = _stored_chunks(server.db, "tail1", "m")  # one chunk: the tail grown
    assert codec.points_in(stored) == 3000 and stored != rest
    with connect(server.db) as s:
        got = s.read_series_lists("tail1")["m"]
        assert list(got.steps) == steps and list(got.values) == values
        assert s.metric_summaries(["tail1"])["tail1"]["m"].count == 3000


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_a_run_with_media_is_finished_on_the_server_after_its_media(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local"
    run = expbook.init(project="p", name="m", store=str(local))
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "hist": expbook.Histogram([1, 2, step])})
    run.finish()
    calls = _Calls(monkeypatch)
    with SQLiteStore(local) as s, sync_client.Client(server.url) as c:
        out = Engine(s, c).sync_run(run.id)
    assert out.status == "finished" and out.media == 3
    seen = [
        (m, p.rsplit("/", 1)[-1], (b or {}).get("run", b or {}).get("status"))
        for m, p, b in calls.seen
    ]
    assert seen[0] == ("POST", "points", "running")
    assert ("POST", "media", None) in seen
    assert seen[-1] == ("PUT", run.id, "finished")
    assert_same_run(local, server.db, run.id)


def test_non_numeric_values_reach_the_server(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local"
    run = expbook.init(project="p", name="v", store=str(local), server=server.url)
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "phase": f"warmup-{step}", "cfg": {"a": [step, None]}})
    run.finish()
    with SQLiteStore(local) as mine, connect(server.db) as theirs:
        want = mine.read_values(run.id)
        assert len(want) == 6
        assert theirs.read_values(run.id) == want
        assert theirs.get_run(run.id).status == "finished"
    # later values of the run go alone; one at an earlier step sends them all again
    calls = _Calls(monkeypatch)
    with SQLiteStore(local) as s, sync_client.Client(server.url) as c:
        engine = Engine(s, c)
        assert engine.sync_run(run.id).values == 6  # a new process: all of them
        s.append_values(run.id, [("phase", 5, 2.0, json.dumps("done"))])
        assert engine.sync_run(run.id).values == 1
        s.append_values(run.id, [("phase", 4, 2.0, json.dumps("late"))])
        assert engine.sync_run(run.id).values == 8
        assert engine.sync_run(run.id).values == 0
    sent = [len(b["values"]) for m, p, b in calls.seen if p.endswith("/values")]
    assert sent == [6, 1, 8]
    with SQLiteStore(local) as mine, connect(server.db) as theirs:
        assert theirs.read_values(run.id) == mine.read_values(run.id)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"values": [{"key": "k", "step": 1}]}, "an object {key, step, wall, value}"),
        ({"values": [{"key": "", "step": 1, "value": 1}]}, "values[0].key"),
        ({"values": [{"key": "k", "step": 1.5, "value": 1}]}, "values[0].step"),
        ({"values": [{"key": "k", "step": 1, "wall": "x", "value": 1}]}, "values[0].wall"),
        ({"values": {"key": "k"}}, "values: a list"),
        ({"rows": []}, "unknown field 'rows'"),
    ],
)
@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_bad_values_are_400(server: ServerProc, body: dict[str, Any], says: str) -> None:
    assert httpx.put(f"{server.url}/api/v1/runs/v1", json={"project": "p"}).status_code == 200
    r = _post(f"{server.url}/api/v1/runs/v1/values", body)
    assert r.status_code == 400 and says in r.json()["error"], r.text
    with connect(server.db) as s:
        assert s.read_values("v1") == []
