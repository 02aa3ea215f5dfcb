"""What every importer produces: runs described in memory, before they touch the store.

A parser reads files and returns :class:`ImportedRun` objects. The import driver
(:mod:`expbook.importers.driver`) decides whether each one is new, unchanged or changed and
writes it to the store in one transaction per run. Parsers never touch the store.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

# A point of a series: (step, value, wall time in seconds since the epoch or None).
Point = tuple[int, float, "float | None"]


@dataclass
class SourceFile:
    """One file that contributed to an imported run (used for idempotence)."""

    path: str  # absolute path
    sha256: str  # hex digest of the whole content
    size: int  # bytes

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> SourceFile:
        p = os.path.abspath(os.fspath(path))
        h = hashlib.sha256()
        size = 0
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                size += len(block)
        return cls(path=p, sha256=h.hexdigest(), size=size)


@dataclass
class Artifact:
    """A file kept with a run (for example a prediction file)."""

    path: str  # absolute path of the file on disk
    kind: str  # "predictions", "timing", "checkpoint", "other"
    sha256: str = ""


@dataclass
class ImportedRun:
    """A run read from files, ready to be written to the store.

    ``source`` is the run's identity for re-imports: the absolute path of the run folder or of
    the single file the run came from (plus ``external_id`` where a format has its own ids, e.g.
    an MLflow run id inside one database file).
    """

    name: str
    format: str  # "textlog", "csv", "json", "tensorboard", "mlflow", "wandb", ...
    source: str  # absolute path of the folder or file that identifies this run
    external_id: str | None = None
    project: str | None = None  # e.g. an MLflow experiment name; the CLI --project overrides
    config: dict[str, Any] = field(default_factory=dict)  # nested, as found
    summary: dict[str, Any] = field(default_factory=dict)  # key -> number (or short string)
    series: dict[str, list[Point]] = field(default_factory=dict)  # key -> points
    status: str = "finished"  # running|finished|failed|crashed|killed
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    notes: str | None = None
    parent: str | None = None  # external id of a parent run (MLflow nested runs)
    created_at: float | None = None  # seconds since the epoch
    finished_at: float | None = None
    files: list[SourceFile] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # one line each, shown in the closing table
    skipped_lines: int = 0  # lines with no metrics, warnings, tracebacks...

    def add_point(self, key: str, step: int, value: float, wall: float | None = None) -> None:
        self.series.setdefault(key, []).append((step, value, wall))

    @property
    def n_points(self) -> int:
        return sum(len(v) for v in self.series.values())

    def content_hash(self) -> str:
        """One digest over every contributing file (path relative to source, and content)."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            rel = os.path.relpath(f.path, self.source) if os.path.isdir(self.source) else f.path
            h.update(rel.encode())
            h.update(b"\0")
            h.update(f.sha256.encode())
            h.update(b"\0")
        return h.hexdigest()


class ParseError(Exception):
    """A file that cannot be read as the format it was taken for (one line, for the table)."""
