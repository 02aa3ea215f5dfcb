"""Hostile data: names that look like terminal markup or escape sequences, and broken stores.

Every command prints such data literally (never as rich markup, never as raw escape
sequences), and a damaged or read-only store ends in one line on stderr, never a traceback.
"""

from __future__ import annotations

import json

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

    backend = connect(store_path)
    with backend.atomic():
        for i in range(501):
            backend.create_run(
                name=f"\x1b[31mred{i}", project="p", status="finished", config={"opt": "[b]x"}
            )
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


def test_visible_escapes_controls_only() -> None:
    from expbook._output import fmt_number, visible

    assert visible("plain [b] text") == "plain [b] text"
    assert visible("a\x1b[2Jb\r\n\t\x9b\u202e") == "a\\x1b[2Jb\\r\\n\\t\\x9b\\u202e"
    assert fmt_number("\x1b[31mred") == "\\x1b[31mred"
    assert fmt_number(["a\x07", 1.5]) == "a\\x07, 1.5"
