"""Media and artifacts in the SQLite store: the ``media`` rows that point at logged files,
versioned artifacts (their files, aliases and the runs that used them), and the importers'
run files (the ``artifacts`` table of 0001) shown as external artifacts.

The files themselves live under the store's ``files_dir`` (see :mod:`expbook.media`); the
store only keeps their paths relative to it."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError
from .sqlite_core import StoreCore, _dumps, _loads, _reads

# (key, step, index in a list, wall, type, path under files_dir, metadata)
MediaRow = tuple[str, int, int, "float | None", str, str, Mapping[str, Any]]

_VERSION_COLUMNS = (
    "v.aid, v.project, v.name, v.version, v.type, v.digest, r.id, v.created_at, "
    "v.description, v.metadata"
)


class MediaPath(StoreCore):
    """Media rows and artifacts (mixed into :class:`SQLiteStore`)."""

    # -- media ---------------------------------------------------------------------------
    def add_media(self, run_id: str, rows: Sequence[MediaRow]) -> None:
        """Record logged media objects; what a (key, step) held before is replaced."""
        with self.atomic():
            rid = self._rid(run_id)
            for key, step in {(r[0], r[1]) for r in rows}:
                self._conn.execute(
                    "DELETE FROM media WHERE rid=? AND key=? AND step=?", (rid, key, step)
                )
            self._conn.executemany(
                "INSERT OR REPLACE INTO media VALUES (?,?,?,?,?,?,?,?)",
                [
                    (rid, key, step, idx, wall, typ, path, _dumps(dict(meta)))
                    for key, step, idx, wall, typ, path, meta in rows
                ],
            )

    @_reads
    def media_counts(self, run_ids: list[str]) -> dict[str, int]:
        """run id -> how many media rows it has (runs with none are left out)."""
        return self._rows_per_run("media", run_ids)

    @_reads
    def read_media(self, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
        """The run's media rows (all keys, or one), by key, step and index in a list."""
        if "media" not in self._tables:
            return []
        with self._lock:
            rid = self._rid(run_id)
            sql = "SELECT key, step, idx, wall, type, path, meta FROM media WHERE rid=?"
            args: list[Any] = [rid]
            if key is not None:
                sql += " AND key=?"
                args.append(key)
            rows = self._conn.execute(sql + " ORDER BY key, step, idx", args).fetchall()
        return [
            {
                "key": r[0],
                "step": r[1],
                "index": r[2],
                "wall": r[3],
                "type": r[4],
                "path": r[5],
                "meta": _loads(r[6]),
            }
            for r in rows
        ]

    @_reads
    def media_keys(self, run_id: str) -> list[dict[str, Any]]:
        """One entry per media key of the run: type, how many steps, first and last step."""
        if "media" not in self._tables:
            return []
        with self._lock:
            rid = self._rid(run_id)
            rows = self._conn.execute(
                "SELECT key, MIN(type), MAX(type), COUNT(DISTINCT step), MIN(step), MAX(step), "
                "COUNT(*) FROM media WHERE rid=? GROUP BY key ORDER BY key",
                (rid,),
            ).fetchall()
        return [
            {
                "key": r[0],
                "type": r[1] if r[1] == r[2] else "mixed",
                "count": r[3],
                "objects": r[6],
                "first_step": r[4],
                "last_step": r[5],
            }
            for r in rows
        ]

    # -- artifacts -----------------------------------------------------------------------
    def add_artifact_version(
        self,
        *,
        project: str,
        name: str,
        type: str,
        digest: str,
        files: Sequence[tuple[str, str, int, str]],
        run_id: str | None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        aliases: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Record a version of artifact ``name`` with ``files`` (path in the artifact,
        sha256, size, blob path under files_dir); returns it as :meth:`get_artifact` does.

        When the newest version of the name has the same digest, no version is added: that
        one is returned (and gets the aliases). A name keeps one type."""
        with self.atomic():
            rid = self._rid(run_id) if run_id else None
            last = self._conn.execute(
                "SELECT aid, type, digest, version FROM artifact_versions "
                "WHERE project=? AND name=? ORDER BY version DESC LIMIT 1",
                (project, name),
            ).fetchone()
            if last is not None and last[1] != type:
                raise UsageError(
                    f"artifact {name!r} has type {last[1]!r}; log a {type!r} under another name"
                )
            if last is not None and last[2] == digest:
                aid = last[0]
            else:
                cur = self._conn.execute(
                    "INSERT INTO artifact_versions (project, name, version, type, digest, rid, "
                    "created_at, description, metadata) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        project,
                        name,
                        0 if last is None else last[3] + 1,
                        type,
                        digest,
                        rid,
                        time.time(),
                        description,
                        _dumps(dict(metadata or {})),
                    ),
                )
                aid = int(cur.lastrowid or 0)
                self._conn.executemany(
                    "INSERT OR REPLACE INTO artifact_files VALUES (?,?,?,?,?)",
                    [(aid, p, sha, size, blob) for p, sha, size, blob in files],
                )
            for alias in aliases:
                if alias != "latest":
                    self._conn.execute(
                        "INSERT OR REPLACE INTO artifact_aliases VALUES (?,?,?,?)",
                        (project, name, alias, aid),
                    )
        out = self._artifact(aid)
        assert out is not None
        return out

    def record_artifact_use(self, project: str, name: str, version: int, run_id: str) -> None:
        """Record that ``run_id`` used a version (the lineage ``expbook artifacts show`` lists)."""
        with self.atomic():
            rid = self._rid(run_id)
            row = self._conn.execute(
                "SELECT aid FROM artifact_versions WHERE project=? AND name=? AND version=?",
                (project, name, version),
            ).fetchone()
            if row is not None:
                self._conn.execute(
                    "INSERT OR IGNORE INTO artifact_uses VALUES (?,?,?)", (row[0], rid, time.time())
                )

    @_reads
    def list_artifacts(
        self,
        project: str | None = None,
        run_id: str | None = None,
        type: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every artifact version (without files), newest name first; ``run_id`` keeps the
        versions that run logged or used. The importers' run files come last, as external
        artifacts (type ``checkpoint``, ``predictions``...) that point at their path."""
        out: list[dict[str, Any]] = []
        if "artifact_versions" in self._tables:
            sql = (
                f"SELECT {_VERSION_COLUMNS} FROM artifact_versions v "
                "LEFT JOIN runs r ON r.rid = v.rid WHERE 1=1"
            )
            args: list[Any] = []
            if project is not None:
                sql += " AND v.project=?"
                args.append(project)
            if type is not None:
                sql += " AND v.type=?"
                args.append(type)
            if name is not None:
                sql += " AND v.name=?"
                args.append(name)
            if run_id is not None:
                sql += (
                    " AND (r.id=? OR v.aid IN (SELECT u.aid FROM artifact_uses u "
                    "JOIN runs ur ON ur.rid = u.rid WHERE ur.id=?))"
                )
                args += [run_id, run_id]
            with self._lock:
                rows = self._conn.execute(sql + " ORDER BY v.name, v.version", args).fetchall()
                out = [self._version(r, files=False) for r in rows]
        for a in self._imported(project, run_id):
            if (type is None or a["type"] == type) and (name is None or a["name"] == name):
                out.append(a)
        return out

    @_reads
    def get_artifact(
        self, name: str, version: str | None = None, project: str | None = None
    ) -> dict[str, Any] | None:
        """One artifact version with its files and lineage, or None. ``version`` is ``vN``,
        ``N``, an alias, or None/``latest`` for the newest; ``project`` narrows the name
        (the newest version across projects otherwise)."""
        if "artifact_versions" in self._tables:
            sql = "SELECT aid, version FROM artifact_versions WHERE name=?"
            args: list[Any] = [name]
            if project is not None:
                sql += " AND project=?"
                args.append(project)
            v = (version or "latest").strip()
            num = v[1:] if v[:1] == "v" else v
            with self._lock:
                if v == "latest":
                    row = self._conn.execute(
                        sql + " ORDER BY created_at DESC, version DESC LIMIT 1", args
                    ).fetchone()
                elif num.isdigit():
                    row = self._conn.execute(
                        sql + " AND version=? ORDER BY created_at DESC LIMIT 1", [*args, int(num)]
                    ).fetchone()
                else:
                    alias_sql = "SELECT aid FROM artifact_aliases WHERE name=? AND alias=?"
                    alias_args: list[Any] = [name, v]
                    if project is not None:
                        alias_sql += " AND project=?"
                        alias_args.append(project)
                    row = self._conn.execute(alias_sql, alias_args).fetchone()
            if row is not None:
                return self._artifact(row[0])
        if version in (None, "latest", "v0", "0"):
            for a in self._imported(project, None):
                if a["name"] == name:
                    return a
        return None

    @_reads
    def artifact_names(self, project: str | None = None) -> list[str]:
        """The names of every artifact (for "did you mean")."""
        names = {a["name"] for a in self._imported(project, None)}
        if "artifact_versions" in self._tables:
            sql, args = "SELECT DISTINCT name FROM artifact_versions", []
            if project is not None:
                sql, args = sql + " WHERE project=?", [project]
            names.update(r[0] for r in self._q(sql, args))
        return sorted(names)

    def _artifact(self, aid: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM artifact_versions v "
                "LEFT JOIN runs r ON r.rid = v.rid WHERE v.aid=?",
                (aid,),
            ).fetchone()
            return None if row is None else self._version(row, files=True)

    def _version(self, row: Sequence[Any], files: bool) -> dict[str, Any]:
        aid, project, name = row[0], row[1], row[2]
        conn = self._conn
        newest = conn.execute(
            "SELECT MAX(version) FROM artifact_versions WHERE project=? AND name=?",
            (project, name),
        ).fetchone()[0]
        aliases = [
            r[0]
            for r in conn.execute(
                "SELECT alias FROM artifact_aliases WHERE aid=? ORDER BY alias", (aid,)
            )
        ]
        if newest == row[3]:
            aliases.insert(0, "latest")
        n, size = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM artifact_files WHERE aid=?", (aid,)
        ).fetchone()
        out: dict[str, Any] = {
            "name": name,
            "version": f"v{row[3]}",
            "type": row[4],
            "project": project,
            "digest": row[5],
            "created_by": row[6],
            "created_at": row[7],
            "description": row[8],
            "metadata": _loads(row[9]),
            "aliases": aliases,
            "files_count": n,
            "size": size,
            "external": False,
        }
        if files:
            out["files"] = [
                {"path": r[0], "sha256": r[1], "size": r[2], "blob": r[3]}
                for r in conn.execute(
                    "SELECT path, sha256, size, blob FROM artifact_files WHERE aid=? ORDER BY path",
                    (aid,),
                )
            ]
            out["used_by"] = [
                r[0]
                for r in conn.execute(
                    "SELECT r.id FROM artifact_uses u JOIN runs r ON r.rid = u.rid "
                    "WHERE u.aid=? ORDER BY u.used_at",
                    (aid,),
                )
            ]
        return out

    def _imported(self, project: str | None, run_id: str | None) -> list[dict[str, Any]]:
        """The importers' run files (checkpoints, prediction files...) as external artifacts:
        named ``run-<run id>-<file name>``, one version each, never copied."""
        sql = (
            "SELECT r.id, r.project, r.created_at, a.path, a.kind, a.sha256 FROM artifacts a "
            "JOIN runs r ON r.rid = a.rid WHERE 1=1"
        )
        args: list[Any] = []
        if project is not None:
            sql += " AND r.project=?"
            args.append(project)
        if run_id is not None:
            sql += " AND r.id=?"
            args.append(run_id)
        out = []
        for rid, proj, created, path, kind, sha in self._q(sql + " ORDER BY r.id, a.path", args):
            base = os.path.basename(path.rstrip("/\\")) or path
            try:
                size: int | None = os.path.getsize(path) if os.path.isfile(path) else None
            except OSError:
                size = None
            out.append(
                {
                    "name": f"run-{rid}-{base}",
                    "version": "v0",
                    "type": kind,
                    "project": proj,
                    "digest": sha,
                    "created_by": rid,
                    "created_at": created,
                    "description": None,
                    "metadata": {},
                    "aliases": ["latest"],
                    "files_count": 1,
                    "size": size or 0,
                    "external": True,
                    "files": [
                        {"path": base, "sha256": sha, "size": size, "blob": None, "source": path}
                    ],
                    "used_by": [],
                }
            )
        return out
