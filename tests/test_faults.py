"""Faults of the logging path in real processes: writes that fail (a file-size limit stands in
for a full disk, no root needed), SIGKILL at full logging speed, a store that stays full."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import expbook
from expbook.store import SQLiteStore
from expbook.tracking import run as _run

# The child's part of every file-size test: commits fail once `full()` is called (the store's
# files may not grow), and succeed again after `free()`. SIGXFSZ would kill the process.
LIMITS = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
_, HARD = resource.getrlimit(resource.RLIMIT_FSIZE)

def full(store):
    size = max(os.path.getsize(os.path.join(store, f)) for f in os.listdir(store))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, HARD))

def free():
    resource.setrlimit(resource.RLIMIT_FSIZE, (HARD, HARD))
"""


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: it imports the expbook this test imported."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(expbook.__file__)))
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def child(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"child_{abs(hash(body))}.py"
    path.write_text(LIMITS + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
    )


def stored_points(store: str, run: str) -> dict[str, list[list[float]]]:
    book = expbook.open_store(store)
    try:
        return book.series_records(book.run(run).id)
    finally:
        book.close()


# -- item: points under the wrong key after a failed write ---------------------------------------
def test_keys_created_in_failed_commits_keep_their_own_points(
    tmp_path: Path, store_path: str
) -> None:
    """20 new keys logged while every commit fails, then written once commits succeed: each
    key holds its own points (the ids of keys created in a rolled-back transaction were
    cached and reused, so all 20 landed under one name)."""
    p = child(
        tmp_path,
        """
        import json, expbook
        store = sys.argv[1]
        run = expbook.init(project="f", name="keys", store=store)
        run.log({"base": 0.0}, step=0)
        assert run._writer.drain(run)
        full(store)
        failed = []
        for k in range(20):
            for i in range(100):
                run.log({f"k{k:02d}": k * 1000.0 + i}, step=i)
            run._retry_at = 0.0  # retry now, not after the writer's interval
            failed.append(not run._writer.drain(run))
        free()
        run.finish()
        print(json.dumps(failed))
        """,
        store_path,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1]) == [True] * 20  # every commit did fail
    series = stored_points(store_path, "keys")
    assert sorted(series) == ["base"] + [f"k{k:02d}" for k in range(20)]
    for k in range(20):
        assert series[f"k{k:02d}"] == [[i, k * 1000.0 + i] for i in range(100)], k


def test_failed_write_reports_its_own_error_and_forgets_its_key_ids(
    tmp_path: Path, store_path: str
) -> None:
    """A write that fails inside a statement (SQLite has rolled back already) raises the I/O
    error itself, not "cannot rollback - no transaction is active"; a key created by another
    connection afterwards does not share an id with the keys of the failed write."""
    p = child(
        tmp_path,
        """
        import json, random
        from expbook.store import SQLiteStore, PointBatch
        store = sys.argv[1]
        s = SQLiteStore(store)
        run = s.create_run(name="r", project="p")
        s.append_points(run.id, {"base": PointBatch([0], [0.0], [1.0])})
        full(store)
        n = 200_000
        rnd = random.Random(1)
        big = {f"big{j}": PointBatch(list(range(n)), [rnd.random() for _ in range(n)],
                                      [rnd.random() for _ in range(n)]) for j in range(3)}
        try:
            s.append_points(run.id, big)
            err = None
        except Exception as e:
            err = f"{type(e).__name__}: {e}"
        free()
        other = SQLiteStore(store)  # another process's connection
        other.append_points(run.id, {"theirs": PointBatch([0], [0.0], [7.0])})
        s.append_points(run.id, {"big0": PointBatch([5], [0.0], [5.0])})
        print(json.dumps(err))
        """,
        store_path,
    )
    assert p.returncode == 0, p.stderr
    err = json.loads(p.stdout.splitlines()[-1])
    assert err is not None and "cannot rollback" not in err and "disk I/O" in err, err
    series = stored_points(store_path, "r")
    assert series == {"base": [[0, 1.0]], "theirs": [[0, 7.0]], "big0": [[5, 5.0]]}


def test_failed_commit_leaves_no_transaction_open(store_path: str) -> None:
    """A COMMIT that fails is undone, and the store takes the next write."""
    store = SQLiteStore(store_path)
    run = store.create_run(name="r", project="p")
    store._conn.execute("CREATE TABLE t (x INTEGER REFERENCES keys(kid) DEFERRABLE "
                        "INITIALLY DEFERRED)")
    with pytest.raises(Exception, match="FOREIGN KEY"), store.atomic():
        store._kid("doomed")
        store._conn.execute("INSERT INTO t VALUES (999999)")  # fails only at COMMIT
    assert not store._conn.in_transaction
    assert store._kids == {}
    store.append_points(run.id, {"k": expbook.store.PointBatch([1], [0.0], [1.0])})
    assert store.read_series(run.id)["k"].values.tolist() == [1.0]
    store.close()


# -- item: SIGKILL at full logging speed ---------------------------------------------------------
FULL_SPEED = """
import os, sys, time, expbook
run = expbook.init(project="kill", name="fast", store=sys.argv[1])
log, now = run.log, time.time
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
i = 0
while True:  # as fast as the loop goes; every 5,000 steps: "last step logged, time"
    for _ in range(5000):
        log({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, step=i)
        i += 1
    os.write(fd, b"%d %.6f\\n" % (i - 1, now()))
"""


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("pure", ["", "1"], ids=["c", "pure-python"])
def test_sigkill_at_full_speed_loses_at_most_the_last_second(tmp_path: Path, pure: str) -> None:
    """Kills of a loop logging as fast as it can: nothing logged more than 1.5 s before the
    kill is lost, and the process stays small (log() waits for the writer)."""
    script = tmp_path / "fast.py"
    script.write_text(FULL_SPEED)
    rnd = random.Random(7)
    trials = 10 if not pure else 4
    results = []
    for t in range(trials):
        store, progress = tmp_path / f"s{t}", tmp_path / f"progress{t}"
        env = child_env(EXPBOOK_PURE_PYTHON=pure)
        p = subprocess.Popen([sys.executable, str(script), str(store), str(progress)], env=env)
        try:
            deadline = time.time() + 30
            while not (progress.exists() and progress.stat().st_size) and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(rnd.uniform(1.6, 3.2))
            rss = _rss_mb(p.pid)
            killed_at = time.time()
            p.send_signal(signal.SIGKILL)
        finally:
            p.kill()
            p.wait(timeout=10)
        records = [ln.split() for ln in progress.read_text().splitlines()]
        must = [int(i) for i, at in records if float(at) < killed_at - 1.5]
        book = expbook.open_store(str(store))
        rec = book.run("fast")
        sums = book.backend.metric_summaries([rec.id]).get(rec.id, {})
        book.close()
        last = {k: s.last_step for k, s in sums.items()}
        counts = {k: s.count for k, s in sums.items()}
        results.append((t, rss, int(records[-1][0]), max(must, default=-1), last))
        assert must, "the child logged nothing in its first 1.5 s"
        assert sorted(last) == ["a", "b", "c", "d"], results[-1]
        # every point up to the last one stored is there, and that is past `must`
        assert all(counts[k] == last[k] + 1 for k in last), (counts, last)
        assert min(last.values()) >= max(must), results
        assert rss < 200, results
    if not pure:
        # the loop ran at full speed: it logged far more than the writer had stored
        assert any(logged > stored["a"] for _, _, logged, _, stored in results)


def test_log_waits_for_the_writer_when_the_buffer_is_full(
    store_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buffer never holds more than its bound: log() waits for the writer instead."""
    for logger in (_run._Logger, None):
        monkeypatch.setattr(_run, "_Logger", logger)
        run = expbook.init(store=store_path)
        run._set_bound(2_000, 1 << 30)
        most = 0
        for i in range(30_000):
            run.log({"x": float(i)})
            held = run._logger.points if run._logger is not None else len(run._buf)
            most = max(most, held)
        assert most <= 2_000
        assert run._waits > 0 and run._waited_s > 0
        run.finish()
        assert run._store.metric_summaries([run.id])[run.id]["x"].count == 30_000


# -- item: a store that stays full ---------------------------------------------------------------
PHASES = """
import json, expbook, expbook.tracking.writer
expbook.tracking.writer.RETRY_POINTS = 4_000
store = sys.argv[1]
run = expbook.init(project="f", name="full", store=store)
run.log({"a": 0.0, "b": 0.0}, step=0)
assert run._writer.drain(run)
full(store)
step = 1
for phase in range(5):  # 5 x 4,000 points; the first 4,000 are kept for retry
    for _ in range(2_000):
        run.log({"a": float(step), "b": -float(step)}, step=step)
        step += 1
    run._retry_at = 0.0
    assert not run._writer.drain(run)
"""


def test_store_full_for_a_while_counts_and_flags_what_was_not_written(
    tmp_path: Path, store_path: str, cli_run
) -> None:
    p = child(
        tmp_path,
        PHASES
        + """
free()
run.finish()
""",
        store_path,
    )
    assert p.returncode == 0, p.stderr
    series = stored_points(store_path, "full")
    stored = sum(len(v) for v in series.values())
    assert stored == 2 + 4_000  # the first point of each key, and what was kept for retry
    assert "16,000 points of run 'full'" in p.stderr, p.stderr
    code, out, _ = cli_run("show", "full", "--format", "json")
    obj = json.loads(out)
    assert code == 0 and obj["status"] == "finished"
    assert obj["meta"]["unwritten_points"] == 16_000 == 2 + 20_000 - stored
    code, out, _ = cli_run("show", "full")
    assert "status finished (incomplete: 16,000 points were not written)" in " ".join(out.split())
    code, out, _ = cli_run("runs")
    assert "finished (incomplete)" in " ".join(out.split())


def test_store_full_until_exit_says_how_many_points_were_lost(
    tmp_path: Path, store_path: str
) -> None:
    p = child(tmp_path, PHASES, store_path)  # exits without finish(), the store still full
    assert p.returncode == 0, p.stderr
    assert "20,000 points of run 'full'" in p.stderr, p.stderr
    assert "could not be recorded" in p.stderr
    series = stored_points(store_path, "full")
    assert sum(len(v) for v in series.values()) == 2
    book = expbook.open_store(store_path)
    assert book.run("full").state == "crashed"  # its end was never written: not "finished"
    book.close()


def test_store_full_at_full_speed_keeps_memory_bounded(tmp_path: Path, store_path: str) -> None:
    """3 million points logged into a store that cannot take them: the process stays small
    and the count of points not written is exact."""
    p = child(
        tmp_path,
        """
        import expbook
        store = sys.argv[1]
        run = expbook.init(project="f", name="flood", store=store)
        run.log({"a": 0.0}, step=0)
        assert run._writer.drain(run)
        full(store)
        log = run.log
        for i in range(1, 750_001):
            log({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, step=i)
        with open(f"/proc/{os.getpid()}/status") as f:
            rss = [int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")][0] / 1024
        print(f"RSS {rss:.0f}")
        run.finish()
        """,
        store_path,
    )
    assert p.returncode == 0, p.stderr
    rss = float(p.stdout.split("RSS ")[1].split()[0])
    assert rss < 200, rss
    assert "3,000,000 points of run 'flood'" in p.stderr, p.stderr


def test_log_bound_before_finish_neither_waits_nor_grows(store_path: str) -> None:
    """A log() taken before finish() and called after it must not wait for a writer that no
    longer drains the run, nor keep what it is given."""
    run = expbook.init(store=store_path)
    log = run.log
    run.finish()
    run._set_bound(100, 1 << 30)
    for i in range(1_000):
        log({"x": float(i)})
    assert run._buffered() < 100


def test_a_finished_run_is_freed(store_path: str) -> None:
    """Nothing keeps a finished run (and its buffer) alive: a sweep of many runs in one
    process does not accumulate them."""
    import gc
    import weakref

    run = expbook.init(store=store_path)
    run.log({"x": 1.0})
    run.finish()
    ref = weakref.ref(run)
    del run
    gc.collect()
    assert ref() is None


def test_import_into_a_full_store_reports_the_real_error(tmp_path: Path, store_path: str) -> None:
    """`expbook import` into a store that cannot grow names the I/O error, not the
    "cannot rollback" of a transaction SQLite had already undone."""
    csv = tmp_path / "metrics.csv"
    rnd = random.Random(3)  # incompressible values: the write spills to disk mid-statement
    csv.write_text(
        "step,loss,acc,lr\n"
        + "".join(f"{i},{rnd.random()},{rnd.random()},{rnd.random()}\n" for i in range(200_000))
    )
    SQLiteStore(store_path).close()
    p = child(
        tmp_path,
        """
        from expbook.cli import main
        full(sys.argv[1])
        sys.exit(main(["import", sys.argv[2], "--store", sys.argv[1], "--format", "json"]))
        """,
        store_path,
        str(csv),
    )
    assert p.returncode == 1, p.stderr
    assert "disk I/O error" in p.stdout and "cannot rollback" not in p.stdout, p.stdout
    book = expbook.open_store(store_path)
    assert book.run_records() == []  # nothing half-written
    book.close()
