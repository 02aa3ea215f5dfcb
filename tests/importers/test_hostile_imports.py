"""Hostile or huge input: every import stays bounded (time, memory, what it stores).

Imports that used to take quadratic time or unbounded memory run in a child process with a
generous timeout, so a regression fails the test instead of hanging the suite. Nothing here
asserts a speed: only that the work completes and gives the right result.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from expbook import _yaml
from expbook.importers import walk
from expbook.importers.registry import ParseOptions

SRC = Path(__file__).resolve().parents[2] / "src"
BOUND_S = 60  # generous: each of these completes in a few seconds when linear


def run_child(code: str, timeout: float = BOUND_S) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    env_code = f"import sys; sys.path.insert(0, {str(SRC)!r})\n" + textwrap.dedent(code)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", env_code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not complete within {timeout} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_one(path: Path, **opts: str) -> tuple[list, list]:
    return walk.read(walk.plan([str(path)], opts.get("from_format"))[0], ParseOptions(**opts))


# ---------------------------------------------------------------------------------------------
# regular expressions: linear in the line


def test_ten_megabyte_line_in_a_log(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    with open(p, "w") as f:
        f.write("step 1 loss=0.5\n")
        f.write("x" * (10 << 20) + "\n")  # one 10 MB word
        f.write("step 2 loss=0.25\n")
    out = run_child(
        f"""
        import json
        from expbook.importers import walk
        (run,), failures = walk.read(walk.plan([{str(p)!r}])[0])
        print(json.dumps({{"loss": [list(x[:2]) for x in run.series["loss"]],
                          "skipped": run.skipped_lines, "failures": len(failures)}}))
        """
    )
    assert out == {"loss": [[1, 0.5], [2, 0.25]], "skipped": 1, "failures": 0}


# Lines that made one of the importers' patterns quadratic (each a few MB once repeated):
# a word ending in "Warning", many "saved" words with no path, a key glued to junk before
# '=', log-level boilerplate, counters followed by whitespace, unclosed brackets in header
# key=value pairs, whitespace runs inside key: value lines and --pattern fields.
N = 1 << 20
HOSTILE_LINES = [
    "w" * N + "!",
    "_" * N,
    "saved, " * (N // 7),
    "za" * (N // 2) + "!=1",
    "INFO-" * (N // 5),
    "DEBUG-" * (N // 6) + "!",
    "step" + " " * N + "x",
    "epoch 1 at epoch" + " " * N + "x",
    "a=[ " * (N // 4),
    "a=( " * (N // 4),
    "cfg = " + "v" + " " * N + "v",
    "lr:" + " " * N + "x",
    "Best acc" + " " * N + "x",
    "a" + " " * N + "b",
]


@pytest.mark.parametrize("where", ["header", "body"])
def test_hostile_lines_in_logs(tmp_path: Path, where: str) -> None:
    p = tmp_path / "train.log"
    body = "\n".join(HOSTILE_LINES) + "\n"
    with open(p, "w") as f:
        if where == "body":
            f.write("step 1 loss=0.5\n")
        f.write(body)
        f.write("step 2 loss=0.25\n")
    out = run_child(
        f"""
        import json
        from expbook.importers import walk
        (run,), failures = walk.read(walk.plan([{str(p)!r}])[0])
        print(json.dumps({{"loss": [list(x[:2]) for x in run.series["loss"]]}}))
        """
    )
    expect = [[1, 0.5], [2, 0.25]] if where == "body" else [[2, 0.25]]
    assert out["loss"] == expect


def test_hostile_lines_in_summaries_and_patterns(tmp_path: Path) -> None:
    s = tmp_path / "summary.txt"
    s.write_text("acc=0.5\n" + "\n".join(HOSTILE_LINES) + "\nloss: 0.25 # c\n")
    log = tmp_path / "odd.log"
    skips = "step 1 " * (N // 7)  # {_} lets each "step" scan the rest of the line
    log.write_text("\n".join([*HOSTILE_LINES, skips]) + "\nstep 3 loss 0.75\n")
    out = run_child(
        f"""
        import json
        from expbook.importers import summary, walk, textlog
        from expbook.importers.registry import ParseOptions
        res = summary.parse_text(open({str(s)!r}).read())
        opts = ParseOptions(pattern="step {{step}} {{_}}loss {{loss}}")
        (run,), _ = walk.read(walk.plan([{str(log)!r}], opts=opts)[0], opts)
        head = open({str(log)!r}, "rb").read()
        print(json.dumps({{"acc": res.summary["acc"], "loss": res.summary["loss"],
                          "pattern": [list(x[:2]) for x in run.series["loss"]],
                          "sniff": textlog.sniff_file("x.log", head) >= 0}}))
        """
    )
    assert out == {"acc": 0.5, "loss": 0.25, "pattern": [[3, 0.75]], "sniff": True}


# ---------------------------------------------------------------------------------------------
# YAML: alias bombs and other documents that expand without bound

BOMB = (
    "a: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n" for a, b in zip("abcdefgh", "bcdefghi")
    )
)


def test_bomb_is_small_and_refused() -> None:
    assert len(BOMB) < 400
    with pytest.raises(yaml.YAMLError) as e:
        _yaml.load(BOMB)
    assert "expands to more than" in _yaml.describe(e.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("&a [*a]", "recursive"),
        ("- " * 150 + "x", "nested deeper than"),
        ("x: 2020-13-45", "unreadable value"),
        ("a: !!python/object:os.system x", "invalid YAML"),
        ("a: [1, 2", "invalid YAML"),
    ],
)
def test_yaml_refusals_are_one_line(text: str, why: str) -> None:
    with pytest.raises(yaml.YAMLError) as e:
        _yaml.load(text)
    msg = _yaml.describe(e.value)
    assert why in msg and "\n" not in msg


def test_yaml_within_bounds_loads_as_before() -> None:
    doc = "base: &b {lr: 0.1, wd: 0}\nrun:\n  <<: *b\n  lr: 0.2\nlist: [*b, *b]\n"
    assert _yaml.load(doc) == yaml.safe_load(doc)
    assert _yaml.load("t: !!python/tuple [1, 2]", tolerant=True) == {"t": [1, 2]}
    with pytest.raises(yaml.YAMLError):
        _yaml.load(BOMB, tolerant=True)
    with pytest.raises(yaml.YAMLError):
        _yaml.load("a: &x [1, 2, 3]\nb: [*x, *x, *x]", max_nodes=10)


def test_bomb_as_a_run_config(tmp_path: Path) -> None:
    d = tmp_path / "run1"
    (d / ".hydra").mkdir(parents=True)
    (d / "config.yaml").write_text(BOMB)
    (d / "args.yaml").write_text(BOMB)
    (d / ".hydra" / "overrides.yaml").write_text(BOMB)
    (d / "metrics.csv").write_text("step,loss\n1,0.5\n2,0.25\n")
    out = run_child(
        f"""
        import json
        from expbook.importers import walk
        (run,), failures = walk.read(walk.plan([{str(d)!r}])[0])
        print(json.dumps({{"config": run.config, "warnings": run.warnings,
                          "n": run.n_points, "failures": len(failures)}}))
        """
    )
    assert out["config"] == {} and out["n"] == 2 and out["failures"] == 0
    bombs = [w for w in out["warnings"] if "expands to more than" in w]
    assert {w.split(":")[0] for w in bombs} == {
        "config.yaml",
        "args.yaml",
        ".hydra/overrides.yaml",
    }


def test_bomb_as_a_config_file_alone_fails_in_one_line(tmp_path: Path) -> None:
    p = tmp_path / "config.yaml"
    p.write_text(BOMB)
    out = run_child(
        f"""
        import json
        from expbook.importers import walk
        runs, failures = walk.read(walk.plan([{str(p)!r}])[0])
        print(json.dumps({{"runs": len(runs), "reasons": [f.reason for f in failures]}}))
        """
    )
    assert out["runs"] == 0
    (reason,) = out["reasons"]
    assert "expands to more than" in reason


def test_bomb_as_lightning_hparams(tmp_path: Path) -> None:
    v = tmp_path / "lightning_logs" / "version_0"
    v.mkdir(parents=True)
    (v / "metrics.csv").write_text("epoch,step,loss\n0,1,0.5\n")
    (v / "hparams.yaml").write_text(BOMB)
    out = run_child(
        f"""
        import json
        from expbook.importers import walk
        (run,), failures = walk.read(walk.plan([{str(tmp_path / "lightning_logs")!r}])[0])
        print(json.dumps({{"config": run.config, "warnings": run.warnings,
                          "failures": len(failures)}}))
        """
    )
    assert out["failures"] == 0 and out["config"] == {}
    assert any("expands to more than" in w for w in out["warnings"])


def test_config_and_summary_are_capped(tmp_path: Path) -> None:
    d = tmp_path / "run1"
    d.mkdir()
    big = {f"k{i:06d}": "v" * 100 for i in range(20_000)}  # about 2.4 MB of JSON
    (d / "config.json").write_text(json.dumps({"lr": 0.1, **big}))
    (d / "summary.txt").write_text(
        "acc=0.5\n" + "".join(f"m{i:06d}={i}.5\n" for i in range(120_000))
    )
    (run,), failures = read_one(d)
    assert failures == []
    assert run.config["lr"] == 0.1 and 0 < len(run.config) < 20_001
    assert len(json.dumps(run.config)) <= 1 << 20
    assert run.summary["acc"] == 0.5 and 0 < len(run.summary) < 120_001
    assert len(json.dumps(run.summary)) <= 1 << 20
    assert any(w.startswith("config:") and "left out" in w for w in run.warnings)
    assert any(w.startswith("summary:") and "left out" in w for w in run.warnings)


# ---------------------------------------------------------------------------------------------
# numbers too large for a float64

HUGE = "1" * 400


def test_jsonl_huge_integer_is_skipped_naming_the_line(tmp_path: Path) -> None:
    p = tmp_path / "metrics.jsonl"
    p.write_text(
        '{"step": 1, "loss": 0.5}\n'
        f'{{"step": 2, "loss": {HUGE}}}\n'
        '{"step": 3, "loss": 0.25, "acc": 1e999}\n'
        f'{{"step": 4, "loss": {"9" * 5000}}}\n'
    )
    (run,), failures = read_one(p)
    assert failures == []
    assert [x[:2] for x in run.series["loss"]] == [(1, 0.5), (3, 0.25)]
    assert "acc" not in run.series
    (w,) = run.warnings
    assert "2 number(s) too large for a float64" in w and "line 2, key loss" in w


def test_json_records_with_huge_numbers(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text(f'[{{"step": 1, "loss": 0.5}}, {{"step": 2, "loss": {HUGE}}}]')
    (run,), failures = read_one(p)
    assert failures == [] and [x[:2] for x in run.series["loss"]] == [(1, 0.5)]
    assert "record 2, key loss" in run.warnings[0]


def test_csv_huge_numbers_are_missing_not_inf(tmp_path: Path) -> None:
    p = tmp_path / "metrics.csv"
    p.write_text(f"step,loss\n1,0.5\n2,{HUGE}\n3,1e999\n4,inf\n5,nan\n{'9' * 30},0.1\n")
    (run,), failures = read_one(p)
    assert failures == []
    pts = [x[:2] for x in run.series["loss"]]
    assert pts[0] == (1, 0.5) and pts[1] == (4, math.inf) and pts[2][0] == 5
    assert math.isnan(pts[2][1]) and len(pts) == 3
    assert "2 number(s) too large for a float64 read as missing (first on line 3)" in (run.warnings)


def test_summary_files_keep_huge_numbers_as_text(tmp_path: Path) -> None:
    s = tmp_path / "summary.txt"
    s.write_text(f"a={HUGE}\nb=1e999\nc=nan\nd=inf\ne=0.5\nf={'7' * 5000}\n")
    (run,), failures = read_one(s)
    assert failures == []
    assert isinstance(run.summary["a"], str) and run.summary["a"].startswith("111")
    assert run.summary["b"] == "1e999" and math.isnan(run.summary["c"])
    assert run.summary["d"] == math.inf and run.summary["e"] == 0.5
    assert isinstance(run.summary["f"], str)
    e = tmp_path / "eval.json"
    e.write_text(f'{{"a": {HUGE}, "b": 1e999, "c": 12345678901234567890123, "d": 0.5}}')
    (run,), failures = read_one(e)
    assert failures == []
    assert isinstance(run.summary["a"], str) and run.summary["b"] == "1e999"
    assert run.summary["c"] == pytest.approx(1.2345678901234568e22) and run.summary["d"] == 0.5


def test_log_huge_numbers_are_left_out(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    p.write_text(
        "step 1 loss=0.5 acc=0.1\n"
        f"step 2 loss={HUGE} acc=0.2\n"
        "step 3 loss=1e999 acc=0.3\n"
        "step 4 loss=inf acc=0.4\n"
        f"step {HUGE} loss=0.1 acc=0.5\n"
        f"Best acc: {HUGE} at epoch 3\n"
        "Best loss: 0.5 at epoch 1\n"
    )
    (run,), failures = read_one(p)
    assert failures == []
    assert [x[:2] for x in run.series["loss"]] == [(1, 0.5), (4, math.inf)]
    assert [x[0] for x in run.series["acc"]] == [1, 2, 3, 4]
    assert "best_acc" not in run.summary and run.summary["best_loss"] == 0.5
    assert any("too large for a float64" in w and "line 2" in w for w in run.warnings)


def test_mlflow_huge_params_and_metrics(tmp_path: Path) -> None:
    run_dir = tmp_path / "mlruns" / "1" / "abc"
    (run_dir / "params").mkdir(parents=True)
    (run_dir / "metrics").mkdir()
    (tmp_path / "mlruns" / "1" / "meta.yaml").write_text(
        "experiment_id: '1'\nname: exp\nlifecycle_stage: active\n"
    )
    (run_dir / "meta.yaml").write_text(
        "run_id: abc\nrun_uuid: abc\nexperiment_id: '1'\nstatus: 3\nstart_time: 1\n"
    )
    (run_dir / "params" / "seed").write_text("9" * 5000)
    (run_dir / "params" / "lr").write_text("1e999")
    (run_dir / "metrics" / "loss").write_text(f"1000 0.5 1\n{HUGE} 0.4 2\n1000 0.3 {HUGE}\n")
    runs, failures = read_one(tmp_path / "mlruns")
    assert failures == []
    (run,) = runs
    assert run.config["lr"] == "1e999" and isinstance(run.config["seed"], str)
    assert [x[:2] for x in run.series["loss"]] == [(1, 0.5)]


# ---------------------------------------------------------------------------------------------
# memory: a CSV import holds about the size of its columns, not a Python object per cell


def test_csv_import_memory_is_bounded(tmp_path: Path) -> None:
    p = tmp_path / "metrics.csv"
    rows = 1_000_000
    with open(p, "w") as f:
        f.write("step,loss,acc,lr,val_loss\n")
        for i in range(0, rows, 10_000):
            f.write(
                "".join(
                    f"{s},{1 / (s + 1):.10f},{s % 997 / 997:.8f},0.001,{2 / (s + 2):.10f}\n"
                    for s in range(i, i + 10_000)
                )
            )
    size = p.stat().st_size
    assert size > 40 << 20
    out = run_child(
        f"""
        import json, resource
        from expbook.importers import driver, walk, tabular, textlog, folder
        from expbook.store import connect
        backend = connect({str(tmp_path / "store")!r})
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        outs = driver.import_paths(backend, [{str(p)!r}], project=None)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({{"grew": peak - base, "status": [o.status for o in outs],
                          "points": [o.points for o in outs]}}))
        """,
        timeout=300,
    )
    assert out["status"] == ["imported"] and out["points"] == [4 * rows]
    assert out["grew"] < 5 * size, f"peak grew by {out['grew'] / size:.1f}x the file size"
