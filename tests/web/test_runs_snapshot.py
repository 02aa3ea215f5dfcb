"""The dashboard's runs snapshot (column picker keys, varying params): reading each distinct
config and key set once gives what reading every run gives, and the build pauses while the
dashboard serves a request."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from expbook._read import flatten
from expbook._views import load_runs
from expbook.store import PointBatch, SQLiteStore
from expbook.web._runs import (
    IN_FLIGHT,
    CountRequests,
    SnapshotCache,
    _snapshot,
    yield_to_requests,
)


def _brute(backend: SQLiteStore) -> tuple[list[str], list[str], list[str], dict, dict]:
    params: dict[str, set[str]] = {}
    metrics: set[str] = set()
    p_params: dict[str, set[str]] = {}
    p_metrics: dict[str, set[str]] = {}
    for r in load_runs(backend):
        for k, v in flatten(r.config).items():
            params.setdefault("config." + k, set()).add(repr(v))
            p_params.setdefault(r.project, set()).add("config." + k)
        keys = {"summary." + k for k in r.summary}
        metrics |= keys
        p_metrics.setdefault(r.project, set()).update(keys)
    varying = sorted(k for k, vs in params.items() if len(vs) > 1)
    return (
        sorted(params),
        sorted(metrics),
        varying,
        {p: sorted(v) for p, v in p_params.items()},
        {p: sorted(v) for p, v in p_metrics.items()},
    )


def test_snapshot_gives_what_reading_every_run_gives(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store")
    try:
        for i in range(40):
            project = "a" if i % 2 else "b"
            config = {"lr": 0.1 if i % 4 < 2 else 0.2, "opt": {"name": "adam"}}
            if project == "b" and i % 3 == 0:
                config["extra"] = i  # a config seen once
            run = store.create_run(name=f"r{i}", project=project, config=config)
            keys = ["loss"] if i % 5 else ["loss", "acc"]
            store.append_points(run.id, {k: PointBatch([0], [1.0], [float(i)]) for k in keys})
            if i % 7 == 0:
                store.update_run(run.id, summary={"test_mse": 1.5})  # summary-only key
        snap = _snapshot(store)
        params, metrics, varying, p_params, p_metrics = _brute(store)
        assert snap.params == params
        assert snap.metrics == metrics and "summary.test_mse" in metrics
        assert snap.varying == varying == ["config.extra", "config.lr"]
        assert snap.project_params == p_params
        assert snap.project_metrics == p_metrics
        assert len(snap.runs) == 40
    finally:
        store.close()


def test_requests_in_flight_are_counted_and_waited_for() -> None:
    seen: list[int] = []

    def page(request: object) -> PlainTextResponse:
        seen.append(IN_FLIGHT[0])
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", page)], middleware=[Middleware(CountRequests)])
    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert seen == [1] and IN_FLIGHT[0] == 0

    # a build waits while a request is in flight, and goes on when it ends
    IN_FLIGHT[0] += 1
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (yield_to_requests(), done.set()))
    try:
        waiter.start()
        time.sleep(0.05)
        assert not done.is_set()
    finally:
        IN_FLIGHT[0] -= 1
    waiter.join(5)
    assert done.is_set()


def test_the_first_snapshot_waits_for_the_first_page(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store")
    store.create_run(name="only", project="p", config={"lr": 0.1})
    store.close()
    cache = SnapshotCache(str(tmp_path / "store" / "expbook.db"))
    try:
        served = threading.Event()
        cache.start(served, wait_s=30)
        time.sleep(0.3)
        assert cache.peek() is None  # not read while the first page is being served
        served.set()
        deadline = time.monotonic() + 10
        while cache.peek() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        snap = cache.peek()
        assert snap is not None and [r.name for r in snap.runs] == ["only"]
    finally:
        cache.close()


def test_a_closed_cache_never_builds_late(tmp_path: Path) -> None:
    """A dashboard closed before its first page: the waiting build gives up and no snapshot
    appears (the build would reopen a closed store: a PostgreSQL store would reconnect)."""
    SQLiteStore(tmp_path / "store").close()
    cache = SnapshotCache(str(tmp_path / "store" / "expbook.db"))
    served = threading.Event()
    cache.start(served, wait_s=0.2)
    cache.close()
    served.set()
    time.sleep(0.5)
    assert cache.peek() is None
