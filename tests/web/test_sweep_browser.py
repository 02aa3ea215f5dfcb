"""The sweep page (/sweep) in Debian's Chromium (Playwright): parallel coordinates whose
brushing filters the runs table, the scatter's x chooser, the importance bars naming their
method. No console errors, no request leaving the server. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .sweep_store import sweep_store
from .test_browser import shot
from .test_ui_fixes_browser import clean, open_page, serve, wbrowser

__all__ = ["open_page", "wbrowser"]  # fixtures used here


@pytest.fixture(scope="module")
def sweep_server(tmp_path_factory):
    path: Path = tmp_path_factory.mktemp("sweepui") / "store"
    sweep_store(path)
    with serve(path) as url:
        yield url


def ready(page) -> None:
    page.wait_for_selector("body[data-sweep-ready='1']", timeout=20_000)
    page.wait_for_selector("#parcoords .parcoords", state="attached", timeout=10_000)


def table_names(page) -> list[str]:
    return page.eval_on_selector_all(
        "#sweep-runs tbody tr td:first-child a", "els => els.map(e => e.textContent)"
    )


def test_parcoords_brushing_filters_the_table(open_page, sweep_server) -> None:
    page = open_page(1440)
    page.goto(sweep_server + "/sweep?project=grid&metric=val_loss")
    ready(page)
    dims = json.loads(page.get_attribute("#parcoords", "data-dims"))
    assert dims == [
        "config.lr",
        "config.model.depth",
        "config.optimizer",
        "config.seed",
        "metric:val_loss",
    ]
    labels = page.eval_on_selector("#parcoords", "el => el.data[0].dimensions.map(d => d.label)")
    assert labels[0] == "config.lr (log)" and labels[-1] == "val_loss"
    # 60 lines drawn, the table holds all of them, best first
    assert page.eval_on_selector("#parcoords", "el => el.data[0].dimensions[0].values.length") == 60
    names = table_names(page)
    assert len(names) == 60 and names[0] == "lr0.01-d2-adam-s0"
    assert page.text_content("#sweep-count") == "all 60"
    first = page.get_attribute("#sweep-runs tbody tr:first-child a", "href")
    assert first.startswith("/runs/")
    shot(page, "sweep-page.png")

    # brush lr's axis (log10 values) to its two largest values: 1e-3 < lr
    page.evaluate(
        "() => Plotly.restyle('parcoords', {'dimensions[0].constraintrange': [[-2.7, -1.9]]})"
    )
    page.wait_for_function("document.getElementById('sweep-count').textContent.includes('brushed')")
    names = table_names(page)
    assert len(names) == 24
    assert all(n.startswith(("lr0.003-", "lr0.01-")) for n in names)
    assert page.text_content("#sweep-count") == "24 of 60 (brushed)"
    # and the optimizer's axis too (categories 0: adam, 1: sgd)
    page.evaluate(
        "() => Plotly.restyle('parcoords', {'dimensions[2].constraintrange': [[0.5, 1.5]]})"
    )
    page.wait_for_function("document.getElementById('sweep-count').textContent.startsWith('12 ')")
    assert all("-sgd-" in n for n in table_names(page))
    # the scatter greys what is brushed out
    kept = page.eval_on_selector("#scatter", "el => el.data[1].x.length")
    out = page.eval_on_selector("#scatter", "el => el.data[0].x.length")
    assert page.eval_on_selector("#scatter", "el => el.data.map(t => t.name)") == [
        "brushed out",
        "kept",
    ]
    assert (kept, out) == (12, 48)
    shot(page, "sweep-brushed.png")
    # cleared: all again
    page.evaluate(
        "() => Plotly.restyle('parcoords', {'dimensions[0].constraintrange': null,"
        " 'dimensions[2].constraintrange': null})"
    )
    page.wait_for_function("document.getElementById('sweep-count').textContent === 'all 60'")
    clean(page, sweep_server)


def test_scatter_x_chooser_and_importance(open_page, sweep_server) -> None:
    page = open_page(1440)
    page.goto(sweep_server + "/sweep?project=grid&metric=val_loss")
    ready(page)
    options = page.eval_on_selector_all("#scatter-x option", "els => els.map(e => e.value)")
    assert options == [
        "config.lr",
        "config.model.depth",
        "config.optimizer",
        "config.seed",
        "summary.acc",
    ]
    assert page.eval_on_selector("#scatter", "el => el.layout.xaxis.type") == "log"
    # labelled at its decades only, never with lone mantissa digits
    ticks = page.eval_on_selector_all("#scatter .xtick text", "els => els.map(e => e.textContent)")
    assert [t.replace("\u2212", "-") for t in ticks] == ["1e-4", "1e-3", "0.01"], ticks
    assert page.eval_on_selector("#scatter", "el => el.layout.xaxis.title.text") == "config.lr"
    page.select_option("#scatter-x", "config.optimizer")
    page.wait_for_function(
        "document.getElementById('scatter').layout.xaxis.title.text === 'config.optimizer'"
    )
    xs = page.eval_on_selector("#scatter", "el => [...new Set(el.data[1].x)].sort()")
    assert xs == ["adam", "sgd"]
    assert page.eval_on_selector("#scatter", "el => el.layout.xaxis.type") == "category"
    page.select_option("#scatter-x", "summary.acc")
    page.wait_for_function(
        "document.getElementById('scatter').layout.xaxis.title.text === 'summary.acc'"
    )
    assert "x=summary.acc" in page.url  # kept in the URL
    # no SI prefixes on the axis ticks
    ticks = page.eval_on_selector_all(
        "#scatter .xtick text, #scatter .ytick text", "els => els.map(e => e.textContent)"
    )
    assert ticks and not any(t[-1:] in "µmkM" for t in ticks), ticks

    # importance: bars for the random forest and the correlation, lr on top, method named
    method = page.text_content("#importance-method")
    assert "random forest permutation importance" in method and "scikit-learn" in method
    assert "Spearman" in method
    names = page.eval_on_selector("#importance", "el => el.data.map(t => t.name)")
    assert names == ["permutation importance (random forest)", "correlation (Spearman ρ / η)"]
    ys = page.eval_on_selector("#importance", "el => el.data[0].y")
    assert ys[-1] == "config.lr"  # drawn bottom-up: the most important on top
    assert page.locator("#importance .bars path").count() >= 8
    shot(page, "sweep-importance.png")
    clean(page, sweep_server)


def test_the_metric_chooser_reloads_with_its_goal(open_page, sweep_server) -> None:
    page = open_page(1280)
    page.goto(sweep_server + "/?project=grid")
    with page.expect_navigation():
        page.click("#nav-sweep")
    assert page.url.endswith("/sweep?project=grid")
    ready(page)
    with page.expect_navigation():
        page.select_option("#sweep-metric", "acc")
    ready(page)
    assert "metric=acc" in page.url and "goal=" not in page.url
    assert page.input_value("#sweep-goal") == "max"
    assert page.text_content(".metric-name") == "acc"
    names = table_names(page)
    assert names[0].startswith("lr0.01-")  # the highest accuracy first
    status = page.text_content("#sweep-status")
    assert "higher is better" in status
    clean(page, sweep_server)
