"""Real processes: concurrent writers, SIGKILL crash safety, SIGTERM, exceptions, atexit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import expbook


def script(tmp_path: Path, body: str) -> str:
    p = tmp_path / f"script_{abs(hash(body))}.py"
    p.write_text(textwrap.dedent(body))
    return str(p)


def test_many_processes_write_one_store(tmp_path: Path, store_path: str) -> None:
    writer = script(
        tmp_path,
        """
        import sys, expbook
        rank = int(sys.argv[2])
        for r in range(3):
            run = expbook.init(project="conc", name=f"w{rank}-{r}", store=sys.argv[1])
            for i in range(3000):
                run.log({"loss": 1.0 / (i + 1), "rank": rank}, step=i)
                if i % 500 == 0:
                    run.summary["at"] = i
            run.finish()
    """,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, writer, store_path, str(k)], stderr=subprocess.PIPE, text=True
        )
        for k in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert not any("locked" in e for e in errors), errors
    book = expbook.open_store(store_path)
    recs = book.run_records("conc")
    assert len(recs) == 18 and {r["status"] for r in recs} == {"finished"}
    sums = book.backend.metric_summaries()
    assert all(sums[r["id"]]["loss"].count == 3000 for r in recs)
    one = book.series_records(recs[0]["id"], ["loss"])["loss"]
    assert [s for s, _ in one] == list(range(3000))


def test_sigkill_loses_at_most_the_last_second(tmp_path: Path, store_path: str) -> None:
    progress = tmp_path / "progress.txt"
    worker = script(
        tmp_path,
        """
        import sys, time, expbook
        run = expbook.init(project="crash", name="victim", store=sys.argv[1])
        with open(sys.argv[2], "w") as out:
            i = 0
            while True:
                run.log({"loss": float(i)}, step=i)
                out.write(f"{i} {time.time()}\\n"); out.flush()
                i += 1
                time.sleep(0.002)
    """,
    )
    p = subprocess.Popen([sys.executable, worker, store_path, str(progress)])
    deadline = time.time() + 30
    while time.time() < deadline:
        if progress.exists() and len(progress.read_text().splitlines()) > 500:
            break
        time.sleep(0.05)
    time.sleep(1.5)
    killed_at = time.time()
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    lines = [ln.split() for ln in progress.read_text().splitlines() if ln.strip()]
    logged_before = [int(s) for s, t in lines if float(t) < killed_at - 1.0]
    book = expbook.open_store(store_path)
    rec = book.run("victim")
    assert rec.state == "crashed"  # pid is gone: not forever "running"
    assert book.run_records("crash")[0]["status"] == "crashed"
    stored = {s for s, _ in book.series_records(rec.id, ["loss"])["loss"]}
    assert logged_before and set(logged_before) <= stored


def test_sigterm_flushes_and_marks_killed(tmp_path: Path, store_path: str) -> None:
    ready = tmp_path / "ready"
    worker = script(
        tmp_path,
        """
        import sys, time, expbook
        run = expbook.init(project="term", name="t", store=sys.argv[1])
        for i in range(1000):
            run.log({"x": float(i)})
        open(sys.argv[2], "w").write("1")
        time.sleep(60)
    """,
    )
    p = subprocess.Popen([sys.executable, worker, store_path, str(ready)])
    for _ in range(300):
        if ready.exists():
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == -signal.SIGTERM
    book = expbook.open_store(store_path)
    rec = book.run("t")
    assert rec.status == "killed"
    assert len(book.series_records(rec.id)["x"]) == 1000


def test_uncaught_exception_marks_failed_and_keeps_points(tmp_path: Path, store_path: str) -> None:
    worker = script(
        tmp_path,
        """
        import sys, expbook
        run = expbook.init(name="boom", store=sys.argv[1])
        for i in range(10):
            run.log({"x": float(i)})
        raise SystemError("diverged")
    """,
    )
    p = subprocess.run([sys.executable, worker, store_path], capture_output=True, text=True)
    assert p.returncode == 1 and "diverged" in p.stderr
    book = expbook.open_store(store_path)
    assert book.run("boom").status == "failed"
    assert len(book.series_records("boom")["x"]) == 10


def test_exit_without_finish_marks_finished(tmp_path: Path, store_path: str) -> None:
    worker = script(
        tmp_path,
        """
        import sys
        import expbook as wandb   # an ordinary wandb-style script
        wandb.init(project="w", name="plain", config={"lr": 0.1}, store=sys.argv[1])
        for epoch in range(3):
            wandb.log({"epoch": epoch, "loss": 1.0 / (epoch + 1)})
        wandb.summary["best"] = 1.0
    """,
    )
    subprocess.run([sys.executable, worker, store_path], check=True)
    book = expbook.open_store(store_path)
    rec = book.run("plain")
    assert rec.status == "finished" and rec.summary == {"best": 1.0}
    assert book.series_records("plain")["loss"] == [[0, 1.0], [1, 0.5], [2, 1.0 / 3]]


def test_import_expbook_stays_light() -> None:
    code = (
        "import sys, expbook; heavy = [m for m in ('pandas', 'numpy', 'rich', 'click', "
        "'matplotlib', 'torch') if m in sys.modules]; print(json.dumps(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert json.loads(out.stdout) == []


def test_c_hot_path_is_built() -> None:
    from expbook.tracking import run as _run

    assert _run._Logger is not None, "the _speedups extension was not compiled"


def test_pure_python_and_c_paths_log_the_same(tmp_path: Path) -> None:
    body = script(
        tmp_path,
        """
        import sys, json, numpy as np, expbook
        run = expbook.init(store=sys.argv[1])
        run.log({"a": 1.0, "b": 2})
        run.log({"b": 3.0}, commit=False)
        run.log({"c": np.float32(0.5), "nested": {"x": True}})
        run.log({"a": 5.0}, step=10)
        run.log({"a": 6.0}, step=4)
        run.log({"a": 7.0})
        for other in ({"s": "x"}, {"n": None}):
            run.log(other)
        run.define_metric("t/*", step_metric="t/step", summary="min")
        for i in range(1, 4):
            run.log({"t/loss": 1.0 / i, "t/step": 100 * i, "t/tag": "x%d" % i})
        run.log({"t/acc": 0.5})
        run.finish()
        print(json.dumps(expbook.open_store(sys.argv[1]).series_records(run.id), sort_keys=True))
        rows = expbook.store.connect(sys.argv[1]).read_values(run.id)
        print(json.dumps([(k, s, v) for k, s, _, v in rows]))
        print(json.dumps(expbook.store.connect(sys.argv[1]).get_run(run.id).summary))
    """,
    )
    outs = []
    for pure in ("", "1"):
        env = {**os.environ, "EXPBOOK_PURE_PYTHON": pure}
        p = subprocess.run(
            [sys.executable, body, str(tmp_path / f"s{pure}")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outs.append(p.stdout)
    assert outs[0] == outs[1]
    series_line, values_line, summary_line = outs[0].splitlines()[-3:]
    series = json.loads(series_line)
    # step=10 stays open (wandb): the next log() without a step lands on 10 too
    assert series["a"] == [[0, 1.0], [4, 6.0], [10, 7.0]]
    assert series["b"] == [[0, 2.0], [1, 3.0]] and series["nested/x"] == [[1, 1.0]]
    # define_metric: t/* at t/step's value; t/step itself at the run's steps; a row without
    # the step metric goes to its last value
    assert series["t/loss"] == [[100, 1.0], [200, 0.5], [300, 1 / 3]]
    assert series["t/acc"] == [[300, 0.5]]
    assert [s for s, _ in series["t/step"]] == [13, 14, 15]
    values = json.loads(values_line)
    assert ["s", 11, "x"] in values and ["n", 12, None] in values
    assert ["t/tag", 100, "x1"] in values and ["t/tag", 300, "x3"] in values
    assert json.loads(summary_line)["t/loss"] == 1 / 3
