"""The write API and ``expbook sync`` against a real ``expbook server`` process, on a SQLite
folder and on PostgreSQL: round trip, idempotent retries, gaps, scopes, ``--status``."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import httpx
import pytest

from expbook.cli import main
from expbook.store import SQLiteStore, connect

from .conftest import ServerProc, assert_same_run, log_offline, make_token


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return int(code or 0), out.getvalue(), err.getvalue()


def test_round_trip_and_status(server: ServerProc, tmp_path: Path) -> None:
    local = tmp_path / "local"
    first = log_offline(local, n=3000, name="first")
    second = log_offline(local, n=50, name="second", project="q")
    code, out, err = cli("sync", "--status", "--server", server.url, "--store", str(local))
    assert code == 0, err
    assert "never synced" in out and "2 of 2 run(s) pending" in err
    code, out, err = cli("sync", "--server", server.url, "--store", str(local), "--format", "json")
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[first]["sent_points"] == 6000 and rows[first]["pending_points"] == 0
    assert rows[first]["status"] == "finished" and rows[first]["result"] == "created"
    assert rows[second]["sent_points"] == 100
    for run_id in (first, second):
        assert_same_run(local, server.db, run_id)
    with connect(server.db) as s:
        rec = s.get_run(first)
        assert rec.config == {"lr": 0.1, "nested": {"a": 1}}
        assert rec.summary["best"] == 0.5 and rec.summary["top"] == math.inf
        assert math.isnan(rec.summary["worst"])  # stored as a number, as locally
        assert rec.name == "first" and rec.project == "p" and rec.exit_code == 0
    # nothing left: a second sync sends nothing, and --status says so
    code, out, err = cli("sync", "--server", server.url, "--store", str(local), "--format", "json")
    assert code == 0 and all(r["sent_points"] == 0 for r in json.loads(out))
    code, out, err = cli(
        "sync", "--status", "--server", server.url, "--store", str(local), "--format", "json"
    )
    assert {r["state"] for r in json.loads(out)} == {"synced"}
    # new points of a run (a resumed run): only they go
    from expbook.store import PointBatch

    with SQLiteStore(local) as s:
        s.append_points(first, {"m0": PointBatch([3000, 3001], [1.0, 2.0], [7.0, 8.0])})
    code, out, err = cli(
        "sync", "--status", "--server", server.url, "--store", str(local), "--format", "json"
    )
    pending = {r["id"]: r for r in json.loads(out)}[first]
    assert pending["state"] == "points pending" and pending["pending_points"] == 2
    code, out, err = cli("sync", first, "--server", server.url, "--store", str(local))
    assert code == 0, err
    assert "2 points sent" in err
    assert_same_run(local, server.db, first)


def _put(http: httpx.Client, url: str, run_id: str, project: str = "p", **kw) -> httpx.Response:
    return http.put(f"{url}/api/v1/runs/{run_id}", json={"project": project, **kw})


def _points(start: int, steps: list[int], values: list) -> dict:
    return {"batches": [{"key": "loss", "start": start, "steps": steps, "values": values}]}


def test_retries_are_idempotent_and_gaps_are_409(server: ServerProc) -> None:
    url = server.url
    with httpx.Client(timeout=10) as http:
        r = _put(http, url, "run00001", name="api", status="running", config={"a": 1})
        assert r.status_code == 200 and r.json()["created"] is True
        assert r.json()["received"] == {}
        body = _points(0, list(range(10)), [float(i) for i in range(10)])
        path = f"{url}/api/v1/runs/run00001/points"
        assert http.post(path, json=body).json() == {"received": {"loss": 10}}
        assert http.post(path, json=body).json() == {"received": {"loss": 10}}  # a retry
        # overlapping: positions 5..14, of which 10..14 are new
        again = _points(5, list(range(5, 15)), [float(i) for i in range(5, 15)])
        assert http.post(path, json=again).json() == {"received": {"loss": 15}}
        gap = http.post(path, json=_points(20, [20], [1.0]))
        assert gap.status_code == 409
        assert gap.json()["received"] == {"loss": 15} and "15" in gap.json()["error"]
        # base64 columns and non-finite values in lists
        import base64

        import numpy as np

        b = {
            "key": "loss",
            "start": 15,
            "steps": base64.b64encode(np.arange(15, 18, dtype="<i8").tobytes()).decode(),
            "values": base64.b64encode(np.array([1.5, np.nan, np.inf], "<f8").tobytes()).decode(),
        }
        assert http.post(path, json={"batches": [b]}).json() == {"received": {"loss": 18}}
        more = _points(18, [18, 19], ["-Infinity", None])
        assert http.post(path, json=more).json() == {"received": {"loss": 20}}
        assert http.get(f"{url}/api/v1/runs/run00001/received").json() == {"received": {"loss": 20}}
        assert http.post(f"{url}/api/v1/runs/run00001/heartbeat").status_code == 200
        # bad input: 4xx JSON errors
        for bad in (
            {"batches": [{"key": "", "start": 0, "steps": [1], "values": [1.0]}]},
            {"batches": [{"key": "k", "start": -1, "steps": [1], "values": [1.0]}]},
            {"batches": [{"key": "k", "start": 0, "steps": [2, 1], "values": [1.0, 2.0]}]},
            {"batches": [{"key": "k", "start": 0, "steps": [1], "values": [1.0, 2.0]}]},
            {"batches": [{"key": "k", "start": 0, "steps": "%%%", "values": [1.0]}]},
            {"batches": [{"key": "k", "start": 0, "steps": [1], "values": ["x"]}]},
            {"nope": 1},
            [1, 2],
        ):
            got = http.post(path, json=bad)
            assert got.status_code == 400, (bad, got.text)
            assert got.json()["status"] == 400
        assert http.post(path, content=b"{not json").status_code == 400
        # a gzip-compressed body
        import gzip

        packed = gzip.compress(json.dumps(_points(20, [20, 21], [5.0, 6.0])).encode())
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        r = http.post(path, content=packed, headers=headers)
        assert r.json() == {"received": {"loss": 22}}
        r = http.post(path, content=b"junk", headers=headers)
        assert r.status_code == 400 and "gzip" in r.json()["error"]
        r = http.post(path, content=b"{}", headers={"Content-Encoding": "br"})
        assert r.status_code == 415
        assert http.post(f"{url}/api/v1/runs/nothere1/points", json=body).status_code == 404
        assert _put(http, url, "run00001", project="other").status_code == 409
        assert http.put(f"{url}/api/v1/runs/x1", json={"status": "finished"}).status_code == 400
        assert _put(http, url, "x1", status="weird").status_code == 400
        assert _put(http, url, "x1", unknown=1).status_code == 400
        r = _put(http, url, "run00001", status="finished", summary={"loss": 0.1})
        assert r.status_code == 200 and r.json()["status"] == "finished"
    with connect(server.db) as s:
        got = s.read_series_lists("run00001")["loss"]
        assert got.steps == list(range(22)) and got.values[20:] == [5.0, 6.0]
        assert got.values[:15] == [float(i) for i in range(15)]
        assert got.values[15] == 1.5 and math.isnan(got.values[16])
        assert got.values[17] == math.inf and got.values[18] == -math.inf
        assert math.isnan(got.values[19])
        assert s.metric_summaries(["run00001"])["run00001"]["loss"].count == 22
        rec = s.get_run("run00001")
        assert rec.status == "finished" and rec.summary == {"loss": 0.1}


def test_scopes(server_db: str, tmp_path: Path) -> None:
    _, read = make_token(server_db, "*", "read")
    _, other = make_token(server_db, "q", "write")
    _, write = make_token(server_db, "p", "write")
    with ServerProc(server_db) as server:
        _scopes(server, read, other, write, tmp_path)


def _scopes(server: ServerProc, read: str, other: str, write: str, tmp_path: Path) -> None:
    url = server.url

    def auth(secret: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    with httpx.Client(timeout=10) as http:
        assert _put(http, url, "run00002").status_code == 401  # no token
        r = http.put(f"{url}/api/v1/runs/run00002", json={"project": "p"}, headers=auth(read))
        assert r.status_code == 403 and "scope" in r.json()["error"]
        r = http.put(f"{url}/api/v1/runs/run00002", json={"project": "p"}, headers=auth(other))
        assert r.status_code == 403
        r = http.put(f"{url}/api/v1/runs/run00002", json={"project": "p"}, headers=auth(write))
        assert r.status_code == 200
        body = _points(0, [0, 1], [1.0, 2.0])
        path = f"{url}/api/v1/runs/run00002/points"
        assert http.post(path, json=body, headers=auth(read)).status_code == 403
        assert http.post(path, json=body, headers=auth(other)).status_code == 404
        assert http.post(path, json=body, headers=auth("eb_" + "x" * 43)).status_code == 401
        assert http.post(path, json=body, headers=auth(write)).status_code == 200
        rcv = f"{url}/api/v1/runs/run00002/received"
        assert http.get(rcv, headers=auth(other)).status_code == 404
    with connect(server.db) as s:
        assert s.received_counts("run00002") == {"loss": 2}
        assert [r.id for r in s.list_runs()] == ["run00002"]
    # expbook sync with a read token: one line, exit 1, nothing written
    local = tmp_path / "local"
    log_offline(local, n=20)
    code, _, err = cli("sync", "--server", url, "--store", str(local), "--token", read)
    assert code == 1 and err.startswith("expbook: error:") and err.count("\n") == 1
    assert "403" in err


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    from .conftest import free_port

    local = tmp_path / "local"
    log_offline(local, n=5)
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = cli("sync", "--server", url, "--store", str(local))
    assert code == 1 and err.startswith("expbook: error: cannot reach") and err.count("\n") == 1
    code, _, err = cli("sync", "--store", str(local))
    assert code == 1 and "EXPBOOK_SERVER" in err
    code, _, err = cli("sync", "--server", "ftp://x", "--store", str(local))
    assert code == 1 and "http" in err and err.count("\n") == 1
    # --status works without the server
    code, out, _ = cli("sync", "--status", "--server", url, "--store", str(local))
    assert code == 0 and "never synced" in out


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_project_option_and_named_runs(server: ServerProc, tmp_path: Path) -> None:
    local = tmp_path / "local"
    a = log_offline(local, n=5, name="a", project="p")
    b = log_offline(local, n=5, name="b", project="q")
    code, _, err = cli("sync", "-p", "q", "--server", server.url, "--store", str(local))
    assert code == 0, err
    with connect(server.db) as s:
        assert [r.id for r in s.list_runs()] == [b]
    code, _, err = cli("sync", "nosuchrun", "--server", server.url, "--store", str(local))
    assert code == 1 and "nosuchrun" in err
    code, _, err = cli("sync", "a", "--server", server.url, "--store", str(local))
    assert code == 0, err
    with connect(server.db) as s:
        assert sorted(r.id for r in s.list_runs()) == sorted([a, b])


def test_media_round_trip(server: ServerProc, tmp_path: Path) -> None:
    """Media rows and their content-addressed files reach the server (files checked against
    their sha256, kept by hash); a second sync sends nothing again."""
    import expbook

    local = tmp_path / "local"
    run = expbook.init(project="p", name="media", store=str(local))
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "hist": expbook.Histogram([1, 2, 2, 3, step])})
    run.log({"table": expbook.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]])}, step=3)
    run.log({"page": expbook.Html("<p>hello</p>")}, step=3)
    run.finish()
    code, _, err = cli("sync", "--server", server.url, "--store", str(local))
    assert code == 0, err
    with SQLiteStore(local) as mine, connect(server.db) as theirs:
        want = mine.read_media(run.id)
        got = theirs.read_media(run.id)
        assert len(want) == 5
        assert [(r["key"], r["step"], r["type"], r["path"]) for r in got] == [
            (r["key"], r["step"], r["type"], r["path"]) for r in want
        ]
        assert [r["meta"] for r in got] == [r["meta"] for r in want]
        for r in want:
            mine_bytes = (Path(mine.files_dir) / r["path"]).read_bytes()
            assert (Path(theirs.files_dir) / r["path"]).read_bytes() == mine_bytes
        assert_same_run(local, server.db, run.id)
    # nothing again
    code, out, _ = cli("sync", "--server", server.url, "--store", str(local), "--format", "json")
    assert code == 0 and json.loads(out)[0]["sent_points"] == 0
    assert json.loads(out)[0]["sent_media"] == 0
    # a file whose bytes do not match its name is refused, and nothing is kept
    with httpx.Client(timeout=10) as http:
        sha = "0" * 64
        body = {
            "files": [{"sha256": sha, "ext": ".png", "data": "aGVsbG8="}],
            "rows": [{"key": "k", "step": 0, "type": "image", "sha256": sha, "meta": {}}],
        }
        r = http.post(f"{server.url}/api/v1/runs/{run.id}/media", json=body)
        assert r.status_code == 400 and "sha256" in r.json()["error"]
        body["files"] = []
        r = http.post(f"{server.url}/api/v1/runs/{run.id}/media", json=body)
        assert r.status_code == 409 and r.json()["missing"] == [f"media/00/{sha}"]
        bad = {"rows": [{**body["rows"][0], "ext": "/../../x"}]}
        assert http.post(f"{server.url}/api/v1/runs/{run.id}/media", json=bad).status_code == 400
    with connect(server.db) as theirs:
        assert len(theirs.read_media(run.id)) == 5


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_status_counts_pending_media(server: ServerProc, tmp_path: Path) -> None:
    import expbook

    local = tmp_path / "local"
    run = expbook.init(project="p", name="media", store=str(local))
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "hist": expbook.Histogram([1, 2, step])})
    run.finish()

    def status() -> dict:
        code, out, err = cli(
            "sync", "--status", "--server", server.url, "--store", str(local), "--format", "json"
        )
        assert code == 0, err
        (row,) = json.loads(out)
        return row

    row = status()
    assert row["pending_media"] == 3 and row["state"] == "never synced"
    assert cli("sync", "--server", server.url, "--store", str(local))[0] == 0
    row = status()
    assert row["pending_media"] == 0 and row["state"] == "synced"
    # what this store knew of the server was one media row only: two pending
    with SQLiteStore(local) as s:
        s.record_sync(server.url, run.id, media=1)
    row = status()
    assert row["pending_media"] == 2 and row["state"] == "media pending"
    code, out, err = cli("sync", "--server", server.url, "--store", str(local), "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["sent_media"] == 0  # the server had them: nothing sent again
    assert status()["state"] == "synced"
    # a non-numeric value logged later: pending until synced
    with SQLiteStore(local) as s:
        s.append_values(run.id, [("note", 7, 1.0, json.dumps({"text": "late"}))])
    row = status()
    assert row["pending_values"] == 1 and row["state"] == "values pending"
    code, out, err = cli("sync", "--server", server.url, "--store", str(local), "--format", "json")
    assert code == 0 and json.loads(out)[0]["sent_values"] == 1, err
    assert status()["state"] == "synced"
