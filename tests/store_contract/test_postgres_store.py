"""What only the PostgreSQL store has: its URL (schema, hidden password), its migrations,
read-only opening, errors naming the URL, and many writers of one run at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from expbook.errors import StoreError
from expbook.store import PointBatch, connect, resolve_location
from expbook.store.postgres import PostgresStore
from expbook.store.postgres_core import parse_url
from expbook.store.postgres_schema import MIGRATIONS
from pg_support import fresh_schema, pg_url, with_schema

ROOT = Path(__file__).resolve().parents[2]


def test_url_forms() -> None:
    conninfo, schema, shown = parse_url("postgresql://bob:s3cret@db.lab:5433/exp?schema=team")
    assert schema == "team" and "schema" not in conninfo and "s3cret" in conninfo
    assert shown == "postgresql://bob:***@db.lab:5433/exp?schema=team"
    _, schema, _ = parse_url("postgres://u@h/db?options=-csearch_path%3Dother")
    assert schema == "other"
    _, schema, shown = parse_url("postgresql://u@h/db")
    assert schema == "public" and shown == "postgresql://u@h/db"
    with pytest.raises(StoreError, match="bad schema name"):
        parse_url("postgresql://u@h/db?schema=a;drop")
    # URLs pass through the location rule unchanged
    for url in ("postgresql://u:p@h/db?schema=x", "postgres://h/db", "https://srv:8080"):
        assert resolve_location(url) == url


def test_schema_created_migrated_and_reopened() -> None:
    with fresh_schema("mig") as url:
        with pytest.raises(StoreError, match="no expbook store at"):
            connect(url, create=False)
        store = connect(url)
        assert isinstance(store, PostgresStore)
        names = [
            r[0]
            for r in store._conn.pg("SELECT name FROM schema_migrations ORDER BY name").fetchall()
        ]
        assert names == [name for name, _ in MIGRATIONS]
        run = store.create_run(name="r", project="p")
        store.close()
        again = connect(url, create=False)
        assert again.get_run("r").id == run.id
        assert again.location == url and again.schema == url.rsplit("=", 1)[1]
        again.close()
        # another schema of the same database is another store
        with fresh_schema("other") as other:
            s2 = connect(other)
            assert s2.list_runs() == []
            s2.close()


def test_store_dropped_in_a_cycle_ends_its_session_quietly() -> None:
    # the garbage collector finalizes a cycle's objects in any order: the session must still
    # end without psycopg's "deleted while still open" ResourceWarning (an error under pytest)
    import gc
    import warnings
    import weakref

    with fresh_schema("cyc") as url:
        for older in (False, True, True):  # where the objects sit in the collector's lists
            store = connect(url)
            store.create_run(name="r", project="p")
            raw = weakref.ref(store._conn.raw)  # no strong reference from this frame
            store.me, store._conn.me = store, store  # a cycle: only the collector frees it
            if older:
                gc.collect()
            del store
            caught = []
            hook = sys.unraisablehook
            sys.unraisablehook = caught.append
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # as under pytest: a warning is an error
                    gc.collect()
            finally:
                sys.unraisablehook = hook
            assert [str(u.exc_value) for u in caught] == []
            assert raw() is None or raw().closed


def test_readonly_refuses_writes() -> None:
    with fresh_schema("ro") as url:
        connect(url).close()
        ro = connect(url, readonly=True)
        with pytest.raises(StoreError, match="read-only"):
            ro.check_writable()
        with pytest.raises(StoreError, match="is open read-only"):
            ro.create_run(name="x", project="p")
        assert ro.list_runs() == []  # reading still works after the refused write
        ro.close()


def test_unreachable_server_is_one_line_without_password() -> None:
    url = "postgresql://alice:topsecret@127.0.0.1:9/test?schema=x"
    with pytest.raises(StoreError) as err:
        connect(url)
    msg = str(err.value)
    assert "\n" not in msg and "topsecret" not in msg
    assert msg.startswith("cannot connect to PostgreSQL store postgresql://alice:***@127.0.0.1:9/")
    # the same through the CLI: one line on stderr, exit 1, no traceback
    out = subprocess.run(
        [sys.executable, "-m", "expbook", "runs", "--store", url],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin"},
    )
    assert out.returncode == 1
    assert out.stderr.startswith("expbook: error: cannot connect to PostgreSQL store")
    assert "Traceback" not in out.stderr and "topsecret" not in out.stderr


def test_many_writers_of_one_run() -> None:
    """Four connections append to one run's key at once: every point is stored once and the
    summary counts them all (writers of a run take its advisory lock)."""
    with fresh_schema("conc") as url:
        first = connect(url)
        run = first.create_run(name="one-run", project="p")
        errors: list[BaseException] = []

        def writer(offset: int) -> None:
            try:
                s = connect(url)
                for i in range(25):
                    step = offset + 4 * i
                    s.append_points(run.id, {"k": PointBatch([step], [0.0], [float(step)])})
                s.close()
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(o,)) for o in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        summ = first.metric_summaries([run.id])[run.id]["k"]
        assert summ.count == 100 and summ.min_step == 0 and summ.max_step == 99
        assert first.read_series_lists(run.id)["k"].steps == list(range(100))
        first.close()


def test_data_version_moves_when_another_connection_writes() -> None:
    with fresh_schema("ver") as url:
        reader = connect(url, readonly=False)
        v0 = reader.data_version()
        writer = connect(url)
        writer.create_run(name="x", project="p")
        assert reader.data_version() != v0
        writer.close()
        reader.close()


def test_default_url_is_where_the_tests_look() -> None:
    assert pg_url().startswith("postgresql://")
    assert with_schema("postgresql://h/db", "s") == "postgresql://h/db?schema=s"
    assert with_schema("postgresql://h/db?sslmode=disable", "s").endswith("&schema=s")


def _kill_sessions_of(store) -> None:
    """End the store's session from the server side (as a restart of PostgreSQL does)."""
    import psycopg

    pid = store._conn.raw.info.backend_pid
    with psycopg.connect(pg_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(pg_url(), autocommit=True) as admin:
            alive = admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
        if not alive:
            return
        time.sleep(0.05)


def test_lost_connection_is_opened_again() -> None:
    """A session the server ended: a transaction in flight fails whole (one-line error,
    nothing of it stored); the next call opens a new session and works."""
    with fresh_schema("lost") as url:
        store = connect(url)
        run = store.create_run(name="r", project="p")
        store.append_points(run.id, {"k": PointBatch([0], [0.0], [1.0])})
        _kill_sessions_of(store)
        assert store.get_run("r").id == run.id  # outside a transaction: reconnected
        with pytest.raises(StoreError, match="PostgreSQL store"), store.atomic():
            store.append_points(run.id, {"k": PointBatch([1], [0.0], [2.0])})
            _kill_sessions_of(store)
            store.update_run(run.id, notes="lost")
        assert store.get_run("r").notes is None
        assert store.read_series_lists(run.id)["k"].steps == [0]
        store.append_points(run.id, {"k": PointBatch([1], [0.0], [3.0])})
        assert store.metric_summaries([run.id])[run.id]["k"].count == 2
        store.close()


def test_logging_api_writes_to_postgres(tmp_path, monkeypatch) -> None:
    """``expbook.init(store="postgresql://...")``: points, values, summary, status and an
    image reach the database; the image's bytes are in the blobs table, and a reader with an
    empty cache gets them back."""
    import numpy as np

    import expbook

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "writer-cache"))
    with fresh_schema("log") as url:
        run = expbook.init(project="p", name="logged", config={"lr": 0.1}, store=url)
        for i in range(2500):
            run.log({"loss": 1.0 / (i + 1), "phase": "warm" if i < 10 else "main"}, step=i)
        image = np.zeros((4, 4, 3), dtype=np.uint8)
        image[0, 0] = 255
        run.log({"sample": expbook.Image(image)}, step=2500)
        run.summary["best"] = 0.5
        run.finish()

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "reader-cache"))
        store = connect(url, create=False)
        rec = store.get_run("logged")
        assert rec.status == "finished" and rec.config == {"lr": 0.1}
        assert rec.summary["best"] == 0.5
        summ = store.metric_summaries([rec.id])[rec.id]["loss"]
        assert summ.count == 2500 and summ.min_value == 1.0 / 2500
        assert store.read_values(rec.id, "phase")[0][3] == "warm"
        media = store.read_media(rec.id)
        assert [m["key"] for m in media] == ["sample"]
        assert store.files_dir.startswith(str(tmp_path / "reader-cache"))
        with open(os.path.join(store.files_dir, media[0]["path"]), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        (n,) = store._conn.pg("SELECT count(*) FROM blobs").fetchone()
        assert n == 1
        store.close()


def test_demo_into_postgres(tmp_path) -> None:
    """``expbook demo --store postgresql://...`` trains into the database and its hints name
    the URL as given (quoted for a shell), not a path made of it."""
    with fresh_schema("demo") as url:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "XDG_CACHE_HOME": str(tmp_path)}
        env.pop("EXPBOOK_STORE", None)
        out = subprocess.run(
            [sys.executable, "-m", "expbook", "demo", "--runs", "2", "--steps", "20",
             "--store", url],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        assert f"expbook ui --store '{url}'" in out.stdout
        assert f"open_store('{url}')" in out.stdout
        store = connect(url, create=False)
        assert len(store.list_runs("demo")) == 2
        store.close()


def test_console_log_reaches_other_machines(tmp_path) -> None:
    """A run's console log is written locally while it runs and kept in the database when
    it ends: ``expbook show`` with another (empty) local cache shows its tail; deleting the
    run deletes that copy."""
    import json

    with fresh_schema("con") as url:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "XDG_CACHE_HOME": str(tmp_path / "a")}
        env.pop("EXPBOOK_STORE", None)
        code = (
            "import expbook\n"
            f"r = expbook.init(project='p', name='c', store={url!r})\n"
            "print('hello from the run')\n"
            "r.log({'a': 1.0})\n"
            "r.finish()\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        env["XDG_CACHE_HOME"] = str(tmp_path / "b")
        shown = subprocess.run(
            [sys.executable, "-m", "expbook", "show", "c", "--store", url, "--format", "json"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr[-2000:]
        console = json.loads(shown.stdout)["console"]
        assert console["tail"] == ["hello from the run"]
        assert console["path"].startswith(str(tmp_path / "b"))
        store = connect(url, create=False)
        assert store.delete_runs([store.get_run("c").id]) == 1
        (left,) = store._conn.pg("SELECT count(*) FROM blobs").fetchone()
        assert left == 0
        store.close()


def test_many_keys_in_one_write_merge_as_the_sqlite_store_does(tmp_path) -> None:
    """Summaries, chunks and sketches of several keys go in one statement each; the result
    is the SQLite store's, for first writes and for merges into what is stored."""
    from expbook.store import SQLiteStore

    nan, inf = float("nan"), float("inf")
    writes = [
        {
            "a": PointBatch(list(range(2000)), [float(i) for i in range(2000)], [1.0] * 2000),
            "b": PointBatch([0, 1, 2], [0.0, 1.0, 2.0], [nan, nan, nan]),
            "c": PointBatch([5, 6], [5.0, nan], [-inf, 3.0]),
        },
        {
            "a": PointBatch([2000, 2001], [1.0, 2.0], [-1.0, 9.0]),
            "b": PointBatch([3, 4], [3.0, 4.0], [2.0, nan]),
            "c": PointBatch([1, 9], [1.0, 9.0], [inf, 0.0]),  # one before what is stored
            "d": PointBatch(list(range(1500)), [0.5] * 1500, [float(i % 7) for i in range(1500)]),
        },
    ]
    with fresh_schema("many") as url, SQLiteStore(tmp_path / "s") as lite:
        pg = connect(url)
        try:
            runs = []
            for store in (pg, lite):
                rec = store.create_run(name="r", project="p")
                for batches in writes:
                    store.append_points(rec.id, batches)
                runs.append((store, rec.id))
            (s1, r1), (s2, r2) = runs
            got1, got2 = s1.metric_summaries([r1])[r1], s2.metric_summaries([r2])[r2]
            assert sorted(got1) == ["a", "b", "c", "d"]
            for key in got1:
                assert repr(tuple(got1[key])) == repr(tuple(got2[key])), key
            assert repr(s1.read_series_lists(r1)) == repr(s2.read_series_lists(r2))
            (n,) = pg._q(
                "SELECT COUNT(*) FROM chunk_sketches WHERE rid = (SELECT rid FROM runs WHERE id=?)",
                (r1,),
            )[0]
            assert n == 2  # the large chunks of a and d
        finally:
            pg.close()
