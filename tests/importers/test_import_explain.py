"""Never-silent imports and ``expbook import --explain``.

An import that finds nothing exits 1 and says why for each path; an empty run is reported as
``empty`` (and never stored); files a folder walk passes over are listed with their reason;
failure lines go to stderr with the whole path. ``--explain`` says which reader takes a file
and what it reads there, writes nothing, and suggests a ``--pattern`` when nothing is found.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from expbook.cli import cli
from expbook.importers import driver, explain, textlog
from expbook.importers.model import ImportedRun
from expbook.store import connect

REAL = Path(__file__).resolve().parent.parent / "data" / "real"

# an mmdetection ``*.log.json``: JSON lines under a .json name
MMDET = '{"env_info": "sys.platform: linux", "seed": 0}\n' + "".join(
    f'{{"mode": "train", "epoch": 1, "iter": {i * 50}, "lr": 0.02, "loss": {1 / i:.4f}}}\n'
    for i in range(1, 6)
)
LOG = "".join(f"epoch {e}/3 | loss={1 / e:.3f} | acc={e / 4:.2f}\n" for e in range(1, 4))


def run_cli(*args: str, store: Path | None = None) -> tuple[int, str, str]:
    extra = ["--store", str(store)] if store is not None else []
    res = CliRunner().invoke(cli, [*args, *extra])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout, res.stderr


def test_folder_with_nothing_importable_fails_and_says_why(tmp_path: Path) -> None:
    d = tmp_path / "work_dirs"
    d.mkdir()
    (d / "notes.txt").write_text("Ran the baseline again on Tuesday.\nLooks fine.\n")
    (d / "model.pt").write_bytes(b"\x80\x02" + b"\x00" * 64)
    code, out, err = run_cli("import", str(d), "--format", "json", store=tmp_path / "s")
    assert code == 1
    data = json.loads(out)
    assert set(data) >= {"runs", "counts", "skipped"}
    (row,) = data["runs"]
    assert row["status"] == "failed" and row["source"] == str(d)
    assert row["note"].startswith("nothing to import: no run found: 2 file(s) here")
    reasons = {s["path"]: s["reason"] for s in data["skipped"]}
    assert reasons == {
        str(d / "model.pt"): "binary file type (.pt)",
        str(d / "notes.txt"): "no reader recognises its content",
    }
    assert f"expbook import: failed: {d}: nothing to import" in err


def test_empty_folder_fails(tmp_path: Path) -> None:
    d = tmp_path / "nothing_here"
    d.mkdir()
    code, out, err = run_cli("import", str(d), store=tmp_path / "s")
    assert code == 1
    assert "no files found in this folder" in out and str(d) in err


def test_skipped_files_are_listed_next_to_imported_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text(LOG)
    (logs / "weights.pt").write_bytes(b"\x00" * 64)
    (logs / "notes.md").write_text("some notes\n")
    code, out, _ = run_cli("import", str(logs), "--format", "json", store=tmp_path / "s")
    assert code == 0
    data = json.loads(out)
    assert data["counts"] == {"imported": 1}
    reasons = {Path(s["path"]).name: s["reason"] for s in data["skipped"]}
    assert set(reasons) == {"weights.pt", "notes.md"}
    assert "binary file type (.pt)" in reasons["weights.pt"]
    code, out, _ = run_cli("import", str(logs), store=tmp_path / "s")
    assert code == 0 and "skipped" in out and "notes.md" in out
    assert "2 file(s) skipped" in out


def test_failure_line_on_stderr_names_the_whole_path(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(f"{c * 40}" for c in "abcdef"))
    deep.mkdir(parents=True)
    bad = deep / "train.log"
    bad.write_text("nothing numeric here\njust words\n")
    code, _, err = run_cli("import", str(bad), store=tmp_path / "s")
    assert code == 1
    line = next(ln for ln in err.splitlines() if ln.startswith("expbook import: failed:"))
    assert f"{bad}: no metrics found" in line


def test_empty_run_is_reported_not_stored(tmp_path: Path) -> None:
    store = connect(str(tmp_path / "s"))
    try:
        src = str(tmp_path / "x.log")
        run = ImportedRun(name="x", format="textlog", source=src)
        out = driver.write_run(store, run, "p", src)
        assert out.status == "empty" and "nothing stored" in out.note and out.id is None
        assert store.list_runs() == []
        # a run stored from an earlier version of the source is kept, not emptied
        full = ImportedRun(name="x", format="textlog", source=src, summary={"acc": 0.5})
        first = driver.write_run(store, full, "p", src)
        assert first.status == "imported"
        again = driver.write_run(store, run, "p", src)
        assert again.status == "empty" and again.id == first.id and "kept" in again.note
        assert [r.id for r in store.list_runs()] == [first.id]
    finally:
        store.close()


def test_every_unit_empty_exits_1(tmp_path: Path) -> None:
    """An MLflow run that logged nothing: reported as empty, exit 1, nothing stored."""
    run = tmp_path / "mlruns" / "0" / "abc123"
    (run / "metrics").mkdir(parents=True)
    (run / "params").mkdir()
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text(
        "artifact_location: file:///tmp/x\nexperiment_id: '0'\nlifecycle_stage: active\n"
        "name: Default\n"
    )
    (run / "meta.yaml").write_text(
        "artifact_uri: file:///tmp/x\nend_time: null\nexperiment_id: '0'\n"
        "lifecycle_stage: active\nrun_id: abc123\nrun_name: empty-run\nrun_uuid: abc123\n"
        "start_time: 1700000000000\nstatus: 3\nuser_id: me\n"
    )
    code, out, err = run_cli(
        "import", str(tmp_path / "mlruns"), "--format", "json", store=tmp_path / "s"
    )
    assert code == 1
    data = json.loads(out)
    assert data["counts"] == {"empty": 1}
    assert "empty:" in err and "nothing imported" in err
    code, out, _ = run_cli("runs", "--format", "json", store=tmp_path / "s")
    assert json.loads(out) == []


# --- --explain ---------------------------------------------------------------------------


def _explain(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli("import", "--explain", str(path), *args, "--format", "json")
    return code, json.loads(out)


def test_explain_a_log(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("lr = 0.1\nbatch_size: 32\n" + LOG + "a line without anything\n")
    code, rep = _explain(log)
    assert code == 0
    (unit,) = rep["units"]
    assert unit["reader"] == "textlog" and unit["why"].startswith("content sniff: textlog")
    (run,) = unit["runs"]
    assert run["keys"]["loss"] == {"points": 3, "first_step": 1, "last_step": 3}
    assert run["keys"]["acc"]["points"] == 3
    assert "lr" in run["config_keys"]
    assert unit["ignored_count"] >= 1
    assert unit["pattern_suggestion"] is None  # the reader found metrics
    assert not (tmp_path / ".expbook").exists() and not list(tmp_path.glob("*.db"))


def test_explain_writes_nothing_to_a_store(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(LOG)
    store = tmp_path / "store"
    code, _, _ = run_cli("import", "--explain", str(log), store=store)
    assert code == 0 and not store.exists()


def test_explain_suggests_a_pattern_that_imports(tmp_path: Path) -> None:
    """A Keras CSVLogger file under a .log name read as a text log (``--from textlog``: a
    reader of CSV content may take it otherwise): the inference finds nothing; the suggested
    pattern, taken as is, imports every epoch."""
    log = tmp_path / "training.log"
    shutil.copy(REAL / "keras-csvlogger-emotion" / "training.log", log)
    code, rep = _explain(log, "--from", "textlog")
    assert code == 1
    (unit,) = rep["units"]
    assert unit["failures"] and unit["failures"][0]["reason"].startswith("no metrics found")
    sug = unit["pattern_suggestion"]
    assert sug["pattern"] == "{epoch},{accuracy},{loss},{val_accuracy},{val_loss}"
    assert sug["keys"] == {"accuracy": 17, "loss": 17, "val_accuracy": 17, "val_loss": 17}
    code, out, _ = run_cli(
        "import", str(log), "--pattern", sug["pattern"], "--format", "json", store=tmp_path / "s"
    )
    (row,) = json.loads(out)["runs"]
    assert code == 0 and row["points"] == 4 * 17
    code, out, _ = run_cli(
        "history", row["id"], "val_loss", "--format", "json", store=tmp_path / "s"
    )
    steps = [s for s, _ in json.loads(out)["val_loss"]]
    assert steps == list(range(17))


def test_explain_json_lines_under_json_name(tmp_path: Path) -> None:
    """JSON lines read as one JSON document (``--from summary``) fail; the suggestion, for a
    file named like a log, needs ``--from textlog``."""
    f = tmp_path / "20230101_120000.log.json"
    f.write_text(MMDET)
    code, out, _ = run_cli("import", "--explain", str(f), "--from", "summary")
    assert code == 1
    assert "reader: summary - --from summary" in out and "failed: invalid JSON" in out
    assert "--from textlog --pattern" in out
    code, rep = _explain(f, "--from", "summary")
    sug = rep["units"][0]["pattern_suggestion"]
    assert sug["needs_from"] is True
    assert "{iter}" in sug["pattern"] and sug["keys"]["loss"] == 5


def test_explain_table_lists_keys_and_steps(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(LOG)
    code, out, _ = run_cli("import", "--explain", str(log))
    assert code == 0
    row = next(ln.split() for ln in out.splitlines() if ln.strip().startswith("loss "))
    assert row == ["loss", "3", "1", "3"]


def test_explain_uses_the_readers_ignored_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text-log reader's ``step_axis``, ``ignored`` and ``attempts`` are shown when it
    gives them (fields newer readers have)."""
    real = textlog.parse_text

    def with_fields(text: str, opts: Any = None) -> Any:
        res = real(text, opts)
        res.step_axis = "epoch"
        res.ignored = [(4, "a line without anything")]
        res.attempts = 2
        return res

    monkeypatch.setattr(textlog, "parse_text", with_fields)
    log = tmp_path / "train.log"
    log.write_text(LOG + "a line without anything\n")
    code, rep = _explain(log)
    unit = rep["units"][0]
    assert unit["step_axis"] == "epoch"
    assert unit["ignored"] == [{"line": 4, "text": "a line without anything"}]
    assert unit["attempts"] == 2
    code, out, _ = run_cli("import", "--explain", str(log))
    assert code == 0 and "step axis: epoch" in out and "line 4: a line without anything" in out
    assert "attempts: 2" in out


def test_explain_folder_lists_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text(LOG)
    (tmp_path / "logs" / "model.ckpt").write_bytes(b"\x00\x01")
    code, rep = _explain(tmp_path / "logs")
    assert code == 0
    assert [Path(u["path"]).name for u in rep["units"]] == ["a.log"]
    assert [Path(s["path"]).name for s in rep["skipped"]] == ["model.ckpt"]


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (
            "2024-01-02 12:00:00,123 INFO Epoch 3/10 - loss: 0.5 - acc: 0.8",
            "INFO Epoch {epoch}/{_} - loss: {loss} - acc: {acc}",
        ),
        ("[step 500] train_loss=-1.5e-3 lr=3e-4", "[step {step}] train_loss={train_loss} lr={lr}"),
        ("{'a': 1}", "{{'a': {a}"),
        ("5 | 6", "{v1} | {v2}"),
        (
            "step 0: train loss 4.2367, val loss 4.2475",
            "step {step}: train loss {train_loss}, val loss {val_loss}",
        ),
        ("time 12ms loss 0.5", "time {time}ms loss {loss}"),
        ("no numbers at all", None),
    ],
)
def test_pattern_for_line(line: str, want: str | None) -> None:
    assert explain.pattern_for_line(line) == want


def test_pattern_for_a_huge_line_stays_small() -> None:
    line = "step 1 " + " ".join(f"k{i}={i}.5" for i in range(200_000))
    spec = explain.pattern_for_line(line)
    assert spec is not None and spec.startswith("step {step} k0={k0}")
    assert spec.count("{") <= explain.SUGGEST_MAX_FIELDS
    sug = explain.suggest_pattern(line + "\n" + line.replace("step 1 ", "step 2 ") + "\n")
    assert sug is not None and sug["keys"]["k0"] == 2


def test_suggestion_prefers_a_repeated_line_with_a_counter() -> None:
    text = "[rank0]:W0705 11:05:58.025000 465377 utils.py:1137] not enough SMs\n" * 2 + "".join(
        f"[train] iter {i * 10}: loss {1 / (i + 1):.4f} 2895 ms/iter\n" for i in range(4)
    )
    sug = explain.suggest_pattern(text)
    assert sug is not None
    assert sug["pattern"].startswith("[train] iter {iter}: loss {loss}")
    assert sug["keys"]["loss"] == 4 and sug["matched_lines"] == 4


def test_no_pattern_suggested_for_a_json_document(tmp_path: Path) -> None:
    f = tmp_path / "stats.json"
    f.write_text(
        '{\n  "a": {\n    "points": 20,\n    "last": 0.5\n  },\n  "b": {\n    "points": 3\n  }\n}\n'
    )
    _, rep = _explain(f)
    (unit,) = rep["units"]
    assert all(r["points"] == 0 for r in unit["runs"])  # a log would get a suggestion here
    assert unit["pattern_suggestion"] is None


def test_a_run_table_given_with_its_runs_is_no_failure(tmp_path: Path) -> None:
    """A run table named on the command line whose rows all went into the runs of the logs
    named beside it yielded no run of its own: that is not 'nothing to import'."""
    for name, last in (("a", 0.4), ("b", 0.3)):
        (tmp_path / f"{name}.log").write_text(f"step 1/2 | loss=0.5\nstep 2/2 | loss={last}\n")
    (tmp_path / "results.csv").write_text("run,acc,f1\na,0.9,0.8\nb,0.7,0.6\n")
    paths = [str(tmp_path / f) for f in ("a.log", "b.log", "results.csv")]
    code, out, err = run_cli("import", *paths, "--format", "json", store=tmp_path / "s")
    assert code == 0, err
    data = json.loads(out)
    assert data["counts"] == {"imported": 2} and not err
    code, out, _ = run_cli("runs", "--format", "json", store=tmp_path / "s")
    assert {r["name"]: r["summary"].get("acc") for r in json.loads(out)} == {"a": 0.9, "b": 0.7}
