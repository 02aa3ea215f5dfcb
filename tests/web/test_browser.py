"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

The browser is the one tests/conftest.py installs or names (never skipped). Screenshots of
each page are written to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import math
import socket
import threading
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

from playwright import sync_api  # noqa: E402  (a hard requirement: CI installs playwright)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(seeded):
    """The dashboard on the seeded store, served by uvicorn in a thread on 127.0.0.1."""
    import uvicorn

    from expbook.web import create_app

    port = free_port()
    app = create_app(seeded[0], allowed_hosts=["127.0.0.1", "localhost"])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def browser(chromium_launch):
    """One Chromium for the module (a launch takes seconds); a fresh page per test."""
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(**chromium_launch)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests.append(r.url))
    page.on(
        "console",
        lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"),
    )
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def traces(page, chart: str = ".chart") -> int:
    return page.eval_on_selector(chart, "el => el.data ? el.data.length : 0")


def wait_for_chart(page) -> None:
    page.wait_for_selector(".chart .main-svg", timeout=15_000)
    page.wait_for_selector(".chart .scatterlayer .trace path.js-line", timeout=15_000)


def test_runs_filter_run_compare(page, server, ids) -> None:
    page.goto(server + "/?sort=name&order=asc")
    assert page.locator("#runs tbody tr[data-id]").count() == 7
    shot(page, "ui-runs.png")

    # filter with the CLI's language, then search
    page.fill("#filter", "config.lr < 0.05")
    page.click("#apply")
    page.wait_for_url("**filter=**")
    assert page.locator("#runs tbody tr[data-id]").count() == 4
    page.fill("#search", "run-1")
    page.press("#search", "Enter")
    page.wait_for_url("**q=run-1**")
    assert page.locator("#runs tbody tr[data-id]").count() == 1

    # open the run: a chart per metric, drawn
    page.click("a.runlink")
    page.wait_for_url(f"**/runs/{ids['run-1']}")
    wait_for_chart(page)
    assert page.locator(".chart").count() == 2
    assert traces(page) == 1
    page.eval_on_selector(
        "#smooth", "el => { el.value = '0.6'; el.dispatchEvent(new Event('input')); }"
    )
    page.wait_for_function("document.querySelector('.chart').data.length === 2")
    page.check("#logy")
    page.wait_for_function("document.querySelector('.chart').layout.yaxis.type === 'log'")
    page.select_option("#xaxis", "wall")
    page.wait_for_function(
        "document.querySelector('.chart').layout.xaxis.title.text.startsWith('seconds')"
    )
    # zoom: the visible step range is fetched again in detail
    page.select_option("#xaxis", "step")
    page.wait_for_function("document.querySelector('.chart').layout.xaxis.title.text === 'step'")
    with page.expect_response(lambda r: "step_min=" in r.url and "step_max=" in r.url):
        page.evaluate(
            "Plotly.relayout(document.querySelector('.chart'), {'xaxis.range': [50, 60]})"
        )
    page.wait_for_function("document.querySelector('.chart').data[0].x.length === 11")
    # the smoothed line goes on from the points before the zoom (a falling loss: it lags above
    # the raw one), instead of starting again at the first visible point
    assert page.evaluate(
        "(() => { const d = document.querySelector('.chart').data;"
        " return d[1].y[0] > d[0].y[0]; })()"
    )
    shot(page, "ui-run.png")

    # back to the table: select two runs and compare them
    page.goto(server + "/?sort=name&order=asc")
    page.check(f"tr[data-id='{ids['run-0']}'] input.pick")
    page.check(f"tr[data-id='{ids['run-2']}'] input.pick")
    page.click("#compare")
    page.wait_for_url("**/compare?ids=**")
    wait_for_chart(page)
    assert page.locator("#config-diff tbody tr").count() >= 3
    assert page.locator("#metric-table tbody tr").count() >= 2
    page.wait_for_function("document.querySelector('.chart').data.length === 2")
    shot(page, "ui-compare.png")

    assert page.problems == []
    outside = [u for u in page.requests if not u.startswith(server + "/")]
    assert outside == [], outside


def test_a_running_run_updates_without_reloading(page, server, seeded, ids) -> None:
    from expbook.store import PointBatch, SQLiteStore

    page.goto(f"{server}/runs/{ids['run-5']}")
    wait_for_chart(page)
    assert page.eval_on_selector(".chart", "el => el.data[0].x.length") == 200
    steps = list(range(200, 210))
    with SQLiteStore(seeded[0]) as st:
        st.append_points(
            ids["run-5"],
            {"loss": PointBatch(steps, [1100.0] * 10, [math.exp(-s / 100) for s in steps])},
        )
        st.heartbeat([ids["run-5"]])
    with page.expect_response(lambda r: "after_step=199" in r.url, timeout=10_000):
        pass
    page.wait_for_function(
        "[...document.querySelectorAll('.chart')].some(el => el.data[0].x.length === 210)",
        timeout=10_000,
    )
    assert page.problems == []
    assert all(u.startswith(server + "/") for u in page.requests)


def test_runs_table_refreshes_running_runs(page, server, seeded, ids) -> None:
    from expbook.store import PointBatch, SQLiteStore

    page.goto(server + "/?sort=name&order=asc&col=summary.loss")
    row = f"#runs tr[data-id='{ids['run-5']}']"
    assert page.text_content(row + " .status") == "running"
    with SQLiteStore(seeded[0]) as st:
        st.append_points(ids["run-5"], {"loss": PointBatch([500], [2000.0], [0.125])})
        st.update_run(ids["run-5"], status="finished")
    page.wait_for_function(
        f"document.querySelector(\"{row} td.num\").textContent === '0.125'", timeout=12_000
    )
    assert page.text_content(row + " .status") == "finished"
    assert page.problems == []


def test_reports_list_and_a_report_with_its_plot(page, server, seeded, tmp_path) -> None:
    from .conftest import write_report

    rid = write_report(seeded[0], tmp_path / "study.md")
    page.goto(server + "/")
    page.click("nav a[href='/reports']")
    page.wait_for_url("**/reports")
    assert page.locator("#reports tbody tr").count() == 1
    shot(page, "ui-reports.png")
    page.click(f"a[href='/reports/{rid}']")
    page.wait_for_url(f"**/reports/{rid}")
    page.wait_for_function("document.body.dataset.plots === '1'", timeout=15_000)
    assert page.locator("#report .expbook-plot .scatterlayer .trace").count() == 4
    assert traces(page, "#report .expbook-plot") == 4
    assert page.locator("#report table").count() == 1
    assert page.evaluate("window.evil") is None  # the document's <script> is text, not run
    shot(page, "ui-report.png")
    assert page.problems == []
    outside = [u for u in page.requests if not u.startswith(server + "/")]
    assert outside == [], outside


def test_the_selection_survives_paging(page, server, ids) -> None:
    page.goto(server + "/?sort=name&order=asc&limit=2")
    page.check(f"tr[data-id='{ids['empty']}'] input.pick")
    page.goto(server + "/?sort=name&order=asc&limit=2&offset=4")
    page.check(f"tr[data-id='{ids['run-3']}'] input.pick")
    assert page.inner_text("#compare") == "Compare 2 selected"
    page.goto(server + "/?sort=name&order=asc&limit=2")  # back: still ticked
    assert page.is_checked(f"tr[data-id='{ids['empty']}'] input.pick")
    page.click("#compare")
    page.wait_for_url("**/compare?ids=**")
    assert sorted(page.url.split("ids=")[1].split("%2C" if "%2C" in page.url else ",")) == sorted(
        [ids["empty"], ids["run-3"]]
    )
    assert page.problems == []
