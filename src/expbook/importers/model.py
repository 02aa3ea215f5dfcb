"""What every importer produces: runs described in memory, before they touch the store.

A parser reads files and returns :class:`ImportedRun` objects. The import driver
(:mod:`expbook.importers.driver`) decides whether each one is new, unchanged or changed and
writes it to the store in one transaction per run. Parsers never touch the store.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, overload

# A point of a series: (step, value, wall time in seconds since the epoch or None).
Point = tuple[int, float, "float | None"]


class PointArrays(Sequence[Point]):
    """A series held as numpy arrays: steps (int64), values (float64) and wall times
    (float64, NaN where unknown; ``None`` when no point has one).

    Importers that parse into arrays (text logs) hand these to the driver, which passes the
    arrays to the store as they are; no tuple is built per point. It is also a read-only
    sequence of ``(step, value, wall)`` tuples (a NaN wall reads as ``None``), so code that
    works on lists of points works on it unchanged.
    """

    __slots__ = ("steps", "values", "walls")

    def __init__(self, steps: Any, values: Any, walls: Any = None) -> None:
        self.steps = steps
        self.values = values
        self.walls = walls

    def __len__(self) -> int:
        return len(self.steps)

    def points(self) -> list[Point]:
        """Every point as a ``(step, value, wall)`` tuple."""
        st = self.steps.tolist()
        vl = self.values.tolist()
        if self.walls is None:
            return list(zip(st, vl, repeat(None)))
        return list(zip(st, vl, [None if w != w else w for w in self.walls.tolist()]))

    def __iter__(self) -> Iterator[Point]:
        return iter(self.points())

    @overload
    def __getitem__(self, i: int) -> Point: ...

    @overload
    def __getitem__(self, i: slice) -> list[Point]: ...

    def __getitem__(self, i: int | slice) -> Point | list[Point]:
        if isinstance(i, slice):
            return self.points()[i]
        w = None if self.walls is None else float(self.walls[i])
        return (int(self.steps[i]), float(self.values[i]), None if w != w else w)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PointArrays):
            other = other.points()
        if isinstance(other, (list, tuple)):
            return self.points() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Sequence[Point]) -> list[Point]:
        return self.points() + list(other)

    def __radd__(self, other: Sequence[Point]) -> list[Point]:
        return list(other) + self.points()

    def __repr__(self) -> str:
        return f"PointArrays(n={len(self)})"


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
    # key -> points: a list of (step, value, wall) tuples, or PointArrays (parsed into numpy)
    series: dict[str, list[Point] | PointArrays] = field(default_factory=dict)
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
    dropped_points: int = 0  # points add_point refused (step outside int64, value not a float)

    def add_point(self, key: str, step: int, value: float, wall: float | None = None) -> None:
        if not -(2**63) <= step < 2**63:
            self.dropped_points += 1
            return
        try:
            value = float(value)
        except (OverflowError, TypeError, ValueError):
            self.dropped_points += 1
            return
        pts = self.series.setdefault(key, [])
        if not isinstance(pts, list):
            pts = self.series[key] = list(pts)
        pts.append((step, value, wall))

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
