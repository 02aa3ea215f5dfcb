"""Points rewritten on the client after the server had them (a step logged again, as a
resumed run does; a step logged between stored ones; a run imported again) reach the
server, against a real ``expbook server`` on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from expbook.store import PointBatch, SQLiteStore, connect
from expbook.sync import client as sync_client
from expbook.sync.engine import Engine

from .conftest import ServerProc, assert_same_run, run_cli


class _Posts:
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

    def batches(self) -> list[dict[str, Any]]:
        return [b for _m, p, body in self.seen if p.endswith("/points") for b in body["batches"]]


def _points(steps: list[int], value: Any) -> PointBatch:
    return PointBatch(steps, [1_700_000_000.0 + s for s in steps], [value(s) for s in steps])


def _sync(store: Path, url: str) -> Any:
    with SQLiteStore(store) as s, sync_client.Client(url) as c:
        return Engine(s, c).sync_run(_only_run(s))


def _only_run(s: SQLiteStore) -> str:
    (rec,) = s.list_runs()
    return rec.id


def _running_run(store: Path, steps: list[int]) -> str:
    with SQLiteStore(store) as s:
        rec = s.create_run(name="r", project="p")
        s.append_points(rec.id, {"loss": _points(steps, lambda x: 1.0 / (x + 1))})
        return rec.id


def _finish(store: Path, run_id: str) -> None:
    with SQLiteStore(store) as s:
        s.update_run(run_id, status="finished", finished_at=time.time(), exit_code=0)


def test_steps_logged_again_by_a_resumed_run_reach_the_server(
    server: ServerProc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "local"
    run_id = _running_run(local, list(range(1000)))
    assert _sync(local, server.url).pending == 0
    # the run resumes from its checkpoint at step 500: steps 500-999 are logged again (other
    # values), then it goes on to 1499 and finishes
    with SQLiteStore(local) as s:
        s.append_points(run_id, {"loss": _points(list(range(500, 1500)), lambda x: -float(x))})
    _finish(local, run_id)
    posts = _Posts(monkeypatch)
    out = _sync(local, server.url)
    assert out.pending == 0 and out.status == "finished"
    assert_same_run(local, server.db, run_id)
    with connect(server.db) as remote:
        got = remote.read_series_lists(run_id)["loss"]
    assert got.values[499] == 1.0 / 500 and got.values[500] == -500.0
    assert len(got.steps) == 1500
    # the rewritten steps went as a batch that replaces by step, before the final status
    replaced = [b for b in posts.batches() if b.get("replace")]
    assert len(replaced) == 1 and "start" not in replaced[0]
    statuses = [(body.get("run") or body).get("status") for _m, _p, body in posts.seen]
    assert statuses[-1] == "finished" and "finished" not in statuses[:-1], statuses
    # the server caught up: nothing goes again
    posts.seen.clear()
    again = _sync(local, server.url)
    assert again.sent == 0 and posts.batches() == []


def test_a_step_logged_between_stored_ones_reaches_the_server(
    server: ServerProc, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    run_id = _running_run(local, list(range(0, 2000, 2)))
    assert _sync(local, server.url).pending == 0
    with SQLiteStore(local) as s:  # an odd step logged late: every position after it moves
        s.append_points(run_id, {"loss": _points([501], lambda x: 7.0)})
        s.append_points(run_id, {"loss": _points([2000, 2001], lambda x: 8.0)})
    _finish(local, run_id)
    assert _sync(local, server.url).pending == 0
    assert_same_run(local, server.db, run_id)
    with connect(server.db) as remote:
        got = remote.read_series_lists(run_id)["loss"]
    assert 501 in got.steps and got.values[got.steps.index(501)] == 7.0


def test_a_run_imported_again_goes_to_the_server_whole(server: ServerProc, tmp_path: Path) -> None:
    local = tmp_path / "local"
    run_id = _running_run(local, list(range(300)))
    _finish(local, run_id)
    assert _sync(local, server.url).pending == 0
    with SQLiteStore(local) as s:  # as an importer does when the file changed
        s.replace_points(run_id, {"loss": _points(list(range(300)), lambda x: math.sqrt(x))})
        s.update_run(run_id, notes="imported again")
    assert _sync(local, server.url).pending == 0
    assert_same_run(local, server.db, run_id)


def test_a_server_that_lost_points_below_the_rewrite_gets_the_key_whole(
    server: ServerProc, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    run_id = _running_run(local, list(range(1000)))
    assert _sync(local, server.url).pending == 0
    with SQLiteStore(local) as s:
        head = s.read_series_lists(run_id)["loss"]
        s.append_points(run_id, {"loss": _points([900], lambda x: 0.5)})
    with connect(server.db) as remote:  # it lost every point after 100, counts unchanged
        remote.replace_points(
            run_id,
            {"loss": PointBatch(head.steps[:100], head.walls[:100], head.values[:100])},
        )
        remote.set_received_counts(run_id, {"loss": 1000})
    assert _sync(local, server.url).pending == 0
    assert_same_run(local, server.db, run_id)


def test_rewrites_are_marked_and_acknowledged_per_server(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s") as s:
        rec = s.create_run(name="r", project="p")
        s.append_points(rec.id, {"a": _points([0, 1, 2], float), "b": _points([0, 1], float)})
        s.append_points(rec.id, {"a": _points([3, 4], float)})  # appended: no rewrite
        assert s.rewrites("http://one", rec.id) == {}
        s.append_points(rec.id, {"a": _points([1], float)})
        s.append_points(rec.id, {"a": _points([2], float)})
        assert s.rewrites("http://one", rec.id) == {"a": (1, 2)}  # from step 1, twice
        s.ack_rewrites("http://one", rec.id, {"a": 2})
        assert s.rewrites("http://one", rec.id) == {}
        assert s.rewrites("http://two", rec.id) == {"a": (1, 2)}  # another server: not yet
        s.append_points(rec.id, {"a": _points([4], float)})
        assert s.rewrites("http://one", rec.id) == {"a": (1, 3)}
        s.delete_runs([rec.id])
        assert s._q("SELECT COUNT(*) FROM point_rewrites")[0][0] == 0


@pytest.mark.parametrize(
    ("batch", "says"),
    [
        ({"key": "a", "replace": True, "start": 0, "steps": [1], "values": [1.0]}, "no start"),
        ({"key": "a", "replace": "yes", "start": 0, "steps": [1], "values": [1.0]}, "true or"),
        ({"key": "a", "replace": True, "steps": [2, 1], "values": [1.0, 2.0]}, "increasing"),
    ],
)
def test_bad_replacing_batches_are_400(
    server: ServerProc, batch: dict[str, Any], says: str
) -> None:
    url = f"{server.url}/api/v1/runs/rw1/points"
    r = httpx.post(url, json={"batches": [batch], "run": {"project": "p", "name": "rw1"}})
    assert r.status_code == 400 and says in r.json()["error"], r.text
    with connect(server.db) as remote:
        assert remote.list_runs() == []


def test_a_replacing_batch_writes_over_by_step_and_counts_what_is_held(
    server: ServerProc,
) -> None:
    url = f"{server.url}/api/v1/runs/rw2/points"
    first = {"key": "a", "start": 0, "steps": [0, 1, 2], "values": [0.0, 1.0, 2.0]}
    r = httpx.post(url, json={"batches": [first], "run": {"project": "p", "name": "rw2"}})
    assert r.status_code == 200 and r.json()["received"] == {"a": 3}
    again = {"key": "a", "replace": True, "steps": [1, 5], "values": [10.0, 50.0]}
    r = httpx.post(url, json={"batches": [again]})
    assert r.status_code == 200 and r.json()["received"] == {"a": 4}, r.text
    with connect(server.db) as remote:
        got = remote.read_series_lists("rw2")["a"]
    assert got.steps == [0, 1, 2, 5] and got.values == [0.0, 10.0, 2.0, 50.0]


def test_sync_status_lists_rewritten_keys(server: ServerProc, tmp_path: Path) -> None:
    local = tmp_path / "local"
    run_id = _running_run(local, list(range(100)))
    assert _sync(local, server.url).pending == 0
    with SQLiteStore(local) as s:
        s.append_points(run_id, {"loss": _points([50], lambda x: 0.0)})

    def status() -> dict[str, Any]:
        got = run_cli(
            "sync", "--status", "--server", server.url, "--store", str(local), "--format", "json"
        )
        assert got.returncode == 0, got.stderr
        (row,) = json.loads(got.stdout)
        return row

    row = status()
    assert row["state"] == "points rewritten" and row["rewritten_keys"] == ["loss"]
    assert row["pending_points"] == 0
    assert _sync(local, server.url).pending == 0
    row = status()
    assert row["state"] == "synced" and row["rewritten_keys"] == []


def test_a_run_resumed_from_a_checkpoint_ends_on_the_server_as_it_is_here(
    server: ServerProc, tmp_path: Path
) -> None:
    """Through the public API: a run logs to step 999, is resumed (same id) from its step
    500 checkpoint and logs 500-1499 again with other values; each part syncs live."""
    import expbook

    local = str(tmp_path / "local")
    run = expbook.init(project="p", id="resumed1", store=local, server=server.url)
    for step in range(1000):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.finish()
    run = expbook.init(project="p", id="resumed1", resume="allow", store=local, server=server.url)
    with pytest.warns(UserWarning, match="below the run's current step"):
        for step in range(500, 1500):
            run.log({"loss": -1.0 / (step + 1)}, step=step)
    run.finish()
    assert_same_run(local, server.db, "resumed1")
    with connect(server.db) as remote:
        got = remote.read_series_lists("resumed1")["loss"]
        assert remote.get_run("resumed1").status == "finished"
    assert got.values[499] == 1.0 / 500 and got.values[500] == -1.0 / 501
