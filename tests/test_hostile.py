"""Hostile data: names that look like terminal markup or escape sequences, and broken stores.

Every command prints such data literally (never as rich markup, never as raw escape
sequences), and a damaged or read-only store ends in one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

import expbook

HOSTILE = ["x[/y]", "[bold]b", "\x1b[31mred", "[link=javascript:x]a[/link]"]


def shown(name: str) -> str:
    """How a terminal table shows ``name``: as written, control characters escaped."""
    return name.replace("\x1b", "\\x1b")


def _no_raw_controls(text: str) -> None:
    assert "\x1b" not in text
    assert "Traceback" not in text


@pytest.fixture(params=HOSTILE, ids=["close-tag", "bold", "ansi", "link"])
def hostile(request, store_path: str) -> str:
    """A store with a run whose name, tag, config value and metric key are ``name``, and a
    plain run beside it."""
    name = request.param
    for run_name, opt, lr, loss in ((name, name, 0.1, 0.5), ("plain", "sgd", 0.2, 0.4)):
        run = expbook.init(
            project="p",
            name=run_name,
            config={"opt": opt, "lr": lr, "seed": 1},
            tags=[name],
            store=store_path,
        )
        run.log({"loss": loss, name: 1.0})
        run.log({"loss": loss / 2, name: 2.0})
        run.finish()
    return name


COMMANDS = {
    "runs": lambda h: ["runs"],
    "show": lambda h: ["show", h],
    "history": lambda h: ["history", h],
    "history-key": lambda h: ["history", h, h],
    "leaderboard": lambda h: ["leaderboard", "--metric", "loss", "--param", "opt"],
    "leaderboard-key": lambda h: ["leaderboard", "--metric", h],
    "pivot-rows": lambda h: ["pivot", "--rows", "opt", "--cols", "lr", "--value", "loss"],
    "pivot-cols": lambda h: ["pivot", "--rows", "lr", "--cols", "opt", "--value", "loss"],
    "winners": lambda h: ["winners", "--metric", "loss", "--by", "opt"],
    "winners-groups": lambda h: ["winners", "--metric", "loss", "--groups"],
    "compare": lambda h: ["compare", h, "plain"],
    "rm": lambda h: ["rm", h, "--yes"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_table_shows_hostile_names_literally(cli_run, hostile, command) -> None:
    code, out, err = cli_run(*COMMANDS[command](hostile))
    assert code == 0, err
    assert err == ""
    _no_raw_controls(out)
    assert shown(hostile) in out


@pytest.mark.parametrize("command", ["runs", "show", "leaderboard", "compare"])
def test_json_output_keeps_hostile_names_exactly(cli_run, hostile, command) -> None:
    args = COMMANDS[command](hostile)
    code, out, err = cli_run(*args, "--format", "json")
    assert code == 0, err
    assert "\x1b" not in out  # JSON escapes control characters itself
    assert hostile in _strings(json.loads(out))


def _strings(obj: object) -> set[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(obj, str):
        return {obj}
    if isinstance(obj, dict):
        return set(obj).union(*(_strings(v) for v in obj.values()))
    if isinstance(obj, list):
        return set().union(*(_strings(v) for v in obj))
    return set()


def test_errors_and_hints_show_hostile_names_on_one_line(cli_run, hostile) -> None:
    for args in (["show", hostile + "zz"], ["leaderboard", "--metric", "loss", hostile + "*z"]):
        code, out, err = cli_run(*args)
        assert code == 1 and out == ""
        assert err.startswith("expbook: error: ") and err.count("\n") == 1, err
        _no_raw_controls(err)
        assert "[" in err  # the name's brackets are shown, not eaten


def test_long_tables_in_plain_text_escape_names(cli_run, store_path) -> None:
    # more than 500 rows are printed as plain text, not through rich
    from expbook.store import connect
    from expbook.store.base import PointBatch

    backend = connect(store_path)
    with backend.atomic():
        for i in range(501):
            run = backend.create_run(
                name=f"\x1b[31mred{i}", project="p", status="finished", config={"opt": "[b]x"}
            )
            backend.append_points(run.id, {"loss": PointBatch([0], [0.0], [1.0 / (i + 1)])})
    backend.close()
    code, out, err = cli_run("leaderboard", "--metric", "loss", "--param", "opt")
    assert code == 0, err
    _no_raw_controls(out)
    assert "\\x1b[31mred500" in out and "[b]x" in out


def test_import_closing_table_shows_hostile_paths(cli_run, tmp_path) -> None:
    for name in HOSTILE:
        folder = tmp_path / "runs" / name.replace("/", "-")
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"opt": name}))
        (folder / "metrics.csv").write_text(f"step,loss,{name.replace(',', ';')}\n0,1.0,2.0\n")
    code, out, err = cli_run("import", str(tmp_path / "runs"))
    assert code == 0, err
    _no_raw_controls(out)
    for name in HOSTILE:
        assert shown(name.replace("/", "-")) in out
        # the run's page shows where it came from
        code, out_show, err = cli_run("show", name.replace("/", "-"))
        assert code == 0, err
        _no_raw_controls(out_show)
        assert "source: " in out_show and shown(name.replace("/", "-")) in out_show


def test_visible_escapes_controls_only() -> None:
    from expbook._output import fmt_number, visible

    assert visible("plain [b] text") == "plain [b] text"
    assert visible("a\x1b[2Jb\r\n\t\x9b\u202e") == "a\\x1b[2Jb\\r\\n\\t\\x9b\\u202e"
    assert fmt_number("\x1b[31mred") == "\\x1b[31mred"
    assert fmt_number(["a\x07", 1.5]) == "a\\x07, 1.5"


# -- damaged and read-only stores ------------------------------------------------------------
def _checkpointed_store(path: str) -> str:
    """A store of two runs (3,000 points each, so chunks carry sketches), everything in the
    database file itself (no WAL left over); returns the database file's path."""
    from expbook.store import PointBatch, connect

    backend = connect(path)
    steps = list(range(3000))
    for name, lr in (("a", 0.1), ("b", 0.2)):
        rec = backend.create_run(
            name=name, project="p", status="finished", config={"lr": lr, "opt": "x"}
        )
        walls = [1e9 + s for s in steps]
        backend.append_points(
            rec.id,
            {
                "loss": PointBatch(steps, walls, [1.0 / (s + 1) for s in steps]),
                "acc": PointBatch(steps, walls, [s / 3000 for s in steps]),
            },
        )
    backend.close()
    db = os.path.join(path, "expbook.db")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def _flip(offset: int, n: int):
    def damage(db: str) -> None:
        size = os.path.getsize(db)
        at = offset if offset >= 0 else size + offset
        with open(db, "r+b") as f:
            f.seek(at)
            data = f.read(n)
            f.seek(at)
            f.write(bytes(b ^ 0xFF for b in data))

    return damage


def _sql(statement: str):
    def damage(db: str) -> None:
        conn = sqlite3.connect(db)
        conn.execute(statement)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()

    return damage


def _truncate(db: str) -> None:
    with open(db, "r+b") as f:
        f.truncate(os.path.getsize(db) // 3)


def _directory(db: str) -> None:
    os.remove(db)
    os.mkdir(db)


def _not_sqlite(db: str) -> None:
    with open(db, "wb") as f:
        f.write(b"not a database at all\n" * 200)


DAMAGE = {
    "header-magic": _flip(0, 16),
    "header-page-size": _flip(16, 8),
    "header-page-count": _flip(28, 8),
    "header-schema": _flip(40, 32),
    "page-2": _flip(4096 + 10, 64),
    "page-3": _flip(2 * 4096 + 200, 64),
    "middle": _flip(40_000, 256),
    "tail": _flip(-300, 200),
    "name-not-utf8": _sql("UPDATE runs SET name = CAST(x'61ff' AS TEXT) WHERE name='a'"),
    "config-not-utf8": _sql("UPDATE runs SET config = CAST(x'7b22ff223a317d' AS TEXT)"),
    "key-not-utf8": _sql("UPDATE keys SET name = CAST(x'6cff' AS TEXT) WHERE name='loss'"),
    "config-not-json": _sql("UPDATE runs SET config = '{bad' WHERE name='a'"),
    "tags-not-json": _sql("UPDATE runs SET tags = '[\"t\"' WHERE name='a'"),
    "summary-not-json": _sql("UPDATE runs SET summary = 'nope'"),
    "source-not-json": _sql("UPDATE runs SET source = '{'"),
    "chunk-garbage": _sql("UPDATE chunks SET data = x'00ff00ff'"),
    "chunk-bad-zlib": _sql(
        "UPDATE chunks SET data = substr(data, 1, 20) || x'0000' || substr(data, 23)"
    ),
    "truncated": _truncate,
    "directory": _directory,
    "not-sqlite": _not_sqlite,
}

READS = [
    ["runs"],
    ["runs", "--format", "json"],
    ["runs", "--format", "csv"],
    ["show", "a"],
    ["show", "b", "--format", "json"],
    ["history", "a"],
    ["history", "b", "loss", "--format", "json"],
    ["leaderboard", "--metric", "loss"],
    ["leaderboard", "--metric", "loss", "--at-step", "100"],
    ["pivot", "--rows", "opt", "--value", "loss"],
    ["winners", "--metric", "acc", "--mode", "max"],
    ["compare", "a", "b"],
]


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("good") / "store")
    _checkpointed_store(folder)
    return folder


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_store_fails_on_one_line(cli_run, good_store, tmp_path, damage) -> None:
    folder = str(tmp_path / "damaged")
    shutil.copytree(good_store, folder)
    DAMAGE[damage](os.path.join(folder, "expbook.db"))
    failures = 0
    for args in READS:
        code, _, err = cli_run(*args, "--store", folder)  # raises on a traceback
        if code != 0:
            failures += 1
            assert code == 1 and err.startswith("expbook: error: "), (args, err)
            assert err.count("\n") == 1, (args, err)
        else:
            assert err == "", (args, err)
    if damage not in ("page-2", "page-3", "tail"):  # bytes no command may need to read
        assert failures, "damage that every command reads went unnoticed"


def test_damaged_json_names_the_run(cli_run, good_store, tmp_path) -> None:
    folder = str(tmp_path / "damaged")
    shutil.copytree(good_store, folder)
    DAMAGE["config-not-json"](os.path.join(folder, "expbook.db"))
    code, _, err = cli_run("show", "b", "--store", folder)
    assert code == 0, err  # the other run is intact
    code, _, err = cli_run("show", "a", "--store", folder)
    assert code == 1 and "config is not valid JSON" in err and "damaged" in err


def test_damaged_store_raises_store_error_in_python(good_store, tmp_path) -> None:
    folder = str(tmp_path / "damaged")
    shutil.copytree(good_store, folder)
    DAMAGE["chunk-garbage"](os.path.join(folder, "expbook.db"))
    book = expbook.open_store(folder)
    with pytest.raises(expbook.StoreError, match="damaged") as got:
        book.history("a", ["loss"])
    assert "\n" not in str(got.value)
    book.close()


def _read_only_filesystem(monkeypatch, db: str) -> None:
    """Make SQLite see ``db`` as a read-only file, for any user: the superuser may write to a
    file without write permission, so the test opens it read-only as SQLite does for others."""
    import expbook.store.sqlite as sqlite_store

    real = sqlite3.connect

    def connect(path, *args, **kwargs):
        if os.path.abspath(str(path)) == os.path.abspath(db):
            path, kwargs["uri"] = f"file:{os.path.abspath(db)}?mode=ro", True
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sqlite_store.sqlite3, "connect", connect)


def test_init_on_read_only_store_raises_store_error(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "proj" / ".expbook"
    db = _checkpointed_store(str(folder))
    os.chmod(db, 0o444)
    os.chmod(folder, 0o555)
    try:
        _read_only_filesystem(monkeypatch, db)
        with pytest.raises(expbook.StoreError) as got:
            expbook.init(dir=str(tmp_path / "proj"), project="p", name="c")
        msg = str(got.value)
        assert "\n" not in msg and str(folder) in msg and "read" in msg
        conn = sqlite3.connect(db)
        (run_a,) = conn.execute("SELECT id FROM runs WHERE name = 'a'").fetchone()
        conn.close()
        with pytest.raises(expbook.StoreError, match="cannot write"):
            expbook.init(dir=str(tmp_path / "proj"), id=run_a, resume="allow")
        # nothing stored was lost: the store still reads, with both runs
        monkeypatch.undo()
        assert sorted(r["name"] for r in expbook.open_store(str(folder)).run_records()) == [
            "a",
            "b",
        ]
    finally:
        os.chmod(folder, 0o755)
        os.chmod(db, 0o644)


def test_cli_write_to_read_only_store_is_one_line(cli_run, tmp_path, monkeypatch) -> None:
    folder = str(tmp_path / "ro")
    db = _checkpointed_store(folder)
    _read_only_filesystem(monkeypatch, db)
    code, out, err = cli_run("rm", "a", "--yes", "--store", folder)
    assert code == 1 and err.startswith("expbook: error: ") and err.count("\n") == 1, err
    code, out, err = cli_run("runs", "--store", folder)
    assert code == 0 and " a " in out and " b " in out
