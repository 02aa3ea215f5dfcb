"""Every command on PostgreSQL prints what it prints on SQLite: each seed's raw files are
imported through ``expbook import`` into an SQLite store and into a PostgreSQL schema (the
same way, so the generated run ids are the same), and ``runs``, ``show``, ``history``,
``leaderboard``, ``pivot``, ``winners``, ``compare``, ``eval``, ``report``, ``check`` and
``import`` itself are compared, ``--format json``, with ``--store postgresql://...``
against the SQLite store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_support import fresh_schema
from seedstore import FIXTURES, SEEDS, cli, raw_dir

from .twins import Twin


@pytest.fixture(scope="module", params=SEEDS)
def twin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Twin]:
    seed = str(request.param)
    with fresh_schema(f"cmd_{seed}") as url:
        yield Twin(seed, tmp_path_factory.mktemp(seed) / "store", url)


def test_import_and_reimport(twin: Twin) -> None:
    lite, pg = twin.imported["sqlite"], twin.imported["postgres"]
    assert lite[0] == 0, lite[2]
    assert (pg[0], json.loads(pg[1])) == (lite[0], json.loads(lite[1]))
    again = twin.same("import", str(raw_dir(twin.seed)))
    assert set(again["counts"]) <= {"skipped", "unchanged"}, again["counts"]
    dry = twin.same("import", str(raw_dir(twin.seed)), "--dry-run")
    assert dry["counts"] == again["counts"]


def test_runs_show_history(twin: Twin) -> None:
    runs = twin.same("runs")
    assert runs, "the seed imported no runs"
    assert [r["id"] for r in runs][:3] == ["id000000", "id000001", "id000002"][: len(runs)]
    for r in runs:
        shown = twin.same("show", r["id"])
        assert shown["id"] == r["id"]
        twin.same("show", r["name"])
    for r in runs[:4]:
        hist = twin.same("history", r["id"])
        for key in list(hist)[:2]:
            twin.same("history", r["id"], key, "--step-min", "1", "--step-max", "1000")
            twin.same("history", r["id"], key, "--tail", "5")
            twin.same("history", r["id"], key, "--every", "3")
    projects = sorted({r["project"] for r in runs})
    for p in projects:
        assert twin.same("runs", "--project", p)


def _metrics(twin: Twin) -> list[str]:
    runs = twin.same("runs")
    keys: dict[str, int] = {}
    for r in runs[:10]:
        for k in twin.same("show", r["id"]).get("metrics", {}):
            keys[k] = keys.get(k, 0) + 1
    return sorted(keys, key=lambda k: (-keys[k], k))


def test_leaderboard_winners_compare(twin: Twin) -> None:
    metrics = _metrics(twin)
    assert metrics, "no run of the seed has a metric"
    runs = twin.same("runs")
    for m in metrics[:3]:
        table = twin.same("leaderboard", "--metric", m)
        assert table["kind"] == "leaderboard" and table["rows"]
        twin.same("leaderboard", "--metric", m, "--mode", "max", "--sort", "last")
        twin.same("leaderboard", "--metric", m, "--derive", f"twice=2*{_ident(m)}")
        params = sorted({k for r in runs for k in r["config"]})
        if params:
            twin.same("winners", "--metric", m, "--by", params[0])
    if len(runs) >= 2:
        twin.same("compare", runs[0]["id"], runs[1]["id"])
        twin.same("compare", runs[0]["name"], runs[-1]["name"], "--keys", metrics[0])


def _ident(key: str) -> str:
    return key if key.replace("_", "a").isalnum() else f"`{key}`"


# the seeds' own sweep tables and scoring (tests/test_seeds_analysis.py asks the same)
SEED_COMMANDS: dict[str, list[list[str]]] = {
    "seed000": [
        ["pivot", "torch_*", "jax_*", "--rows", "framework,pool", "--cols", "feature",
         "--value", "test_mse"],
        ["winners", "torch_*", "jax_*", "--metric", "test_mse", "--by", "framework"],
        ["leaderboard", "baseline_*", "abl_*", "--metric", "train_mse", "--sort", "last"],
        ["leaderboard", "--filter", 'matches(config.out_dir, "results/sweep_small/*")',
         "--metric", "test_mse"],
    ],
    "seed001": [["leaderboard", "--metric", "test_f1", "--mode", "max"]],
    "seed002": [
        ["leaderboard", "--metric", "val_loss", "--at-step", "15000", "--sort", "at"],
        ["leaderboard", "--metric", "ppl", "--derive", "ppl=exp(val_loss)",
         "--derive", "steps_per_s=throughput(elapsed, 500, 15000)"],
    ],
    "seed004": [["pivot", "--rows", "name", "--value", "loss"]],
}  # fmt: skip


def test_seed_tables(twin: Twin) -> None:
    for args in SEED_COMMANDS.get(twin.seed, []):
        twin.same(*args)


@pytest.mark.parametrize("twin", ["seed000"], indirect=True)  # its prediction files
def test_eval_scores_and_stores(twin: Twin) -> None:
    files = sorted((raw_dir("seed000") / "results").glob("*/preds.csv"))[:3]
    assert files
    twin.same("eval", *map(str, files))
    run = twin.same("runs")[0]["id"]
    twin.same("eval", str(files[0]), "--run", run)  # writes summary values
    shown = twin.same("show", run)
    assert "r2" in json.dumps(shown)


def test_report_and_check(twin: Twin, tmp_path: Path) -> None:
    metric = _metrics(twin)[0]
    runs = twin.same("runs")
    a, b = runs[0]["name"], runs[-1]["name"]
    doc = (
        f"# {twin.seed}\n\nBest of {a}: {{{{ best({a}, {_ident(metric)}) | .4f }}}}.\n\n"
        f"```expbook\nleaderboard: {{metric: {metric}}}\n```\n\n"
        f"```expbook\nruns: {{columns: [{metric}]}}\n```\n\n"
        f"- [claim c1] `last({a}, {_ident(metric)}) >= 0`\n"
        f"- [claim c2] `factor({a}, {b}, {_ident(metric)}) > 0`\n"
    )
    rendered = {}
    for kind, store in twin.stores.items():
        path = tmp_path / kind / "notes.md"
        path.parent.mkdir()
        path.write_text(doc)
        code, _out, _err = cli("report", str(path), store=store)
        rendered[kind] = (code, path.read_text())
        code_c, out_c, _err_c = cli("check", str(path), "--format", "json", store=store)
        rendered[kind + "-check"] = (code_c, out_c.replace(str(path), "DOC"))
    assert rendered["sqlite"] == rendered["postgres"]
    assert rendered["sqlite-check"] == rendered["postgres-check"]
    assert "expbook:begin" in rendered["postgres"][1]


def test_seed_fixtures_are_there() -> None:
    assert all((FIXTURES / s / "raw").is_dir() for s in SEEDS)
    assert shutil.which("true")


def test_rm_last(twin: Twin) -> None:
    """Last in the module: deleting a run (a write) does the same on both stores."""
    runs = twin.same("runs")
    gone = twin.same("rm", runs[-1]["id"], "--yes")
    assert twin.same("runs") == runs[:-1]
    lite, pg = twin.both("show", runs[-1]["id"])
    assert lite == pg and lite[0] == 1
    assert gone
