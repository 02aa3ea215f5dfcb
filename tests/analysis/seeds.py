"""MemoryRuns built straight from the seed fixtures' raw files (csv/json/re, not importers).

The import pipeline is tested elsewhere; here the analysis functions get MemoryRuns whose
points are exactly what the raw files hold, and are checked against expected.json.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from expbook.analysis import MemoryRun

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "seeds"


def need(path: Path) -> Path:
    """The fixture file or folder; a missing one is an error, never a skip (CI has them)."""
    if not path.exists():
        raise FileNotFoundError(f"fixture {path} not found under tests/data/seeds")
    return path


def expected(seed: str) -> dict[str, Any]:
    return json.loads((need(FIXTURES / seed) / "expected.json").read_text())


def _num(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# -- seed 002: text logs ------------------------------------------------------------------------

_STEP = re.compile(r"^step (\d+)/\d+ \| (.*)$")


def seed002_run(log: Path) -> MemoryRun:
    config: dict[str, Any] = {}
    series: dict[str, list[tuple[int, float]]] = {}
    for line in log.read_text().splitlines():
        if line.startswith("config: "):
            config = {k: _num(v) for k, v in (kv.split("=", 1) for kv in line[8:].split())}
            continue
        m = _STEP.match(line)
        if not m:
            continue
        step = int(m.group(1))
        for part in m.group(2).split(" | "):
            k, v = part.split("=", 1)
            series.setdefault(k, []).append((step, float(v.rstrip("s"))))
    return MemoryRun(log.stem, series=series, config=config, project="w3_25m")


# -- seed 000: results/<run>/{config.json, metrics.csv, summary.txt, epoch_times.csv} ---------


def _read_csv_series(path: Path) -> dict[str, list[tuple[int, float]]]:
    with path.open() as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    return {k: [(int(r[0]), float(r[i])) for r in body] for i, k in enumerate(head) if i > 0}


def seed000_run(folder: Path) -> MemoryRun:
    config = json.loads((folder / "config.json").read_text())
    series = _read_csv_series(folder / "metrics.csv")
    if (folder / "epoch_times.csv").exists():
        series.update(_read_csv_series(folder / "epoch_times.csv"))
    summary = {}
    for line in (folder / "summary.txt").read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            summary[k] = _num(v)
    return MemoryRun(folder.name, series=series, config=config, summary=summary, project="gnn")


# -- seed 001: <run>/training_history.csv --------------------------------------------------------


def seed001_run(folder: Path) -> MemoryRun:
    series = _read_csv_series(folder / "training_history.csv")
    return MemoryRun(folder.name, series=series, project="probe")


# -- seed 003: runs/<run>/{config.yaml, metrics.jsonl, eval.json, run.json} -------------------


def seed003_run(folder: Path) -> MemoryRun:
    import yaml

    config = yaml.safe_load((folder / "config.yaml").read_text())
    series: dict[str, list[tuple[int, float]]] = {}
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        stage, epoch = rec.pop("stage"), rec.pop("epoch")
        for k, v in rec.items():
            series.setdefault(f"{stage}/{k}", []).append((epoch, v))
    summary = json.loads((folder / "eval.json").read_text())
    meta = json.loads((folder / "run.json").read_text())
    summary.update({k: v for k, v in meta.items() if isinstance(v, (int, float))})
    return MemoryRun(folder.name, series=series, config=config, summary=summary, project="ttc")


# -- seed 004: runs/<run>/{config.json, history.csv} -------------------------------------------


def seed004_run(folder: Path) -> MemoryRun:
    config = json.loads((folder / "config.json").read_text())
    with (folder / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    step_key = "iteration" if "iteration" in rows[0] else "epoch"
    series: dict[str, list[tuple[int, float]]] = {"loss": []}
    for r in rows:
        step = int(r[step_key])
        series["loss"].append((step, float(r["loss"])))
        if "elapsed_s" in r:
            series.setdefault("elapsed_s", []).append((step, float(r["elapsed_s"])))
    return MemoryRun(folder.name, series=series, config=config, project="pinn")
