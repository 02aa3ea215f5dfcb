"""Server output behind the dashboard fixes of issue 13: a project switch resets columns and
grouping, the lists hold the current project's keys, leaderboard default columns, readable
axes for report plots. (What is seen in the browser: test_ui_fixes_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from expbook.web import create_app
from expbook.web._runs import default_columns

from .workspace_store import LONG_PARAM, workspace_store


@pytest.fixture
def ws(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "store"
    return path, workspace_store(path)


@pytest.fixture
def wclient(ws):
    with TestClient(create_app(ws[0])) as c:
        c.get("/api/columns")  # waits for the runs snapshot: the pickers list every key
        yield c


def header(html: str) -> list[str]:
    """The column keys of the runs table (each header's title)."""
    thead = html.split('<table id="runs"')[1].split("</thead>")[0]
    return re.findall(r'<th class="[^"]*" title="([^"]+)"', thead)


def options(html: str, name: str) -> list[str]:
    select = html.split(f'<select name="{name}"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"', select)


def checked(html: str) -> list[str]:
    return re.findall(r'name="col" value="([^"]+)" checked', html)


def test_a_project_switch_resets_columns_and_grouping(wclient) -> None:
    # the vision page, with a vision column chosen and grouped by depth
    shown = "/?project=vision&col=config.depth&col=summary.val/acc&group=config.depth"
    page = wclient.get(shown).text
    assert header(page)[4:] == ["config.depth", "summary.val/acc"]
    assert 'class="grouprow"' in page
    assert 'name="shown_project" value="vision"' in page

    # the form sent with text picked in the dropdown (Apply): text's own columns, no grouping
    switched = wclient.get(
        "/?project=text&shown_project=vision&col=config.depth&col=summary.val/acc"
        "&group=config.depth&sort=config.depth&order=asc"
    )
    assert switched.status_code == 200
    # on to a plain URL of the new project, which the page's live refresh reuses
    assert [r.status_code for r in switched.history] == [303]
    assert list(switched.url.params.multi_items()) == [("project", "text")]
    page = switched.text
    assert header(page)[4:] == ["config.heads", "summary.eval/bleu", "summary.loss"]
    assert checked(page) == ["config.heads", "summary.eval/bleu", "summary.loss"]
    assert 'class="grouprow"' not in page
    assert "selected" not in page.split('<select name="group"')[1].split("</select>")[0]
    # a sort by the other project's key is dropped too; every cell of every row has a value
    assert 'class="field sorted desc" title="created_at"' in page
    assert "config.depth" not in page.split("</form>")[1]
    rows = re.findall(r'<td class="val[^"]*" title="([^"]*)"', page)
    assert len(rows) == 3 * 3 and all(rows)
    # links from the new page keep its columns and never reset them again
    nxt = re.findall(r'href="(/\?[^"]+)"', page)
    assert nxt and not any("shown_project" in u for u in nxt)

    # the same form without a switch keeps what was chosen
    same = wclient.get("/?project=vision&shown_project=vision&col=config.depth").text
    assert header(same)[4:] == ["config.depth"]


def test_group_and_column_lists_hold_the_projects_keys(wclient) -> None:
    text = wclient.get("/?project=text").text
    assert options(text, "group") == ["", "config.heads", "config.lr", "config.tokenizer"]
    picker = text.split('id="colpick"')[1].split("</details>")[0]
    assert "config.depth" not in picker and "summary.val/acc" not in picker
    assert "summary.eval/bleu" in picker
    assert 'value="project"' not in picker  # one project shown: no project column to pick

    every = wclient.get("/").text
    assert {"config.depth", "config.heads"} <= set(options(every, "group"))
    assert 'value="project"' in every.split('id="colpick"')[1]


def test_default_columns_are_a_leaderboards(wclient) -> None:
    vision = wclient.get("/api/runs?project=vision").json()["columns"]
    # the params that vary (the one different on every run, a path, last; the constant
    # dataset not at all), then the metrics: held-out first; epoch and lr are bookkeeping
    assert vision == [
        "config.depth",
        "config.lr",
        "config." + LONG_PARAM,
        "config.out_dir",
        "summary.val/acc",
        "summary.train/loss",
    ]
    # numeric columns are right-aligned, headers included; a text column is not
    page = wclient.get("/?project=vision").text
    assert '<th class="param num" title="config.depth">' in page
    assert '<th class="param" title="config.out_dir">' in page
    assert '<th class="metric num" title="summary.val/acc">' in page
    # more than one project shown: a project column leads
    every = wclient.get("/api/runs").json()
    assert every["columns"][0] == "project"
    assert {r["values"]["project"] for r in every["runs"]} == {"vision", "text", "scales"}
    # metrics fewer than half the runs have are left out
    assert "summary.eval/bleu" not in every["columns"]
    assert "summary.loss" in every["columns"]


def test_default_columns_rank_metrics_by_how_many_runs_have_them() -> None:
    from expbook.analysis import MemoryRun

    runs = [
        MemoryRun(
            f"r{i}",
            config={"lr": 0.1 * (i + 1), "name": f"run-{i}"},
            summary={"acc": 0.5, "loss": 1.0, "rare": 1.0} if i == 0 else {"acc": 0.5, "loss": 1},
        )
        for i in range(4)
    ]
    cols = default_columns(runs)  # type: ignore[arg-type]
    assert cols == ["config.lr", "config.name", "summary.acc", "summary.loss"]
    # nothing but bookkeeping logged: it is shown rather than nothing
    only = [MemoryRun("a", config={"x": 1}, summary={"epoch": 3, "system/gpu": 1.0})]
    assert default_columns(only) == ["config.x", "summary.epoch", "summary.system/gpu"]  # type: ignore[arg-type]


def test_report_plots_have_readable_axes() -> None:
    from expbook.report.html import figure_json, readable_axis

    # a linear axis: scientific notation, never SI prefixes
    assert readable_axis({}, [1e-4, 5e-4])["exponentformat"] == "e"
    # a log axis over four decades: labelled at decades, minor ticks unlabelled
    ax = readable_axis({}, [0.001, 0.5, 12.0], log=True)
    assert ax["type"] == "log" and ax["dtick"] == 1 and ax["tick0"] == 0
    assert ax["minor"]["dtick"] == "D1" and "tickformat" not in ax
    # one decade in view: at 1, 2, 5 times a power of ten, written as values (0.05, 0.1, 0.2)
    ax = readable_axis({}, [0.03, 0.45], log=True)
    assert ax["dtick"] == "D2" and ax["tickformat"] == "~g"
    # narrower still: plotly's ticks, each labelled with its value
    ax = readable_axis({}, [0.31, 0.45], log=True)
    assert "dtick" not in ax and ax["tickformat"] == "~g"

    fig = figure_json("plot", [("a", [1.0, 2.0, 3.0], [1.0, 0.01, 0.001])], log_y=True)
    assert fig["layout"]["yaxis"]["dtick"] == 1
    assert fig["layout"]["xaxis"]["exponentformat"] == "none"  # steps as 1,000,000
    bar = figure_json("bar", [("a", [0.0], [3e-4]), ("b", [0.0], [1e-4])])
    assert bar["layout"]["xaxis"]["exponentformat"] == "e"
