"""walk.plan / walk.read: grouping files into runs, plug-in dispatch, never raising."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import pytest

from expbook.importers import registry, walk
from expbook.importers.model import ImportedRun, ParseError
from expbook.importers.registry import FormatInfo, ParseOptions


def rel(units: list[walk.Unit], root: Path) -> list[tuple[str, str]]:
    return sorted((u.format, os.path.relpath(u.path, root)) for u in units)


def make_run_folder(d: Path, with_log: bool = True) -> None:
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"lr": 0.1, "model": {"layers": 2}}))
    (d / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n2,0.25\n")
    (d / "summary.txt").write_text("train_loss=0.25\ntest_mse=1.5\n")
    (d / "preds.csv").write_text("id,y_true,y_pred\n0,1.5,1.0\n1,2.5,3.0\n")
    if with_log:
        (d / "train.log").write_text(
            "BATCH = 8\nepoch 1 train_loss: 0.5000 val_loss=0.9\nepoch 2 train_loss: 0.2500 "
            "val_loss=0.8\nBest val_loss: 0.8 at epoch 2\n"
        )


def test_run_folder_merges_its_files(tmp_path: Path) -> None:
    make_run_folder(tmp_path / "runs" / "r1")
    units = walk.plan([str(tmp_path)])
    assert rel(units, tmp_path) == [("folder", "runs/r1")]
    runs, failures = walk.read_all(units)
    assert failures == []
    (run,) = runs
    assert run.name == "r1"
    assert run.format == "folder"
    assert run.group == "runs"
    assert run.source == str(tmp_path / "runs" / "r1")
    assert run.config == {"lr": 0.1, "model": {"layers": 2}, "BATCH": 8}
    assert [(s, v) for s, v, _ in run.series["train_loss"]] == [(1, 0.5), (2, 0.25)]
    assert [(s, v) for s, v, _ in run.series["val_loss"]] == [(1, 0.9), (2, 0.8)]
    assert run.summary["train_loss"] == 0.25
    assert run.summary["test_mse"] == 1.5
    assert run.summary["preds/mse"] == 0.25
    assert run.summary["preds/n"] == 2
    assert run.summary["best_val_loss"] == 0.8
    assert run.summary["best_val_loss_epoch"] == 2
    assert [a.kind for a in run.artifacts] == ["predictions"]
    assert sorted(os.path.basename(f.path) for f in run.files) == [
        "config.json",
        "metrics.csv",
        "preds.csv",
        "summary.txt",
        "train.log",
    ]


def test_folder_of_logs_gives_one_run_per_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a", "b"):
        (logs / f"exp_{name}.log").write_text("step 1 loss=0.5\nstep 2 loss=0.4\n")
    (logs / "README.md").write_text("# notes 1 2 3\n")
    (logs / "weights.pt").write_bytes(b"\x00" * 100)
    units = walk.plan([str(tmp_path)])
    assert rel(units, tmp_path) == [("textlog", "logs/exp_a.log"), ("textlog", "logs/exp_b.log")]
    runs, failures = walk.read_all(units)
    assert [r.name for r in runs] == ["exp_a", "exp_b"]
    assert all(r.group == "logs" for r in runs)
    assert failures == []


def test_container_folder_with_nested_runs(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("shared: 1\n")
    make_run_folder(tmp_path / "sweep" / "s0", with_log=False)
    make_run_folder(tmp_path / "sweep" / "s1", with_log=False)
    (tmp_path / "extra.log").write_text("step 1 loss=0.5\nstep 2 loss=0.4\n")
    units = walk.plan([str(tmp_path)])
    assert rel(units, tmp_path) == [
        ("folder", "sweep/s0"),
        ("folder", "sweep/s1"),
        ("textlog", "extra.log"),
    ]
    runs, _ = walk.read_all(units)
    assert {r.name: r.group for r in runs} == {"s0": "sweep", "s1": "sweep", "extra": None}


def test_hidden_and_cache_folders_are_skipped(tmp_path: Path) -> None:
    for d in (".git", "__pycache__", ".expbook"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.log").write_text("step 1 loss=0.5\nstep 2 loss=0.4\n")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert walk.plan([str(tmp_path)]) == []


def fake_format(module_name: str, name: str, **funcs) -> FormatInfo:
    mod = types.ModuleType(f"fake_{name}")
    mod.FORMAT = name
    for k, v in funcs.items():
        setattr(mod, k, v)
    return FormatInfo(module_name, name, (), mod)


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch):
    """Replace the optional plug-ins by fakes (restored after the test)."""

    def claim(path: str) -> bool:
        return os.path.basename(path).startswith("store_")

    def parse_store(path: str, opts) -> list[ImportedRun]:
        return [ImportedRun(name="from_store", format="fakestore", source=path)]

    def sniff_db(path: str, head: bytes) -> int:
        return 95 if path.endswith(".db") else 0

    def parse_db(path: str, opts) -> list[ImportedRun]:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(
        registry._cache,
        "tensorboard",
        fake_format("tensorboard", "fakestore", claim_dir=claim, parse=parse_store),
    )
    monkeypatch.setitem(
        registry._cache,
        "mlflow",
        fake_format("mlflow", "fakedb", sniff_file=sniff_db, parse=parse_db),
    )


def test_claimed_folders_and_sniffed_files_go_to_plugins(tmp_path: Path, fake_plugins) -> None:
    store = tmp_path / "store_1"
    make_run_folder(store / "inner")  # not visited: the store claims the folder
    (tmp_path / "runs.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    units = walk.plan([str(tmp_path)])
    assert rel(units, tmp_path) == [("fakedb", "runs.db"), ("fakestore", "store_1")]
    runs, failures = walk.read_all(units)
    assert [r.name for r in runs] == ["from_store"]
    (f,) = failures
    assert f.path == str(tmp_path / "runs.db")
    assert f.reason == "internal error in fakedb parser: RuntimeError: boom second line"


def test_direct_files_missing_paths_and_unknown_files(tmp_path: Path) -> None:
    log = tmp_path / "exp7.txt"
    log.write_text("epoch 1 loss=0.5\nepoch 2 loss=0.4\n")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01\x02" * 50)
    units = walk.plan([str(log), str(blob), str(tmp_path / "nope.log")])
    assert [u.format for u in units] == ["textlog", "", ""]
    runs, failures = walk.read_all(units)
    assert [r.name for r in runs] == ["exp7"]
    assert [f.reason for f in failures] == [
        "not a recognised run file (try --from FORMAT)",
        "no such file or folder",
    ]


def test_from_format_forces_and_unknown_format_raises(tmp_path: Path) -> None:
    p = tmp_path / "out.dat"
    p.write_text("step,loss\n1,0.5\n")
    (u,) = walk.plan([str(p)], from_format="csv")
    assert (u.format, u.module) == ("tabular", "tabular")
    runs, failures = walk.read(u, ParseOptions(from_format="csv"))
    assert failures == []
    assert [(s, v) for s, v, _ in runs[0].series["loss"]] == [(1, 0.5)]
    with pytest.raises(registry.UnknownFormat, match="unknown format 'nope'"):
        walk.plan([str(p)], from_format="nope")


def test_from_format_in_a_folder_takes_only_that_format(tmp_path: Path) -> None:
    make_run_folder(tmp_path / "r1")
    (tmp_path / "other.log").write_text("step 1 loss=0.5\nstep 2 loss=0.4\n")
    assert rel(walk.plan([str(tmp_path)], from_format="folder"), tmp_path) == [("folder", "r1")]
    got = rel(walk.plan([str(tmp_path)], from_format="textlog"), tmp_path)
    assert got == [("textlog", "other.log"), ("textlog", "r1/train.log")]


def test_pattern_reads_plain_text_logs(tmp_path: Path) -> None:
    p = tmp_path / "odd.txt"
    p.write_text("it 1 -> 0.5\nit 2 -> 0.25\n")
    assert walk.plan([str(tmp_path)]) == []  # inference does not want this file
    opts = ParseOptions(pattern="it {step} -> {loss}")
    units = walk.plan([str(tmp_path)], opts=opts)
    runs, _ = walk.read_all(units, opts)
    assert [(s, v) for s, v, _ in runs[0].series["loss"]] == [(1, 0.5), (2, 0.25)]


def test_read_reports_parse_errors_as_failures(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    u = walk.Unit("tabular", str(p), module="tabular")
    runs, failures = walk.read(u)
    assert runs == []
    assert failures == [walk.Failure(str(p), "empty CSV file")]


def test_run_table_rows_attach_to_the_runs_they_name(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in ("a", "b"):
        (logs / f"w3_screen_{n}.log").write_text("step 1 val_loss=5.0\nstep 2 val_loss=4.0\n")
    res = tmp_path / "results"
    res.mkdir()
    (res / "results.csv").write_text(
        'model,flags,run,best_val_loss\nv,"x,y",screen_a,4.0\nn,z,screen_b,4.1\nq,w,screen_c,9\n'
    )
    units = walk.plan([str(tmp_path)])
    by_path = {os.path.relpath(u.path, tmp_path): u for u in units}
    assert by_path["logs/w3_screen_a.log"].attach == (str(res / "results.csv"),)
    assert by_path["results/results.csv"].rows == ("screen_c",)
    runs, failures = walk.read_all(units)
    assert failures == []
    by = {r.name: r for r in runs}
    assert set(by) == {"w3_screen_a", "w3_screen_b", "screen_c"}
    assert by["w3_screen_a"].summary == {"model": "v", "flags": "x,y", "best_val_loss": 4.0}
    assert by["w3_screen_b"].summary["flags"] == "z"
    assert str(res / "results.csv") in [f.path for f in by["w3_screen_a"].files]
    assert by["screen_c"].summary["best_val_loss"] == 9
    assert not by["screen_c"].series


def test_registry_tolerates_missing_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "FORMAT_MODULES", (*registry.FORMAT_MODULES, "no_such_fmt"))
    monkeypatch.delitem(registry._cache, "no_such_fmt", raising=False)
    info = registry.load("no_such_fmt")
    assert not info.available
    assert info.error == "format module 'no_such_fmt' is not installed"
    assert registry.unavailable()["no_such_fmt"] == info.error
    with pytest.raises(registry.UnknownFormat, match="unavailable"):
        registry.resolve("no_such_fmt")
    # the others still work
    assert registry.resolve("csv").name == "tabular"
    assert registry.resolve("textlog").module_name == "textlog"
    names = [f.module_name for f in registry.formats()]
    for m in ("tensorboard", "mlflow", "wandb", "lightning", "huggingface", "folder", "textlog"):
        assert m in names


def test_registry_reports_a_missing_dependency(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    pkg = tmp_path / "pkgdir"
    pkg.mkdir()
    import expbook.importers as imp

    (pkg / "needs_dep.py").write_text("import surely_not_installed_pkg\nFORMAT = 'x'\n")
    monkeypatch.setattr(imp, "__path__", [*imp.__path__, str(pkg)])
    monkeypatch.delitem(registry._cache, "needs_dep", raising=False)
    info = registry.load("needs_dep")
    monkeypatch.delitem(registry._cache, "needs_dep")
    assert not info.available
    assert info.error is not None
    assert info.error.startswith("needs the Python package 'surely_not_installed_pkg'")


def test_plan_and_read_never_raise_on_unreadable_folder(tmp_path: Path) -> None:
    d = tmp_path / "r"
    make_run_folder(d, with_log=False)
    (d / "metrics.csv").write_bytes(b"\x00\x01\x02\x03" * 64)
    (d / "summary.txt").write_bytes(b"")
    (d / "preds.csv").write_text("a,b\n1,2\n")
    (d / "config.json").write_text("{not json")
    units = walk.plan([str(tmp_path)])
    runs, failures = walk.read_all(units)
    assert runs == []
    (f,) = failures
    assert f.reason.startswith("no readable run files in folder (config.json: invalid JSON")
    assert "\n" not in f.reason
    with pytest.raises(ParseError):
        raise ParseError(f.reason)


def test_hydra_output_folder_is_one_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "multirun" / "2024-01-01" / "12-00-00" / "3"
    hd = run_dir / ".hydra"
    hd.mkdir(parents=True)
    (hd / "config.yaml").write_text("optimizer:\n  lr: 0.01\n")
    (hd / "overrides.yaml").write_text("- optimizer.lr=0.01\n")
    (run_dir / "my_app.log").write_text(
        "[2024-01-01 12:00:01,000][__main__][INFO] - epoch=1 loss=0.5\n"
        "[2024-01-01 12:00:02,000][__main__][INFO] - epoch=2 loss=0.25\n"
    )
    (u,) = walk.plan([str(tmp_path / "multirun")])
    assert (u.format, u.path) == ("folder", str(run_dir))
    (run,), failures = walk.read(u)
    assert failures == []
    assert run.name == "12-00-00/3"
    assert run.group == "2024-01-01/12-00-00"
    assert run.config == {"optimizer": {"lr": 0.01}, "hydra": {"overrides": ["optimizer.lr=0.01"]}}
    assert run.tags == ["optimizer.lr=0.01"]
    (p1, p2) = run.series["loss"]
    assert (p1[0], p1[1], p2[0], p2[1]) == (1, 0.5, 2, 0.25)
    assert p2[2] - p1[2] == pytest.approx(1.0)  # wall times from the log's timestamps
    # the run folder given directly: no group
    (u2,) = walk.plan([str(run_dir)])
    assert u2.group is None


def test_config_only_root_above_runs_is_a_container(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("project: x\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("step 1 loss=0.5\nstep 2 loss=0.4\n")
    assert rel(walk.plan([str(tmp_path)]), tmp_path) == [("textlog", "logs/a.log")]
    # a folder with only a config and nothing below is a (config-only) run
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "config.json").write_text('{"lr": 1}')
    (u,) = walk.plan([str(lone)])
    (run,), _ = walk.read(u)
    assert run.config == {"lr": 1} and not run.series


def test_options_project_and_single_run_name(tmp_path: Path) -> None:
    p = tmp_path / "exp.log"
    p.write_text("step 1 loss=0.5\nstep 2 loss=0.4\n")
    (u,) = walk.plan([str(p)])
    (run,), _ = walk.read(u, ParseOptions(project="proj", name="renamed"))
    assert (run.name, run.project) == ("renamed", "proj")
    t = tmp_path / "all.csv"
    t.write_text("run,step,loss\na,1,0.5\nb,1,0.7\n")
    (u,) = walk.plan([str(t)])
    runs, _ = walk.read(u, ParseOptions(name="ignored"))
    assert sorted(r.name for r in runs) == ["a", "b"]
