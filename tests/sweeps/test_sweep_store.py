"""The store's sweep methods: the owner is taken by compare-and-set, only the owner updates
under its name, trials are upserted."""

from __future__ import annotations

import os
import time

from expbook.store import connect
from expbook.sweeps.scheduler import STALE_S, owner_alive


def test_claim_is_compare_and_set(store_path: str) -> None:
    b = connect(store_path)
    spec = {"name": "s", "params": {"a": [1]}}
    assert b.sweep_claim("s", spec=spec, owner="A", pid=1, host="h", expect=None)
    assert not b.sweep_claim("s", spec=spec, owner="B", pid=2, host="h", expect=None)
    assert not b.sweep_claim("s", spec=spec, owner="B", pid=2, host="h", expect="X")
    assert b.sweep_update("s", owner="A", heartbeat_at=5.0)
    assert b.sweep_claim("s", spec=spec, owner="B", pid=2, host="h", expect="A")
    assert not b.sweep_update("s", owner="A", status="finished")  # A lost it
    row = b.sweep_get("s")
    assert (row["owner"], row["pid"], row["status"], row["spec"]) == ("B", 2, "running", spec)
    assert b.sweep_get("nope") is None and [r["name"] for r in b.sweep_list()] == ["s"]
    b.close()


def test_trials_are_upserted(store_path: str) -> None:
    b = connect(store_path)
    b.sweep_put_trials("s", [{"idx": 0, "params": {"a": 1}, "status": "pending"},
                             {"idx": 1, "params": {"a": 2}, "status": "pending"}])
    b.sweep_put_trials("s", [{"idx": 1, "status": "finished", "value": 0.5, "attempts": 1}])
    t0, t1 = b.sweep_trials("s")
    assert (t0["status"], t0["value"], t0["params"]) == ("pending", None, {"a": 1})
    assert (t1["status"], t1["value"], t1["attempts"], t1["params"]) == (
        "finished", 0.5, 1, {"a": 2})
    assert b.sweep_trials("s", 1) == [t1]
    b.close()


def test_owner_alive() -> None:
    import socket

    now = time.time()
    me = {"status": "running", "owner": "x", "pid": os.getpid(), "host": socket.gethostname(),
          "heartbeat_at": now}
    assert owner_alive(me)
    assert not owner_alive({**me, "status": "finished"})
    assert not owner_alive({**me, "heartbeat_at": now - STALE_S - 1})
    gone = 2**22 + 12345  # above Linux's default pid_max: no such process
    assert not owner_alive({**me, "pid": gone})
    # another host's owner is judged by its heartbeat alone
    assert owner_alive({**me, "pid": gone, "host": "elsewhere"})
