"""What a run records by itself: console, traceback, system metrics, environment; alerts,
the run folder, and their removal with the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import expbook
from expbook.store import SQLiteStore
from expbook.tracking import capture

ROOT = Path(__file__).resolve().parent.parent


def run_script(tmp_path: Path, body: str, env: dict[str, str] | None = None):
    """Run ``body`` as a script in a fresh interpreter (its store in ``tmp_path/store``)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EXPBOOK_")}
    full_env["PYTHONPATH"] = str(ROOT / "src")
    full_env["EXPBOOK_STORE"] = str(tmp_path / "store")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def only_run(tmp_path: Path):
    with SQLiteStore(tmp_path / "store") as st:
        (rec,) = st.list_runs()
        return rec, st.run_dir(rec.id), st.events(rec.id)


PRINTING = """
    import sys
    import expbook
    run = expbook.init(project="p", name="printer")
    print("first line")
    for i in range(5):
        print(f"\\rloading {i * 25}%", end="", flush=True)
    print()
    print("a warning", file=sys.stderr)
    run.log({"loss": 0.5})
    expbook.finish()
    print("after the run")
"""


def test_console_is_captured_with_progress_bars_collapsed(tmp_path: Path) -> None:
    proc = run_script(tmp_path, PRINTING)
    assert proc.returncode == 0, proc.stderr
    # the terminal still gets everything
    assert "first line" in proc.stdout and "loading 100%" in proc.stdout
    assert "loading 25%" in proc.stdout and "a warning" in proc.stderr
    rec, run_dir, _ = only_run(tmp_path)
    log = Path(run_dir, "output.log").read_text()
    assert log == "first line\nloading 100%\na warning\n"
    assert rec.meta["console"] == {"file": "output.log", "bytes": len(log), "truncated": False}


def test_console_switched_off(tmp_path: Path) -> None:
    body = PRINTING.replace('name="printer"', 'name="printer", capture_console=False')
    proc = run_script(tmp_path, body)
    assert proc.returncode == 0, proc.stderr
    rec, run_dir, _ = only_run(tmp_path)
    assert not Path(run_dir, "output.log").exists()
    assert "console" not in rec.meta


def test_a_failing_script_keeps_its_traceback(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import expbook
        run = expbook.init(project="p", name="crash")
        run.log({"loss": 1.0})
        def deep():
            raise ValueError("bad value 42")
        deep()
        """,
    )
    assert proc.returncode == 1 and "ValueError" in proc.stderr
    rec, run_dir, _ = only_run(tmp_path)
    assert rec.state == "failed"
    err = rec.meta["error"]
    assert err["type"] == "ValueError" and err["message"] == "bad value 42"
    assert "in deep" in err["traceback"] and err["traceback"].endswith("ValueError: bad value 42\n")
    # the traceback printed by Python reached the console too
    assert "ValueError: bad value 42" in Path(run_dir, "output.log").read_text()


def test_traceback_switched_off(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import expbook
        expbook.init(project="p", name="crash", record_traceback=False)
        raise ValueError("x")
        """,
    )
    assert proc.returncode == 1
    rec, _, _ = only_run(tmp_path)
    assert rec.state == "failed" and "error" not in rec.meta


def test_with_block_records_the_exception(store_path) -> None:
    run = expbook.init(project="p", store=store_path, system_metrics=False)
    with pytest.raises(KeyError), run:
        run.log({"x": 1.0})
        raise KeyError("missing")
    with SQLiteStore(store_path) as st:
        rec = st.get_run(run.id)
    assert rec.state == "failed"
    assert rec.meta["error"]["type"] == "KeyError"
    assert "raise KeyError" in rec.meta["error"]["traceback"]


def test_system_metrics_are_sampled_at_steps_0_1_2(store_path) -> None:
    run = expbook.init(project="p", store=store_path, system_metrics_interval=0.1)
    deadline = time.monotonic() + 30
    with SQLiteStore(store_path) as st:
        while time.monotonic() < deadline:
            sums = st.metric_summaries([run.id]).get(run.id, {})
            if sums.get("system/disk_percent") and sums["system/disk_percent"].count >= 3:
                break
            time.sleep(0.05)
        run.finish()
        sums = st.metric_summaries([run.id])[run.id]
        rec = st.get_run(run.id)
        series = st.read_series_lists(run.id, ["system/disk_percent"])["system/disk_percent"]
    assert {"system/cpu_percent", "system/memory_percent", "system/memory_rss_mb"} <= set(sums)
    assert list(series.steps) == list(range(len(series.steps))) and len(series.steps) >= 3
    assert 0 < series.values[0] <= 100
    assert list(series.walls) == sorted(series.walls)
    assert rec.meta["system_metrics"] == {"interval_s": 0.1, "samples": len(series.steps)}
    # no GPU here: no GPU keys and no error
    if "pynvml" not in sys.modules:
        assert not [k for k in sums if k.startswith("system/gpu")]


def test_system_metrics_switched_off(store_path) -> None:
    run = expbook.init(
        project="p", store=store_path, system_metrics=False, system_metrics_interval=0.05
    )
    time.sleep(0.6)
    run.finish()
    with SQLiteStore(store_path) as st:
        assert not [k for k in st.keys(run.id) if k.startswith("system/")]
        assert "system_metrics" not in st.get_run(run.id).meta


def test_environment_lists_the_packages(store_path) -> None:
    run = expbook.init(project="p", store=store_path, system_metrics=False)
    run.finish()
    with SQLiteStore(store_path) as st:
        rec = st.get_run(run.id)
        (env_event,) = st.events(run.id, "env")
    pkgs = env_event["data"]["packages"]
    assert pkgs["click"] and pkgs["numpy"]
    assert rec.meta["env"]["packages"] == len(pkgs)
    assert rec.meta["env"]["python"] == ".".join(map(str, sys.version_info[:3]))


def test_environment_switched_off(store_path) -> None:
    run = expbook.init(project="p", store=store_path, record_env=False)
    run.finish()
    with SQLiteStore(store_path) as st:
        assert st.events(run.id) == []
        assert "env" not in st.get_run(run.id).meta


def test_git_diff_of_a_dirty_checkout(tmp_path: Path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("lr = 0.1\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "train.py").write_text("lr = 0.2\n")
    monkeypatch.chdir(repo)
    run = expbook.init(project="p", store=tmp_path / "store", system_metrics=False)
    run.finish()
    with SQLiteStore(tmp_path / "store") as st:
        rec = st.get_run(run.id)
        (ev,) = st.events(run.id, "env")
    assert rec.meta["git"]["dirty"] is True
    assert "-lr = 0.1\n+lr = 0.2" in ev["data"]["git_diff"]
    assert rec.meta["env"]["git_diff_bytes"] == len(ev["data"]["git_diff"].encode())


def test_capture_env_variable_turns_everything_off(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import expbook
        expbook.init(project="p", name="quiet", system_metrics_interval=0.05)
        print("not kept")
        import time; time.sleep(0.6)
        raise ValueError("x")
        """,
        env={"EXPBOOK_CAPTURE": "0"},
    )
    assert proc.returncode == 1 and "not kept" in proc.stdout
    rec, run_dir, events = only_run(tmp_path)
    assert not Path(run_dir).exists()
    assert events == []
    assert not {"error", "env", "console", "system_metrics"} & set(rec.meta)


def test_bad_switches_are_usage_errors(store_path) -> None:
    with pytest.raises(expbook.UsageError, match="system_metrics_interval"):
        expbook.init(store=store_path, system_metrics_interval=0)
    with pytest.raises(expbook.UsageError, match="capture_console"):
        expbook.init(store=store_path, capture_console="yes")


def test_alert_is_stored_and_printed(store_path, capsys) -> None:
    run = expbook.init(project="p", store=store_path, capture_console=False)
    run.alert("Loss diverged", "loss = nan at step 3", level=expbook.AlertLevel.WARN)
    expbook.alert("done", "ok")
    # wait_duration: the same title within that long is skipped
    run.alert("done", "again", wait_duration=60)
    with pytest.raises(expbook.UsageError, match="level"):
        run.alert("x", "y", level="LOUD")
    run.finish()
    err = capsys.readouterr().err
    assert "expbook: alert (WARN) Loss diverged: loss = nan at step 3" in err
    with SQLiteStore(store_path) as st:
        alerts = st.events(run.id, "alert")
    assert [(a["level"], a["title"], a["text"]) for a in alerts] == [
        ("WARN", "Loss diverged", "loss = nan at step 3"),
        ("INFO", "done", "ok"),
    ]


def test_run_dir_is_a_folder_in_the_store(store_path) -> None:
    run = expbook.init(project="p", store=store_path, capture_console=False)
    d = run.dir
    assert os.path.isdir(d)
    with SQLiteStore(store_path) as st:
        assert d == st.run_dir(run.id)
        assert Path(d).is_relative_to(st.files_dir)
    run.finish()


def test_rm_deletes_events_and_the_run_folder(tmp_path: Path, cli_run) -> None:
    proc = run_script(tmp_path, PRINTING.replace("run.log(", 'run.alert("a", "b"); run.log('))
    assert proc.returncode == 0, proc.stderr
    rec, run_dir, events = only_run(tmp_path)
    assert os.path.isfile(os.path.join(run_dir, "output.log"))
    assert {e["kind"] for e in events} == {"alert", "env"}
    code, _, err = cli_run("rm", rec.id, "--yes", "--store", str(tmp_path / "store"))
    assert code == 0, err
    assert not os.path.exists(run_dir)
    with SQLiteStore(tmp_path / "store") as st:
        assert st._conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_show_has_sections_for_what_was_recorded(tmp_path: Path, cli_run) -> None:
    proc = run_script(
        tmp_path,
        """
        import expbook, time
        run = expbook.init(project="p", name="shown", system_metrics_interval=0.1)
        print("epoch 1 loss 0.5")
        run.alert("Slow", "epoch took 2 h", level="WARN")
        run.log({"loss": 0.5})
        time.sleep(0.8)
        raise RuntimeError("out of patience")
        """,
    )
    assert proc.returncode == 1
    store = str(tmp_path / "store")
    code, out, err = cli_run("show", "shown", "--store", store, "--format", "json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["error"]["type"] == "RuntimeError"
    assert obj["error"]["message"] == "out of patience"
    (alert,) = obj["alerts"]
    assert alert["time"].startswith("20")
    assert (alert["level"], alert["title"], alert["text"]) == ("WARN", "Slow", "epoch took 2 h")
    assert obj["console"]["tail"][0] == "epoch 1 loss 0.5"
    assert obj["console"]["path"].endswith("output.log")
    assert obj["env"]["packages"]["click"] and obj["env"]["package_count"] > 10
    cpu = obj["system"]["metrics"]["system/cpu_percent"]
    assert cpu["samples"] >= 1 and cpu["mean"] is not None and obj["system"]["interval_s"] == 0.1
    code, out, err = cli_run("show", "shown", "--store", store)
    assert code == 0, err
    assert "error: RuntimeError: out of patience" in out
    assert "alerts" in out and "epoch took 2 h" in out
    assert "console: last" in out and "epoch 1 loss 0.5" in out
    assert "environment: python" in out and "packages" in out
    assert "system (every 0.1 s)" in out
    # the big meta entries are shown in their sections, not dumped as JSON lines
    assert '"packages"' not in out and "env: {" not in out


def test_the_run_page_shows_what_was_recorded(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from expbook.web.app import create_app

    proc = run_script(
        tmp_path,
        """
        import expbook
        run = expbook.init(project="p", name="paged", system_metrics=False)
        print("<b>not bold</b>")
        run.alert("Alert <i>title</i>", "some text", level="ERROR")
        raise ValueError("page me")
        """,
    )
    assert proc.returncode == 1
    rec, _, _ = only_run(tmp_path)
    with TestClient(create_app(tmp_path / "store")) as client:
        page = client.get(f"/runs/{rec.id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="error"' in html and "page me" in html and "Traceback" in html
    assert 'id="alerts"' in html and "Alert &lt;i&gt;title&lt;/i&gt;" in html
    assert 'id="console"' in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "<b>not bold</b>" not in html
    assert 'id="environment"' in html and "<th>click</th>" in html


def test_default_metric_choice_skips_system_metrics() -> None:
    from expbook.report.starters import _pick_metric

    class R:
        def __init__(self, keys):
            self.metrics = dict.fromkeys(keys)
            self.summary = {}

    runs = [R(["system/cpu_percent", "system/memory_percent", "acc"]), R(["system/cpu_percent"])]
    assert _pick_metric(runs)[0] == "acc"


# -- the console file, without a process ---------------------------------------------------
def feed(tmp_path: Path, *writes: tuple[str, str]) -> str:
    """What ``output.log`` holds after the writes, each followed by a writer-thread flush."""
    sink = capture.start(str(tmp_path / "c" / "output.log"))
    try:
        for stream, text in writes:
            capture._queue.append((stream, text))  # what the tee of that stream does
            sink.flush()
    finally:
        capture.stop(sink)
        sink.flush(final=True)
    return (tmp_path / "c" / "output.log").read_text()


def test_carriage_returns_keep_the_last_state_of_a_line(tmp_path: Path) -> None:
    text = feed(
        tmp_path,
        ("stdout", "start\n"),
        ("stdout", "\r 10%"),
        ("stdout", "\r 20%"),
        ("stderr", "err line\n"),
        ("stdout", "\r100%\r\n"),
        ("stdout", "a\rb\rc\n"),
        ("stdout", "unfinished"),
    )
    assert text == "start\nerr line\n100%\nc\nunfinished\n"


def test_console_file_is_bounded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(capture, "MAX_BYTES", 1000)
    text = feed(tmp_path, *[("stdout", f"line {i}\n") for i in range(500)])
    assert text.startswith("line 0\nline 1\n")
    assert text.endswith("[expbook: output truncated: output.log reached 0 MB]\n")
    assert len(text.encode()) <= 1000 + 100


def test_streams_are_restored_and_a_replaced_stream_is_left_alone(tmp_path: Path) -> None:
    before = sys.stdout
    a = capture.start(str(tmp_path / "a.log"))
    assert sys.stdout is not before
    print("to a")
    capture.stop(a)
    a.flush(final=True)
    assert sys.stdout is before
    assert (tmp_path / "a.log").read_text() == "to a\n"
    # someone wraps stdout while capturing: stopping leaves their stream in place, and the
    # tee inside it only passes text through from then on
    b = capture.start(str(tmp_path / "b.log"))

    class Wrapper:
        def __init__(self, inner):
            self.inner = inner

        def write(self, s):
            return self.inner.write(s)

        def flush(self):
            self.inner.flush()

    wrapper = Wrapper(sys.stdout)
    sys.stdout = wrapper
    try:
        print("to b")
        capture.stop(b)
        b.flush(final=True)
        assert sys.stdout is wrapper
        print("after")  # must not raise nor reach b.log
    finally:
        sys.stdout = before
    assert (tmp_path / "b.log").read_text() == "to b\n"


def test_gpu_check_runs_or_says_why_not() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "check_gpu.py"), "--steps", "200"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("check_gpu: ")
    assert "skipped: " in proc.stdout or "FAIL" not in proc.stdout


def test_two_live_runs_each_keep_what_was_printed_while_they_ran(store_path) -> None:
    before = sys.stdout
    opts = {"store": store_path, "system_metrics": False, "record_env": False}
    a = expbook.init(project="p", name="a", **opts)
    print("both 1")
    b = expbook.init(project="p", name="b", reinit="create_new", **opts)
    print("both 2")
    a.finish()
    print("only b")
    b.finish()
    assert sys.stdout is before
    assert Path(a.dir, "output.log").read_text() == "both 1\nboth 2\n"
    assert Path(b.dir, "output.log").read_text() == "both 2\nonly b\n"
