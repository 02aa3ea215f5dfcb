"""Writes imported runs to the store: idempotent, one transaction per run.

Identity of an imported run: (project, source path, external id). On re-import:

* unchanged files (same size and modification time as recorded, else same content hash) are
  skipped without parsing;
* a changed source replaces what came from it (config, summary, every point) in one
  transaction, so a grown log ends up with exactly its old points plus the new ones;
* runs logged live are never touched: an imported run only ever updates the run that the
  same source created.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.base import PointBatch
from .model import ImportedRun, PointArrays, SourceFile


@dataclass
class Outcome:
    """One line of the closing table."""

    # imported | updated | unchanged | failed | empty | would-import | would-update
    status: str
    source: str
    name: str = ""
    id: str | None = None
    format: str = ""
    points: int = 0
    added: int = 0  # points added on update (negative when some went away)
    note: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "name": self.name,
            "id": self.id,
            "format": self.format,
            "source": self.source,
            "points": self.points,
            "added_points": self.added,
            "note": self.note,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Skipped:
    """A file found while walking a folder that no reader took, and why."""

    path: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


def is_empty(run: ImportedRun) -> bool:
    """A run with no point, no config and no summary: nothing worth storing."""
    return run.n_points == 0 and not run.config and not run.summary


EMPTY_NOTE = "no metrics, config or summary found; nothing stored"


def unit_fingerprint(unit: Any) -> list[list[Any]]:
    """The fingerprint of a unit's own files plus the run tables attached to it."""
    out = fingerprint(os.path.abspath(unit.path))
    for extra in getattr(unit, "attach", ()) or ():
        out.extend(fingerprint(os.path.abspath(extra)))
    return out


def fingerprint(path: str) -> list[list[Any]]:
    """[(path, size, mtime_ns)] of every file of a unit: a cheap change detector."""
    out: list[list[Any]] = []
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                out.append([p, st.st_size, st.st_mtime_ns])
    else:
        try:
            st = os.stat(path)
            out.append([path, st.st_size, st.st_mtime_ns])
        except OSError:
            pass
    return out


def unchanged_units(
    backend: Any, project: str | None, unit_path: str, now: list[list[Any]] | None = None
) -> list[tuple[str, str]] | None:
    """(run id, name) of the runs imported from ``unit_path`` if its files did not change.

    A file's recorded size and mtime are enough to call it unchanged. Where only mtimes moved
    (a touch, a copy) and the recorded fingerprint holds the files' sha256, the files whose
    mtime moved are hashed instead of parsed: same content, the runs are unchanged (the new
    mtimes are recorded, so the next re-import takes the fast path again)."""
    rows = backend.source_files(unit_path, project)
    if not rows:
        return None
    if now is None:
        now = fingerprint(unit_path)
    same = [(rid, name) for rid, name, _ in rows]
    if all(_stats(files) == now for _, _, files in rows):
        return same
    hashed = _same_content([files for _, _, files in rows], now)
    if hashed is None:
        return None
    backend.refresh_source_files(unit_path, project, hashed)
    return same


def _stats(files: list[list[Any]]) -> list[list[Any]]:
    """[path, size, mtime_ns] of recorded entries (which may carry a sha256 as a 4th item)."""
    return [f[:3] for f in files]


def _same_content(recorded: list[list[list[Any]]], now: list[list[Any]]) -> list[list[Any]] | None:
    """``now`` with each file's sha256 if every recorded fingerprint lists the same files with
    the same sizes and every file whose mtime moved still has its recorded sha256, else None."""
    digests: dict[str, str] = {}
    for files in recorded:
        if len(files) != len(now):
            return None
        for rec, cur in zip(files, now):
            if rec[0] != cur[0] or rec[1] != cur[1]:
                return None
            sha = rec[3] if len(rec) > 3 else None
            if rec[2] == cur[2]:
                if sha is not None:
                    digests.setdefault(cur[0], sha)
                continue
            if sha is None:
                return None
            if cur[0] not in digests or digests[cur[0]] != sha:
                try:
                    digests[cur[0]] = SourceFile.of(cur[0]).sha256
                except OSError:
                    return None
                if digests[cur[0]] != sha:
                    return None
    return with_hashes(now, digests)


def with_hashes(files: list[list[Any]], digests: dict[str, str]) -> list[list[Any]]:
    """A fingerprint whose entries carry the file's sha256 where it is known."""
    return [[*f[:3], digests[f[0]]] if f[0] in digests else f[:3] for f in files]


def run_digests(run: ImportedRun) -> dict[str, str]:
    """sha256 of the files the parser read (and hashed) for this run, by absolute path."""
    out = {a.path: a.sha256 for a in run.artifacts if a.sha256}
    out.update((f.path, f.sha256) for f in run.files)
    return out


def _batches(run: ImportedRun) -> dict[str, PointBatch]:
    nan = float("nan")
    out = {}
    for key, points in run.series.items():
        if not len(points):
            continue
        if isinstance(points, PointArrays):
            # numpy arrays straight to the store (NaN marks an unknown wall time)
            walls = points.walls
            if walls is None:
                walls = _nan_walls(len(points))
            out[key] = PointBatch(points.steps, walls, points.values)
            continue
        steps, values, walls = zip(*points)  # transposed in C
        if None in walls:
            walls = tuple(nan if w is None else w for w in walls)
        out[key] = PointBatch(steps, walls, values)
    return out


def _nan_walls(n: int) -> Any:
    import numpy as np

    return np.full(n, np.nan)


def _times(run: ImportedRun) -> tuple[float, float | None]:
    if run.created_at is not None:
        return run.created_at, run.finished_at
    mtimes = []
    for f in run.files:
        try:
            mtimes.append(os.stat(f.path).st_mtime)
        except OSError:
            pass
    if not mtimes:
        return time.time(), run.finished_at
    return min(mtimes), run.finished_at if run.finished_at is not None else max(mtimes)


def write_run(
    backend: Any,
    run: ImportedRun,
    project: str,
    unit_path: str,
    dry_run: bool = False,
    files: list[list[Any]] | None = None,
) -> Outcome:
    """Create or update the store's copy of one imported run (one transaction)."""
    ext = run.external_id or ""
    digest = run.content_hash()
    known = backend.source_of(project, run.source, ext)
    out = Outcome(
        status="imported",
        source=run.source,
        name=run.name,
        format=run.format,
        points=run.n_points,
        warnings=list(run.warnings),
    )
    if run.skipped_lines:
        out.note = f"{run.skipped_lines} line(s) without metrics skipped"
    if is_empty(run):
        # reported, never stored: an empty run says nothing, and it must not replace a run
        # that an earlier, fuller version of the same file gave
        out.status, out.id = "empty", known[0] if known else None
        out.note = "; ".join(
            filter(None, [EMPTY_NOTE + (" (the stored run is kept)" if known else ""), out.note])
        )
        return out
    if known is not None and known[1] == digest:
        out.status, out.id = "unchanged", known[0]
        _refresh_fingerprint(
            backend, project, run.source, ext, unit_path, dry_run, files, run_digests(run)
        )
        return out
    if dry_run:
        out.status = "would-update" if known else "would-import"
        out.id = known[0] if known else None
        return out
    created, finished = _times(run)
    source_info = {
        "kind": "import",
        "path": run.source,
        "format": run.format,
        "hash": digest,
        **({"external_id": ext} if ext else {}),
        **({"artifacts": [a.path for a in run.artifacts]} if run.artifacts else {}),
    }
    fields: dict[str, Any] = {
        "name": run.name,
        "status": run.status,
        "config": run.config,
        "summary": run.summary,
        "tags": run.tags,
        "group": run.group,
        "notes": run.notes,
        "source": source_info,
        "created_at": created,
        "finished_at": finished,
    }
    if run.parent:
        fields["parent"] = run.parent
    with backend.atomic():
        if known is None:
            rec = backend.create_run(
                name=run.name,
                project=project,
                status=run.status,
                created_at=created,
                source=source_info,
                pid=0,
                host="",
            )
            run_id = rec.id
            before = 0
        else:
            run_id = known[0]
            before = sum(
                s.count for s in backend.metric_summaries([run_id]).get(run_id, {}).values()
            )
            out.status = "updated"
        backend.update_run(run_id, **fields)
        backend.replace_points(run_id, _batches(run))
        backend.set_artifacts(run_id, [(a.path, a.kind, a.sha256) for a in run.artifacts])
        backend.record_source(
            run_id,
            project=project,
            source=run.source,
            external_id=ext,
            format=run.format,
            content_hash=digest,
            files=with_hashes(fingerprint(unit_path), run_digests(run))
            if run.source == unit_path
            else [],
        )
    out.id = run_id
    if out.status == "updated":
        after = sum(s.count for s in backend.metric_summaries([run_id]).get(run_id, {}).values())
        out.added = after - before
    return out


def _refresh_fingerprint(
    backend: Any,
    project: str,
    source: str,
    ext: str,
    unit_path: str,
    dry_run: bool,
    files: list[list[Any]] | None = None,
    digests: dict[str, str] | None = None,
) -> None:
    """Content unchanged but timestamps moved (a touch, a copy): remember the new stats so
    the next re-import skips the file without parsing it."""
    if dry_run or source != unit_path:
        return
    now = files if files is not None else fingerprint(unit_path)
    backend.set_source_files(project, source, ext, with_hashes(now, digests or {}))


def import_paths(
    backend: Any,
    paths: Sequence[str],
    *,
    project: str | None,
    default_project: str = "default",
    from_format: str | None = None,
    pattern: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    skipped: list[Skipped] | None = None,
) -> list[Outcome]:
    """Import everything under ``paths``; never raises for bad input files.

    Never silent: a path that yields no run at all (an empty folder, a folder of files no
    reader takes) gets a ``failed`` outcome saying so. Files a folder walk passed over are
    appended to ``skipped`` (when given), each with its reason."""
    from . import walk
    from .explain import skipped_files
    from .registry import ParseOptions

    opts = ParseOptions(pattern=pattern, from_format=from_format, project=project)
    abs_paths = [os.path.abspath(p) for p in paths]
    units = walk.plan(abs_paths, from_format=from_format, opts=opts)
    passed_over = skipped_files(abs_paths, units, from_format=from_format, opts=opts)
    if skipped is not None:
        skipped.extend(passed_over)
    outcomes: list[Outcome] = []
    for i, unit in enumerate(units):
        unit_path = os.path.abspath(unit.path)
        if progress is not None:
            progress(i, len(units), unit_path)
        files = unit_fingerprint(unit)
        if not dry_run and from_format is None and pattern is None:
            same = unchanged_units(backend, project, unit_path, files)
            if same is not None:
                outcomes.extend(
                    Outcome(
                        status="unchanged", source=unit_path, name=name, id=rid, format=unit.format
                    )
                    for rid, name in same
                )
                continue
        runs, failures = walk.read(unit, opts)
        for f in failures:
            outcomes.append(
                Outcome(status="failed", source=f.path, note=f.reason, format=unit.format)
            )
        for run in runs:
            try:
                proj = project or run.project or default_project
                outcomes.append(write_run(backend, run, proj, unit_path, dry_run, files))
            except Exception as e:  # a store error for one run must not stop the others
                outcomes.append(
                    Outcome(
                        status="failed",
                        source=run.source,
                        name=run.name,
                        format=run.format,
                        note=f"could not store: {e}",
                    )
                )
    if progress is not None:
        progress(len(units), len(units), "")
    outcomes.extend(_nothing_found(abs_paths, units, passed_over, from_format))
    return outcomes


def _nothing_found(
    paths: Sequence[str], units: Sequence[Any], passed_over: Sequence[Skipped], forced: str | None
) -> list[Outcome]:
    """A ``failed`` outcome for each path given that no unit came from."""
    read = {u.path for u in units}
    for u in units:
        read.update(u.attach)  # a run table whose rows went into other runs
    out = []
    for p in dict.fromkeys(paths):
        if p in read:
            continue
        inside = p.rstrip(os.sep) + os.sep
        if os.path.isdir(p) and any(r.startswith(inside) for r in read):
            continue
        mine = [s for s in passed_over if s.path == p or s.path.startswith(inside)]
        if not os.path.isdir(p):
            reason = mine[0].reason if mine else "not a recognised run file"
        elif not mine:
            reason = "no files found in this folder"
        else:
            reason = f"no run found: {len(mine)} file(s) here, none taken by a reader"
            if forced:
                reason += f" (--from {forced})"
            first = mine[0]
            reason += f"; e.g. {os.path.relpath(first.path, p)}: {first.reason}"
        out.append(Outcome(status="failed", source=p, note=f"nothing to import: {reason}"))
    return out


def summarize(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts
