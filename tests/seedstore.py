"""A store holding one seed fixture's runs, imported through the real CLI, and CLI helpers.

Used by ``test_seeds_import.py`` and ``test_seeds_analysis.py``: each module imports every seed
once (a module-scoped fixture calling :func:`import_seed`) and then asks questions through
``expbook.cli.main`` in-process, reading the documented ``--format json`` output.
"""

from __future__ import annotations

import io
import json
import math
import os
from contextlib import redirect_stderr, redirect_stdout
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from expbook.cli import main

# the same location tests/conftest.py calls FIXTURES (tests/data/seeds)
FIXTURES = Path(__file__).resolve().parent / "data" / "seeds"

SEEDS = ("seed000", "seed001", "seed002", "seed003", "seed004")

REL = 1e-9


def close(got: Any, want: Any, rel: float = REL) -> bool:
    """Numbers equal to ``rel`` (relative), None only equal to None, anything else by ``==``."""
    if want is None or got is None:
        return got is None and want is None
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=rel, abs_tol=0.0)
    return bool(got == want)


def assert_close(got: Any, want: Any, what: str, rel: float = REL) -> None:
    assert close(got, want, rel), f"{what}: expected {want!r}, got {got!r}"


def raw_dir(seed: str) -> Path:
    path = FIXTURES / seed / "raw"
    if not path.is_dir():
        raise FileNotFoundError(f"fixture {path} not found under tests/data/seeds")
    return path


def expected(seed: str) -> dict[str, Any]:
    path = FIXTURES / seed / "expected.json"
    if not path.is_file():
        raise FileNotFoundError(f"fixture {path} not found under tests/data/seeds")
    return json.loads(path.read_text())


def cli(*args: str, store: Path | str | None = None) -> tuple[int, str, str]:
    """Run ``expbook ARGS [--store STORE]`` in-process: (exit code, stdout, stderr).

    ``EXPBOOK_*`` variables are hidden for the call, so only ``--store`` picks the store.
    """
    argv = [str(a) for a in args]
    if store is not None:
        argv += ["--store", str(store)]
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k.startswith("EXPBOOK_"):
                mp.delenv(k)
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
    return code, out.getvalue(), err.getvalue()


def cli_json(*args: str, store: Path | str | None = None) -> Any:
    """``expbook ARGS --format json``, which must exit 0; its output parsed."""
    cmd = [*args, "--format", "json"]
    code, out, err = cli(*cmd, store=store)
    shown = " ".join(cmd)
    assert code == 0, f"`expbook {shown}` exited {code}: {err.strip()}"
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:  # pragma: no cover - a failure message only
        raise AssertionError(f"`expbook {shown}` printed no JSON ({e}): {out[:300]!r}") from e


class SeedStore:
    """One seed's raw files imported into a fresh store, with read-back helpers."""

    def __init__(self, seed: str, store: Path) -> None:
        self.seed = seed
        self.store = store
        self.raw = raw_dir(seed)
        self.expected = expected(seed)
        self.import_code, out, self.import_err = cli(
            "import", str(self.raw), "--format", "json", store=store
        )
        try:
            self.import_result: dict[str, Any] = json.loads(out)
        except json.JSONDecodeError:
            self.import_result = {"runs": [], "counts": {}, "unparsed": out}

    def json(self, *args: str) -> Any:
        return cli_json(*args, store=self.store)

    def run_cli(self, *args: str) -> tuple[int, str, str]:
        return cli(*args, store=self.store)

    @cached_property
    def runs(self) -> dict[str, dict[str, Any]]:
        """``expbook runs --format json`` by run name."""
        listed = self.json("runs")
        by_name = {r["name"]: r for r in listed}
        assert len(by_name) == len(listed), "run names are not unique"
        return by_name

    def history(self, run: str, *keys: str) -> dict[str, list[list[Any]]]:
        """``expbook history RUN KEY... --format json``: key -> [[step, value], ...]."""
        return self.json("history", run, *keys)

    def series(self, run: str, key: str) -> list[tuple[int, float]]:
        data = self.history(run, key)
        assert key in data, f"history {run} {key}: no such key (got {sorted(data)})"
        return [(int(s), v) for s, v in data[key]]


def import_seed(seed: str, tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    raw_dir(seed)  # fail early when the fixture is not there
    return SeedStore(seed, tmp_path_factory.mktemp(seed) / "store")


def rows_by_run(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rows of a ``--format json`` table keyed by their ``run`` column."""
    rows = {r["run"]: r for r in table["rows"]}
    assert len(rows) == len(table["rows"]), "a run is listed twice"
    return rows
