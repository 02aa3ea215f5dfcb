"""The dashboard fixes of issue 13 as seen in Debian's Chromium (Playwright): the project
switch, the Columns picker on screen, a table as wide as the page, claim marks, readable
axes, a report page using the window's width. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from .test_browser import free_port, shot
from .workspace_store import LONG_NAME, workspace_store

SI = re.compile("[µμmunpfkMGTPE]")  # SI prefixes plotly would write ("300µ", "2k")
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]?\d+)?$")


@pytest.fixture
def ws(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "store"
    return path, workspace_store(path)


@contextlib.contextmanager
def serve(store: Path, allow_edits: bool = False) -> Iterator[str]:
    """The dashboard on ``store``, served by uvicorn in a thread on 127.0.0.1."""
    import uvicorn

    from expbook.web import create_app

    port = free_port()
    app = create_app(store, allowed_hosts=["127.0.0.1", "localhost"], allow_edits=allow_edits)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(5)


@pytest.fixture
def wserver(ws):
    with serve(ws[0]) as url:
        yield url


@pytest.fixture(scope="module")
def wbrowser(chromium_launch):
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(**chromium_launch)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_page(wbrowser):
    """``open_page(width)``: a fresh page of that width (900 high) recording console errors
    and every request."""
    contexts = []

    def make(width: int = 1440):
        context = wbrowser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.requests = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        return page

    yield make
    for c in contexts:
        c.close()


def clean(page, server: str) -> None:
    assert page.problems == []
    assert [u for u in page.requests if not u.startswith(server + "/")] == []


def headers(page) -> list[str]:
    return page.eval_on_selector_all("#runs thead th[title]", "els => els.map(e => e.title)")


def test_the_project_switch_resets_columns_and_grouping(open_page, wserver) -> None:
    page = open_page(1440)
    page.goto(wserver + "/?project=vision&col=config.depth&col=summary.val/acc&group=config.depth")
    assert headers(page)[4:] == ["config.depth", "summary.val/acc"]
    assert page.locator("#runs tr.grouprow").count() == 2

    # pick another project and press Apply (the select's own submit is the same request)
    page.eval_on_selector("select[name=project]", "el => { el.value = 'text'; }")
    with page.expect_navigation():
        page.click("#apply")
    assert headers(page)[4:] == ["config.heads", "summary.eval/bleu", "summary.loss"]
    assert page.url == wserver + "/?project=text&q=&filter=&sort=created_at&order=desc&limit=50"
    assert page.locator("#runs tr.grouprow").count() == 0
    assert page.input_value("#group") == ""
    cells = page.eval_on_selector_all("#runs td.val", "els => els.map(e => e.textContent)")
    assert len(cells) == 9 and all(cells), cells  # no blank column
    # the group-by list holds this project's params only
    groups = page.eval_on_selector_all("#group option", "els => els.map(e => e.value)")
    assert groups == ["", "config.heads", "config.lr", "config.tokenizer"]
    shot(page, "ui-project-switch.png")

    # and back, through the dropdown alone: vision's own defaults
    with page.expect_navigation():
        page.select_option("select[name=project]", "vision")
    assert headers(page)[4:6] == ["config.depth", "config.lr"]
    clean(page, wserver)


@pytest.mark.parametrize("width", [1440, 1024])
def test_the_columns_picker_stays_on_screen(open_page, wserver, width) -> None:
    page = open_page(width)
    page.goto(wserver + "/")  # every project: 60 params, one of them very long
    page.click("#columns summary")
    box = page.locator("#colpick").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= 900
    # the long key is ellipsised inside it, its whole name in the title
    label = page.locator("#colpick label[title$='warmup_fraction']")
    lb = label.bounding_box()
    assert lb is not None and lb["x"] + lb["width"] <= box["x"] + box["width"]
    # and the picker's own Apply button is reachable (scrolled into its box)
    page.locator("#colpick .colpick-foot button").scroll_into_view_if_needed()
    fb = page.locator("#colpick .colpick-foot button").bounding_box()
    assert fb is not None and fb["y"] + fb["height"] <= 900
    shot(page, f"ui-columns-{width}.png")
    clean(page, wserver)


def test_the_runs_table_fits_the_page(open_page, wserver, ws) -> None:
    page = open_page(1440)
    page.goto(wserver + "/")
    # a project column (three projects shown), the params that vary, the common metrics
    cols = headers(page)[4:]
    assert cols[0] == "project" and "config.depth" in cols and "summary.val/acc" in cols
    assert not [c for c in cols if "epoch" in c or c == "summary.lr"]
    wrap = page.eval_on_selector(".tablewrap", "e => [e.scrollWidth, e.clientWidth]")
    assert wrap[0] <= wrap[1], wrap
    # one line per run: every row as tall as the shortest
    heights = page.eval_on_selector_all(
        "#runs tbody tr[data-id]", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert len(heights) == 8 and max(heights) < 1.3 * min(heights), heights
    # the long name is cut with an ellipsis, the whole of it in the cell's title
    cell = page.locator(f"#runs tr[data-id='{ws[1][LONG_NAME]}'] td.namecell")
    assert LONG_NAME in (cell.get_attribute("title") or "")
    assert cell.evaluate(
        "e => { const c = e.querySelector('.clip'); return c.scrollWidth > c.clientWidth; }"
    )
    assert (
        cell.evaluate("e => getComputedStyle(e.querySelector('.clip')).textOverflow") == "ellipsis"
    )
    shot(page, "ui-runs-fit.png")
    clean(page, wserver)


def tick_labels(page, key: str) -> list[str]:
    return page.eval_on_selector(
        f".chart[data-key='{key}']",
        "c => [...c.querySelectorAll('.yaxislayer-above .ytick text')].map(t => t.textContent)",
    )


def test_chart_axes_are_readable(open_page, wserver, ws) -> None:
    page = open_page(1440)
    page.goto(f"{wserver}/runs/{ws[1]['tiny']}")
    page.locator("#charts").scroll_into_view_if_needed()  # charts load when in view
    for key in ("lr", "loss"):
        page.wait_for_selector(f".chart[data-key='{key}'] .ytick text", timeout=15_000)
    # linear: an lr between 1e-4 and 5e-4 in scientific notation, no "300µ"
    lin = [t.replace("\u2212", "-") for t in tick_labels(page, "lr")]
    assert lin and not [t for t in lin if SI.search(t.replace("e-", ""))], lin
    assert all(NUMBER.match(t) for t in lin), lin
    assert any(t.endswith("e-4") for t in lin), lin

    # log: a loss over four decades labelled at decades only, minor ticks unlabelled
    page.check("#logy")
    page.wait_for_function(
        "document.querySelector(\".chart[data-key='loss']\").layout.yaxis.type === 'log'"
    )
    page.wait_for_timeout(200)
    logs = [t.replace("\u2212", "-") for t in tick_labels(page, "loss")]
    assert len(logs) >= 3, logs
    for t in logs:
        assert NUMBER.match(t), logs
        assert abs(math.log10(float(t)) - round(math.log10(float(t)))) < 1e-9, logs
    n_ticks = page.eval_on_selector(
        ".chart[data-key='loss']", "c => c.querySelectorAll('path.ytick').length"
    )
    assert n_ticks > 2 * len(logs)  # the minor ticks between the decades
    shot(page, "ui-axes.png")
    clean(page, wserver)


REPORT = """# Scales

A paragraph of prose long enough to wrap: on a wide screen it keeps a readable measure, so
the eye does not travel across the whole window to find the next line, while the tables
and figures below take all of the width they need and the table scrolls inside its box.

```expbook
runs: {project: scales, params: [KNOBS]}
```

```expbook
plot: {metric: loss, project: scales, log_y: true}
```

- [claim good] `final(tiny, loss) < 1`
- [claim bad] `final(tiny, loss) > 1`
- [claim broken] `final(nope, loss) < 1`
""".replace("KNOBS", ", ".join(f"knob_{k:02d}" for k in range(40)))


def check_marks(page) -> None:
    kinds = page.eval_on_selector_all(
        ".expbook-claim",
        "els => els.map(e => [e.className, getComputedStyle(e).color,"
        " e.querySelector('svg').getAttribute('aria-label'),"
        " e.querySelector('svg').getBoundingClientRect().width])",
    )
    assert [k[:3] for k in kinds] == [
        ["expbook-claim pass", "rgb(26, 127, 55)", "claim holds"],
        ["expbook-claim fail", "rgb(207, 34, 46)", "claim fails"],
        ["expbook-claim warn", "rgb(154, 103, 0)", "cannot evaluate"],
    ]
    assert all(k[3] >= 12 for k in kinds)  # drawn, not an empty glyph box
    claims = page.inner_text("ul")
    assert not re.search("[\u2705\u274c\u26a0]", claims)


def test_the_report_page_uses_the_width(open_page, wserver, ws, tmp_path) -> None:
    from .conftest import write_report

    rid = write_report(ws[0], tmp_path / "scales.md", REPORT)
    page = open_page(1440)
    page.goto(f"{wserver}/reports/{rid}")
    page.wait_for_function("document.body.dataset.plots === '1'", timeout=15_000)
    box = lambda sel: page.locator(sel).first.bounding_box()  # noqa: E731
    article, prose, table, plot = (
        box("#report"),
        box("#report > p"),
        box("#report table"),
        box("#report .expbook-plot"),
    )
    assert article["width"] > 1300  # not 620 px of 1440
    assert 400 < prose["width"] < 0.75 * article["width"]  # a readable measure
    assert plot["width"] > 1200
    # the wide table scrolls inside its box, which stays inside the article
    assert table["x"] + table["width"] <= article["x"] + article["width"]
    assert page.eval_on_selector("#report table", "t => t.scrollWidth > t.clientWidth")
    # the report plot's log axis: decades only
    labels = page.eval_on_selector(
        "#report .expbook-plot",
        "c => [...c.querySelectorAll('.yaxislayer-above .ytick text')].map(t => t.textContent)",
    )
    values = [float(t.replace("\u2212", "-")) for t in labels]
    assert len(values) >= 3 and all(
        abs(math.log10(v) - round(math.log10(v))) < 1e-9 for v in values
    )
    check_marks(page)
    shot(page, "ui-report-wide.png")
    clean(page, wserver)


def test_report_html_marks_in_chromium(open_page, ws, tmp_path) -> None:
    from expbook.report import render_file
    from expbook.store import SQLiteStore

    doc = tmp_path / "scales.md"
    doc.write_text(REPORT, encoding="utf-8")
    out = tmp_path / "scales.html"
    with SQLiteStore(ws[0], readonly=True) as st:
        render_file(str(doc), st, html=str(out))
    page = open_page(1440)
    page.goto(out.as_uri())
    # (a function, not a string: the page's policy forbids eval)
    page.wait_for_function("() => document.body.dataset.plots === '1'", timeout=30_000)
    check_marks(page)
    assert page.locator("body").bounding_box()["width"] > 1300
    shot(page, "report-html.png")
    assert page.problems == []


def test_media_charts_have_readable_axes(open_page, tmp_path, monkeypatch) -> None:
    import numpy as np

    import expbook

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "media-store"
    rng = np.random.default_rng(0)
    table = expbook.Table(columns=["x", "lr"], data=[[i, 1e-4 * (1 + i)] for i in range(5)])
    with expbook.init(project="m", name="media", store=str(store)) as run:
        run.log({"grads": expbook.Histogram(rng.normal(3e-4, 1e-4, 1000), num_bins=20)})
        run.log({"sched": expbook.plot.line(table, "x", "lr", title="schedule")})
    with serve(store) as url:
        page = open_page(1440)
        page.goto(f"{url}/runs/{run.id}")
        page.locator(".hist-chart").scroll_into_view_if_needed()
        page.wait_for_selector(".hist-chart .xtick text", timeout=15_000)
        page.wait_for_selector(".plot-chart .ytick text", timeout=15_000)
        hist_x = page.eval_on_selector_all(
            ".hist-chart .xtick text", "els => els.map(e => e.textContent)"
        )
        plot_y = page.eval_on_selector_all(
            ".plot-chart .ytick text", "els => els.map(e => e.textContent)"
        )
        for labels in (hist_x, plot_y):
            labels = [t.replace("\u2212", "-") for t in labels]
            assert labels and all(NUMBER.match(t) for t in labels), labels  # never "300µ"
            assert any("e-4" in t for t in labels), labels
        shot(page, "ui-media-axes.png")
        clean(page, url)
