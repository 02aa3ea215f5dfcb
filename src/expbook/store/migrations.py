"""Named schema migrations, applied in order and recorded in the ``migrations`` table.

Each migration has a name and a list of SQL statements. A migration is never edited
after it has been released: changes to the schema are new migrations appended to the list.
"""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0001_initial",
        [
            """
            CREATE TABLE runs (
                rid          INTEGER PRIMARY KEY,
                id           TEXT NOT NULL UNIQUE,
                name         TEXT NOT NULL,
                project      TEXT NOT NULL,
                status       TEXT NOT NULL,
                created_at   REAL NOT NULL,
                updated_at   REAL NOT NULL,
                finished_at  REAL,
                heartbeat_at REAL,
                host         TEXT,
                pid          INTEGER,
                exit_code    INTEGER,
                grp          TEXT,
                notes        TEXT,
                parent       TEXT,
                tags         TEXT NOT NULL DEFAULT '[]',
                config       TEXT NOT NULL DEFAULT '{}',
                summary      TEXT NOT NULL DEFAULT '{}',
                meta         TEXT NOT NULL DEFAULT '{}',
                source       TEXT NOT NULL DEFAULT '{"kind": "logged"}'
            )
            """,
            "CREATE INDEX runs_project ON runs(project, created_at)",
            "CREATE INDEX runs_name ON runs(name)",
            "CREATE TABLE keys (kid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
            """
            CREATE TABLE chunks (
                rid      INTEGER NOT NULL,
                kid      INTEGER NOT NULL,
                seq      INTEGER NOT NULL,
                n        INTEGER NOT NULL,
                step_min INTEGER NOT NULL,
                step_max INTEGER NOT NULL,
                data     BLOB NOT NULL,
                PRIMARY KEY (rid, kid, seq)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE metric_summary (
                rid         INTEGER NOT NULL,
                kid         INTEGER NOT NULL,
                count       INTEGER NOT NULL,
                nan_count   INTEGER NOT NULL,
                first_step  INTEGER,
                first_value REAL,
                first_wall  REAL,
                last_step   INTEGER,
                last_value  REAL,
                last_wall   REAL,
                min_value   REAL,
                min_step    INTEGER,
                max_value   REAL,
                max_step    INTEGER,
                PRIMARY KEY (rid, kid)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE sources (
                project      TEXT NOT NULL,
                source       TEXT NOT NULL,
                external_id  TEXT NOT NULL DEFAULT '',
                rid          INTEGER NOT NULL,
                format       TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                files        TEXT NOT NULL DEFAULT '[]',
                imported_at  REAL NOT NULL,
                PRIMARY KEY (project, source, external_id)
            )
            """,
            "CREATE INDEX sources_rid ON sources(rid)",
            """
            CREATE TABLE artifacts (
                rid    INTEGER NOT NULL,
                path   TEXT NOT NULL,
                kind   TEXT NOT NULL,
                sha256 TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (rid, path)
            )
            """,
        ],
    ),
    (
        "0002_sketches_reports",
        [
            # the overview points of each chunk of SKETCH_MIN points or more (store/sketch.py)
            """
            CREATE TABLE chunk_sketches (
                rid  INTEGER NOT NULL,
                kid  INTEGER NOT NULL,
                seq  INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (rid, kid, seq)
            ) WITHOUT ROWID
            """,
            # the latest rendering of each report document, for the dashboard
            """
            CREATE TABLE reports (
                id          TEXT PRIMARY KEY,
                path        TEXT NOT NULL UNIQUE,
                title       TEXT NOT NULL,
                project     TEXT,
                rendered_at REAL NOT NULL,
                text        TEXT NOT NULL,
                figures     TEXT NOT NULL DEFAULT '{}',
                info        TEXT NOT NULL DEFAULT '{}'
            )
            """,
        ],
    ),
    (
        "0003_values",
        [
            # values logged that are not numbers (strings, None, lists, dicts...), as JSON;
            # a step already stored for a key is replaced, as for points
            """
            CREATE TABLE run_values (
                rid   INTEGER NOT NULL,
                kid   INTEGER NOT NULL,
                step  INTEGER NOT NULL,
                wall  REAL,
                value TEXT NOT NULL,
                PRIMARY KEY (rid, kid, step)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        "0004_media_artifacts",
        [
            # logged media (expbook.Image, Table...): one row per object, the file under
            # files_dir is content-addressed (path relative to files_dir)
            """
            CREATE TABLE media (
                rid  INTEGER NOT NULL,
                key  TEXT NOT NULL,
                step INTEGER NOT NULL,
                idx  INTEGER NOT NULL DEFAULT 0,
                wall REAL,
                type TEXT NOT NULL,
                path TEXT NOT NULL,
                meta TEXT NOT NULL DEFAULT '{}',
                PRIMARY KEY (rid, key, step, idx)
            ) WITHOUT ROWID
            """,
            # versioned artifacts (v0, v1... per project and name); rid is the run that
            # logged the version (NULL once that run is deleted)
            """
            CREATE TABLE artifact_versions (
                aid         INTEGER PRIMARY KEY,
                project     TEXT NOT NULL,
                name        TEXT NOT NULL,
                version     INTEGER NOT NULL,
                type        TEXT NOT NULL,
                digest      TEXT NOT NULL,
                rid         INTEGER,
                created_at  REAL NOT NULL,
                description TEXT,
                metadata    TEXT NOT NULL DEFAULT '{}',
                UNIQUE (project, name, version)
            )
            """,
            "CREATE INDEX artifact_versions_rid ON artifact_versions(rid)",
            # the files of a version: blob is the content-addressed copy under files_dir
            """
            CREATE TABLE artifact_files (
                aid    INTEGER NOT NULL,
                path   TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size   INTEGER NOT NULL,
                blob   TEXT NOT NULL,
                PRIMARY KEY (aid, path)
            ) WITHOUT ROWID
            """,
            # aliases ("best", "prod"...) point at one version of a name; "latest" is implied
            """
            CREATE TABLE artifact_aliases (
                project TEXT NOT NULL,
                name    TEXT NOT NULL,
                alias   TEXT NOT NULL,
                aid     INTEGER NOT NULL,
                PRIMARY KEY (project, name, alias)
            ) WITHOUT ROWID
            """,
            # which runs used which versions
            """
            CREATE TABLE artifact_uses (
                aid     INTEGER NOT NULL,
                rid     INTEGER NOT NULL,
                used_at REAL NOT NULL,
                PRIMARY KEY (aid, rid)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX artifact_uses_rid ON artifact_uses(rid)",
        ],
    ),
    (
        "0005_events",
        [
            # what happened to a run besides its points: alerts, and what a run records by
            # itself that is too large for its meta (the package list, the git diff)
            """
            CREATE TABLE events (
                eid    INTEGER PRIMARY KEY,
                rid    INTEGER NOT NULL,
                wall   REAL NOT NULL,
                kind   TEXT NOT NULL,
                level  TEXT,
                title  TEXT,
                text   TEXT,
                data   TEXT
            )
            """,
            "CREATE INDEX events_run ON events(rid, kind, eid)",
        ],
    ),
    (
        "0006_sweeps",
        [
            # a sweep (expbook sweep SPEC.yaml): its spec, its status and the process that
            # owns it (pid, host, a heartbeat: a second scheduler refuses a live owner)
            """
            CREATE TABLE sweeps (
                name         TEXT PRIMARY KEY,
                spec         TEXT NOT NULL,
                status       TEXT NOT NULL,
                owner        TEXT,
                pid          INTEGER,
                host         TEXT,
                heartbeat_at REAL,
                created_at   REAL NOT NULL,
                updated_at   REAL NOT NULL,
                stop         INTEGER NOT NULL DEFAULT 0,
                info         TEXT NOT NULL DEFAULT '{}'
            )
            """,
            # one row per trial: its params, its state and its attempts
            """
            CREATE TABLE sweep_trials (
                sweep       TEXT NOT NULL,
                idx         INTEGER NOT NULL,
                params      TEXT NOT NULL,
                status      TEXT NOT NULL,
                attempts    INTEGER NOT NULL DEFAULT 0,
                failures    INTEGER NOT NULL DEFAULT 0,
                run_id      TEXT,
                pid         INTEGER,
                host        TEXT,
                started_at  REAL,
                finished_at REAL,
                value       REAL,
                error       TEXT,
                stop        TEXT,
                PRIMARY KEY (sweep, idx)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        "0007_tokens",
        [
            # the team server's access tokens: only a hash of each secret is kept
            """
            CREATE TABLE tokens (
                id           TEXT PRIMARY KEY,
                project      TEXT NOT NULL,
                scope        TEXT NOT NULL,
                name         TEXT,
                secret_hash  TEXT NOT NULL UNIQUE,
                created_at   REAL NOT NULL,
                revoked_at   REAL,
                last_used_at REAL
            )
            """,
        ],
    ),
    (
        "0008_sync_received",
        [
            # how many points of each (run, key) the team server accepted from clients
            """
            CREATE TABLE sync_received (
                rid   INTEGER NOT NULL,
                kid   INTEGER NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (rid, kid)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        "0009_sync_state",
        [
            # a client's side of syncing, per server: what the server confirmed of each
            # run (its status and fields as last sent, the last error) and of each key
            """
            CREATE TABLE sync_runs (
                server     TEXT NOT NULL,
                rid        INTEGER NOT NULL,
                status     TEXT,
                updated_at REAL,
                synced_at  REAL,
                error      TEXT,
                PRIMARY KEY (server, rid)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE sync_counts (
                server TEXT NOT NULL,
                rid    INTEGER NOT NULL,
                kid    INTEGER NOT NULL,
                count  INTEGER NOT NULL,
                PRIMARY KEY (server, rid, kid)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        "0010_sync_extras",
        [
            # a client's side, per server: how many of a run's media rows the server has
            # (or cannot take: a file missing or too large) and how many of its non-numeric
            # values, as of the last sync
            """
            CREATE TABLE sync_extras (
                server      TEXT NOT NULL,
                rid         INTEGER NOT NULL,
                media       INTEGER,
                text_values INTEGER,
                PRIMARY KEY (server, rid)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        "0011_point_rewrites",
        [
            # points written over or between stored ones (a step logged again, as a resumed
            # run does, or an earlier step logged late): from which step a key's points
            # changed, and a number that grows at each such write
            """
            CREATE TABLE point_rewrites (
                rid  INTEGER NOT NULL,
                kid  INTEGER NOT NULL,
                step INTEGER NOT NULL,
                gen  INTEGER NOT NULL,
                PRIMARY KEY (rid, kid)
            ) WITHOUT ROWID
            """,
            # a client's side, per server: the rewrite number the server has caught up with
            """
            CREATE TABLE sync_rewrites (
                server TEXT NOT NULL,
                rid    INTEGER NOT NULL,
                kid    INTEGER NOT NULL,
                gen    INTEGER NOT NULL,
                PRIMARY KEY (server, rid, kid)
            ) WITHOUT ROWID
            """,
        ],
    ),
]


def applied(conn: sqlite3.Connection) -> set[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    return {r[0] for r in conn.execute("SELECT name FROM migrations")}


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in one IMMEDIATE transaction; returns the names applied.

    The connection must be in autocommit mode (``isolation_level=None``). Safe when several
    processes open a new store at once: the second one finds the work done.
    """
    if {name for name, _ in MIGRATIONS} <= _applied_readonly(conn):
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = applied(conn)
        new = []
        for name, statements in MIGRATIONS:
            if name in done:
                continue
            for sql in statements:
                conn.execute(sql)
            conn.execute(
                "INSERT INTO migrations(name, applied_at) VALUES (?, ?)", (name, time.time())
            )
            new.append(name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return new


def _applied_readonly(conn: sqlite3.Connection) -> set[str]:
    try:
        return {r[0] for r in conn.execute("SELECT name FROM migrations")}
    except sqlite3.OperationalError:
        return set()
