"""Command-line features: choosing history rows, one rule for naming a store, the demo's
report, the dashboard's port, runs --filter/--sort/--limit, show's metadata, help texts."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
from pathlib import Path

import click
import numpy as np
import pytest

import expbook
from expbook.store import PointBatch, SQLiteStore
from expbook.store.sqlite_core import CHUNK_POINTS


def rows_of(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out)))


# -- history: --tail, --every, --step-min/--step-max, and a table that fits ----------------
@pytest.fixture
def hist(store_path: str) -> dict[str, dict[int, float]]:
    """A run "h": loss at steps 0..99 (value step/10), val at every 10th step (-step)."""
    loss = {s: s / 10 for s in range(100)}
    val = {s: -float(s) for s in range(0, 100, 10)}
    with SQLiteStore(store_path) as st:
        rid = st.create_run(name="h", project="p").id
        st.append_points(rid, {"loss": PointBatch(list(loss), [0.0] * 100, list(loss.values()))})
        st.append_points(rid, {"val": PointBatch(list(val), [0.0] * 10, list(val.values()))})
    return {"loss": loss, "val": val}


def expected_rows(data: dict[str, dict[int, float]], steps: list[int]) -> list[list[str]]:
    keys = sorted(data)
    return [[str(s), *(repr(data[k][s]) if s in data[k] else "" for k in keys)] for s in steps]


@pytest.mark.parametrize(
    ("flags", "steps"),
    [
        (["--tail", "5"], list(range(95, 100))),
        (["--every", "25"], [0, 25, 50, 75]),
        (["--step-min", "40", "--step-max", "43"], [40, 41, 42, 43]),
        (["--step-max", "2"], [0, 1, 2]),
        (
            ["--step-min", "10", "--step-max", "59", "--tail", "20", "--every", "5"],
            [40, 45, 50, 55],
        ),
        (["--tail", "1000"], list(range(100))),
        (["--step-min", "1000"], []),
    ],
)
def test_history_row_selection(cli_run, hist, flags, steps) -> None:
    code, out, err = cli_run("history", "h", *flags, "--format", "csv")
    assert code == 0, err
    rows = rows_of(out)
    assert rows[0] == ["step", "loss", "val"]
    assert rows[1:] == expected_rows(hist, steps)
    code, out, err = cli_run("history", "h", *flags, "--format", "json")
    assert code == 0, err
    assert json.loads(out) == {
        k: [[s, pts[s]] for s in steps if s in pts] for k, pts in sorted(hist.items())
    }


def test_history_tail_of_one_key_counts_its_own_points(cli_run, hist) -> None:
    code, out, _ = cli_run("history", "h", "val", "--tail", "3", "--format", "csv")
    assert code == 0
    assert [r[0] for r in rows_of(out)[1:]] == ["70", "80", "90"]


def test_history_bad_selection_is_one_line(cli_run, hist) -> None:
    for args in (
        ["--step-min", "10", "--step-max", "5"],
        ["--tail", "0"],
        ["--every", "-1"],
        ["--tail", "x"],
    ):
        code, out, err = cli_run("history", "h", *args)
        assert code == 2 and out == "", args
        assert err.startswith("expbook: error:") and len(err.strip().splitlines()) == 1, err


@pytest.fixture
def long_run(store_path: str) -> tuple[str, int]:
    n = 5 * CHUNK_POINTS + 123
    with SQLiteStore(store_path) as st:
        rid = st.create_run(name="long", project="p").id
        steps = np.arange(n, dtype=np.int64)
        for i in range(0, n, 3000):  # several writes: several chunks
            part = steps[i : i + 3000]
            st.append_points(rid, {"loss": PointBatch(part, part * 0.0, part * 0.5)})
    return rid, n


def test_history_tail_and_range_read_only_the_chunks_they_need(
    cli_run, long_run, monkeypatch
) -> None:
    _, n = long_run
    asked: list[tuple[int | None, int | None]] = []
    real = SQLiteStore.read_series

    def spy(self, run_id, keys=None, step_min=None, step_max=None):
        asked.append((step_min, step_max))
        return real(self, run_id, keys, step_min, step_max)

    monkeypatch.setattr(SQLiteStore, "read_series", spy)
    code, out, _ = cli_run("history", "long", "--tail", "10", "--format", "csv")
    assert code == 0
    assert [int(r[0]) for r in rows_of(out)[1:]] == list(range(n - 10, n))
    ((lo, hi),) = asked
    # at most the last stored chunk(s) are read: the query starts well after step 0
    assert lo is not None and lo >= n - 2 * CHUNK_POINTS and hi is None
    asked.clear()
    code, out, _ = cli_run("history", "long", "--step-min", "7", "--step-max", "9")
    assert code == 0 and asked == [(7, 9)]


def test_history_tail_is_right_after_out_of_order_writes(cli_run, long_run, store_path) -> None:
    rid, n = long_run
    with SQLiteStore(store_path) as st:
        # steps written again and late: overlapping chunks, last write wins
        st.append_points(rid, {"loss": PointBatch([n - 3, n - 2, 5], [0.0] * 3, [-1.0] * 3)})
        st.append_points(rid, {"loss": PointBatch([n + 10], [0.0], [7.0])})
    code, out, _ = cli_run("history", "long", "--tail", "4", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "loss": [[n - 3, -1.0], [n - 2, -1.0], [n - 1, (n - 1) * 0.5], [n + 10, 7.0]]
    }


def test_history_table_shows_first_and_last_rows_that_fit(cli_run, long_run, monkeypatch) -> None:
    _, n = long_run
    monkeypatch.setenv("LINES", "40")
    code, out, err = cli_run("history", "long")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) <= 40
    shown = [int(c) for line in lines if (c := line.strip("│ ").split(" ")[0]).isdigit()]
    assert shown[0] == 0 and shown[-1] == n - 1 and len(shown) < 40
    assert shown == sorted(shown) and "…" in out
    note = lines[-1]
    assert f"{n - len(shown):,} of {n:,} rows left out" in note
    for flag in ("--format csv", "--tail", "--every", "--step-min"):
        assert flag in note
    # every row in CSV (and JSON)
    code, out, _ = cli_run("history", "long", "--format", "csv")
    assert len(rows_of(out)) == n + 1
    code, out, _ = cli_run("history", "long", "--format", "json")
    assert len(json.loads(out)["loss"]) == n


# -- one rule for a path naming a store ------------------------------------------------------
LAYOUTS = ["new", "empty", "dot-expbook", "store-folder", "db-file", "named-dot-expbook"]


def prepare(tmp_path: Path, layout: str) -> tuple[Path, Path]:
    """A path X in one state, and the database file the rule says X names."""
    x = tmp_path / "x"
    if layout == "new":
        return x, x / "expbook.db"
    if layout == "empty":
        x.mkdir()
        return x, x / "expbook.db"
    if layout == "dot-expbook":  # what init(dir=X) wrote before: X/.expbook/
        SQLiteStore(x / ".expbook").close()
        return x, x / ".expbook" / "expbook.db"
    if layout == "store-folder":  # what --store X wrote before: X/expbook.db
        SQLiteStore(x).close()
        return x, x / "expbook.db"
    if layout == "db-file":
        return tmp_path / "runs.db", tmp_path / "runs.db"
    x = tmp_path / "proj" / ".expbook"
    return x, x / "expbook.db"


def names_in(cli_run, store: str) -> list[str]:
    code, out, err = cli_run("runs", "--store", store, "--format", "json", store=False)
    assert code == 0, err
    return sorted(r["name"] for r in json.loads(out))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_init_dir_and_store_flag_name_the_same_store(
    cli_run, tmp_path, monkeypatch, layout
) -> None:
    x, db = prepare(tmp_path, layout)
    expbook.init(dir=str(x), name="by-dir").finish()
    assert db.is_file()
    # read with --store X, $EXPBOOK_STORE=X and open_store(X)
    assert names_in(cli_run, str(x)) == ["by-dir"]
    monkeypatch.setenv("EXPBOOK_STORE", str(x))
    code, out, _ = cli_run("runs", "--format", "json", store=False)
    assert [r["name"] for r in json.loads(out)] == ["by-dir"]
    monkeypatch.delenv("EXPBOOK_STORE")
    assert list(expbook.open_store(str(x)).runs()["name"]) == ["by-dir"]
    # and the other way: written through --store X and init(store=X), read with dir=X
    metrics = tmp_path / "m" / "metrics.csv"
    metrics.parent.mkdir()
    metrics.write_text("step,loss\n0,1.0\n1,0.5\n")
    code, _, err = cli_run("import", str(metrics), "--store", str(x), store=False)
    assert code == 0, err
    expbook.init(store=str(x), name="by-store").finish()
    assert names_in(cli_run, str(x)) == ["by-dir", "by-store", "m"]
    run = expbook.init(dir=str(x), name="again")
    run.finish()
    assert sorted(expbook.open_store(str(x)).runs()["name"]) == ["again", "by-dir", "by-store", "m"]
    # nothing else was created next to the store
    stores = sorted(p for p in tmp_path.rglob("expbook.db"))
    assert stores == [db] or (layout == "db-file" and stores == [])


def test_a_store_named_on_the_command_line_from_the_store_folder_itself(cli_run, tmp_path) -> None:
    x = tmp_path / "x"
    expbook.init(dir=str(x / ".expbook"), name="inner").finish()
    assert names_in(cli_run, str(x)) == ["inner"]  # the folder that holds .expbook/
    assert names_in(cli_run, str(x / ".expbook")) == ["inner"]
    assert names_in(cli_run, str(x / ".expbook" / "expbook.db")) == ["inner"]


def test_dir_names_the_store_even_with_expbook_store_set(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EXPBOOK_STORE", str(tmp_path / "env"))
    expbook.init(dir=str(tmp_path / "d"), name="r").finish()
    assert (tmp_path / "d" / "expbook.db").exists() and not (tmp_path / "env").exists()


def test_a_folder_without_a_store_is_one_line(cli_run, tmp_path) -> None:
    (tmp_path / "code").mkdir()
    code, out, err = cli_run("runs", "--store", str(tmp_path / "code"), store=False)
    assert code == 1 and out == ""
    assert err.startswith("expbook: error: no expbook store") and err.count("\n") == 1
    assert not (tmp_path / "code" / "expbook.db").exists()


# -- demo: the report goes into the working directory ----------------------------------------
def test_demo_writes_its_report_in_the_working_directory(cli_run, tmp_path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    store = tmp_path / "stores" / "demo"
    code, out, err = cli_run(
        "demo", "--runs", "2", "--steps", "10", "--store", str(store), store=False
    )
    assert code == 0, err
    assert (work / "expbook-demo-report.md").is_file()
    assert not list((tmp_path / "stores").rglob("*.md"))
    assert f"in the working directory {work}" in " ".join(out.split())
    assert (store / "expbook.db").is_file()


# -- ui: a taken port is an error before any banner ------------------------------------------
def test_ui_on_a_taken_port_says_so(cli_run, store_path, monkeypatch) -> None:
    pytest.importorskip("starlette")
    import uvicorn

    expbook.init(store=store_path, name="r").finish()
    served: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli_run("ui", "--port", str(port))
    assert code == 1 and served == []
    assert "dashboard on" not in out and "http://" not in out
    assert err == f"expbook: error: port {port} is taken on 127.0.0.1 " + (
        "(another program is listening on it): choose another with --port\n"
    )
    # the same port, free again, is served
    code, out, err = cli_run("ui", "--port", str(port))
    assert code == 0, err
    assert served == [{"host": "127.0.0.1", "port": port, "log_level": "warning"}]
    assert f"http://127.0.0.1:{port}/" in out


# -- runs --filter, --sort, --limit ----------------------------------------------------------
@pytest.fixture
def sweep(store_path: str) -> None:
    for name, lr, acc in (("a", 0.3, 0.7), ("b", 0.1, None), ("c", 0.2, 0.9), ("d", 0.05, 0.8)):
        run = expbook.init(
            project="s", name=name, config={"lr": lr, "opt": {"name": name}}, store=store_path
        )
        if acc is not None:
            run.log({"acc": acc})
        run.finish()


def run_names(cli_run, *args: str) -> list[str]:
    code, out, err = cli_run("runs", *args, "--format", "json")
    assert code == 0, err
    return [r["name"] for r in json.loads(out)]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ((), ["a", "b", "c", "d"]),
        (("--sort", "acc"), ["a", "d", "c", "b"]),  # no value: last
        (("--sort", "-acc"), ["c", "d", "a", "b"]),  # still last when descending
        (("--sort=-summary.acc", "--limit", "2"), ["c", "d"]),
        (("--sort", "config.lr"), ["d", "b", "c", "a"]),
        (("--sort", "-lr"), ["a", "c", "b", "d"]),
        (("--sort", "-name"), ["d", "c", "b", "a"]),
        (("--sort", "config.opt.name"), ["a", "b", "c", "d"]),
        (("--filter", "lr < 0.25"), ["b", "c", "d"]),
        (("--filter", "acc > 0.75 or lr == 0.1", "--sort", "-acc"), ["c", "d", "b"]),
        (("--filter", 'config.opt.name in ["a", "d"]', "--limit", "1"), ["a"]),
        (("--limit", "3", "--project", "s"), ["a", "b", "c"]),
    ],
)
def test_runs_filter_sort_limit(cli_run, sweep, args, names) -> None:
    assert run_names(cli_run, *args) == names


def test_runs_options_in_table_and_csv(cli_run, sweep) -> None:
    code, out, _ = cli_run("runs", "--sort=-acc", "--limit", "2", "--format", "csv")
    assert [r[1] for r in rows_of(out)[1:]] == ["c", "d"]
    code, out, _ = cli_run("runs", "--sort=-acc", "--filter", "lr > 0.1")
    assert code == 0
    assert out.index(" c ") < out.index(" a ") and " b " not in out and " d " not in out
    assert "acc" in out.splitlines()[1]  # the sort column is shown
    code, out, _ = cli_run("runs", "--filter", "lr > 5")
    assert code == 0 and out.strip() == "no runs match"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--sort", "accc"), "no run has 'accc' (did you mean 'acc'?)"),
        (("--sort", "-"), "--sort"),
        (("--filter", "lr <"), "--filter"),
        (("--filter", "nothing > 1"), "no run has 'nothing'"),
        (("--limit", "0"), "--limit"),
    ],
)
def test_runs_bad_options_are_one_line(cli_run, sweep, args, needle) -> None:
    code, out, err = cli_run("runs", *args)
    assert code in (1, 2) and out == ""
    assert err.startswith("expbook: error:") and needle in err and err.count("\n") == 1


# -- show: where the run ran -----------------------------------------------------------------
def test_show_table_has_the_run_metadata(cli_run, store_path) -> None:
    with SQLiteStore(store_path) as st:
        st.create_run(
            name="m",
            project="p",
            group="g1",
            meta={
                "host": "gpu-node-7",
                "pid": 4242,
                "argv": ["train.py", "--lr", "0.1", "--name", "two words"],
                "cwd": "/home/me/proj",
                "python": "3.11.7",
                "git": {"commit": "0123456789abcdef", "branch": "main", "dirty": True},
                "init_kwargs": {"entity": "team"},
            },
        )
    code, out, err = cli_run("show", "m")
    assert code == 0, err
    text = " ".join(out.split())
    for needle in (
        "host gpu-node-7",
        "pid 4242",
        "python 3.11.7",
        "command: train.py --lr 0.1 --name 'two words'",
        "cwd: /home/me/proj",
        "git: 0123456789abcdef on main (uncommitted changes)",
        "group: g1",
        'init_kwargs: {"entity": "team"}',
    ):
        assert needle in text, needle


# -- help: an example on every command, help text on every option ----------------------------
def walk(cmd: click.Command, path: tuple[str, ...]):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from walk(sub, (*path, name))


def test_every_command_has_an_example_and_every_option_help() -> None:
    from expbook.cli import cli

    seen = 0
    for path, cmd in walk(cli, ("expbook",)):
        seen += 1
        ctx = click.Context(cmd, info_name=" ".join(path), **cmd.context_settings)
        text = cmd.get_help(ctx)
        assert "Example:\n" in text, path
        example = text.split("Example:\n", 1)[1].splitlines()[0].strip()
        assert example.startswith("expbook"), (path, example)
        if len(path) > 1:  # the command's own words (a group's subcommand: both)
            assert example.split()[1 : len(path)] == list(path[1:]), (path, example)
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.opts)
    assert seen > 10


def test_option_help_is_shown(cli_run) -> None:
    for args, needle in (
        (("winners", "-h"), "Metric (or summary or derived) key"),
        (("winners", "-h"), "higher (max) values"),
        (("demo", "-h"), "Project the demo runs"),
        (("runs", "-h"), "--sort"),
        (("history", "-h"), "--tail"),
    ):
        code, out, _ = cli_run(*args, store=False)
        assert code == 0 and needle in " ".join(out.split()), args


def test_nan_sorts_last(cli_run, store_path) -> None:
    for name, v in (("x", math.nan), ("y", 1.0), ("z", 2.0)):
        run = expbook.init(name=name, store=store_path)
        run.summary["q"] = v
        run.finish()
    assert run_names(cli_run, "--sort", "-q") == ["z", "y", "x"]
    assert run_names(cli_run, "--sort", "q") == ["y", "z", "x"]
    assert os.path.isdir(store_path)


def test_history_csv_writes_special_values_and_gaps(cli_run, store_path) -> None:
    with SQLiteStore(store_path) as st:
        rid = st.create_run(name="s", project="p").id
        vals = [math.nan, math.inf, -math.inf, 0.1, 1e300]
        st.append_points(rid, {"a": PointBatch([0, 1, 2, 3, 4], [0.0] * 5, vals)})
        st.append_points(rid, {"b": PointBatch([1, 3], [0.0] * 2, [math.nan, -0.0])})
    code, out, _ = cli_run("history", "s", "--format", "csv")
    assert code == 0
    assert rows_of(out) == [
        ["step", "a", "b"],
        ["0", "NaN", ""],
        ["1", "inf", "NaN"],
        ["2", "-inf", ""],
        ["3", "0.1", "-0.0"],
        ["4", "1e+300", ""],
    ]
    code, out, _ = cli_run("history", "s", "b", "--every", "2", "--format", "json")
    assert out.strip() == '{"b": [[1, NaN]]}'


def test_import_dry_run_into_a_folder_without_a_store_writes_nothing(cli_run, tmp_path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    metrics = tmp_path / "m" / "metrics.csv"
    metrics.parent.mkdir()
    metrics.write_text("step,loss\n0,1.0\n")
    code, out, err = cli_run(
        "import",
        str(metrics),
        "--dry-run",
        "--store",
        str(folder),
        "--format",
        "json",
        store=False,
    )
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)["runs"]] == ["m"]
    assert list(folder.iterdir()) == []
