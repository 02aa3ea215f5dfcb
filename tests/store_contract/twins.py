"""A seed's raw files imported the same way into an SQLite store and a PostgreSQL schema,
and the CLI asked the same question of both."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

import expbook.store.postgres as pg_module
import expbook.store.sqlite as sqlite_module
from seedstore import cli, raw_dir


def _same_ids(mp: pytest.MonkeyPatch) -> None:
    """Run ids generated from now on are id000000, id000001... (both stores draw them from
    the same function), so two stores filled the same way name their runs the same."""
    counter = itertools.count()

    def new_id() -> str:
        return f"id{next(counter):06d}"

    mp.setattr(sqlite_module, "new_id", new_id)
    mp.setattr(pg_module, "new_id", new_id)


class Twin:
    """One seed imported into an SQLite store and into a PostgreSQL schema."""

    def __init__(self, seed: str, sqlite_store: Path, pg_url: str) -> None:
        self.seed = seed
        self.stores = {"sqlite": str(sqlite_store), "postgres": pg_url}
        self.imported = {}
        for kind, store in self.stores.items():
            with pytest.MonkeyPatch.context() as mp:
                _same_ids(mp)
                self.imported[kind] = cli(
                    "import", str(raw_dir(seed)), "--format", "json", store=store
                )

    def both(self, *args: str) -> tuple[Any, Any]:
        """``expbook ARGS --format json`` on each store: (SQLite's, PostgreSQL's) output,
        each as (exit code, parsed JSON or stderr)."""
        out = []
        for store in self.stores.values():
            code, text, err = cli(*args, "--format", "json", store=store)
            out.append((code, json.loads(text) if code == 0 and text.strip() else err))
        return out[0], out[1]

    def same(self, *args: str) -> Any:
        lite, pg = self.both(*args)
        assert lite == pg, f"`expbook {' '.join(args)}` differs on PostgreSQL"
        assert lite[0] == 0, f"`expbook {' '.join(args)}` failed: {lite[1]}"
        return lite[1]
