"""Session fixtures: the seed fixtures' runs as MemoryRuns (built by :mod:`seeds`)."""

from __future__ import annotations

import pytest
from seeds import (
    FIXTURES,
    need,
    seed000_run,
    seed001_run,
    seed002_run,
    seed003_run,
    seed004_run,
)

from expbook.analysis import MemoryRun


@pytest.fixture(scope="session")
def seed002_runs() -> list[MemoryRun]:
    logs = sorted(need(FIXTURES / "seed002" / "raw" / "logs" / "w3_25m").glob("*.log"))
    return [seed002_run(p) for p in logs]


@pytest.fixture(scope="session")
def seed000_runs() -> list[MemoryRun]:
    root = need(FIXTURES / "seed000" / "raw" / "results")
    return [seed000_run(p) for p in sorted(root.iterdir()) if (p / "config.json").exists()]


@pytest.fixture(scope="session")
def seed000_sweep_runs() -> list[MemoryRun]:
    root = need(FIXTURES / "seed000" / "raw" / "results" / "sweep_small")
    return [seed000_run(p) for p in sorted(root.iterdir())]


@pytest.fixture(scope="session")
def seed003_runs() -> dict[str, MemoryRun]:
    root = need(FIXTURES / "seed003" / "raw" / "runs")
    return {p.name: seed003_run(p) for p in sorted(root.iterdir())}


@pytest.fixture(scope="session")
def seed004_runs() -> dict[str, MemoryRun]:
    root = need(FIXTURES / "seed004" / "raw" / "runs")
    return {p.name: seed004_run(p) for p in sorted(root.iterdir())}


@pytest.fixture(scope="session")
def seed001_runs() -> list[MemoryRun]:
    root = need(FIXTURES / "seed001" / "raw")
    return [seed001_run(p) for p in sorted(root.iterdir()) if p.is_dir()]
