"""The workspace above the runs table in Debian's Chromium (Playwright): panels per metric in
sections (canvas charts, static/chart.js: no plotly.js on the page), hover highlighting
between charts and table, grouped curves with their min-max or ±std bands, the x axis,
overlays, readable ticks and the live refresh of running runs. Screenshots go to
tests/artifacts/."""

# the fixtures come from the issue-13 fixes' module (same store, server and browser)
# ruff: noqa: F811

from __future__ import annotations

import re
import time

from .test_browser import shot
from .test_ui_fixes_browser import (  # noqa: F401  (fixtures)
    clean,
    open_page,
    wbrowser,
    ws,
    wserver,
)
from .workspace_store import LONG_NAME

NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?(e-?\d+)?$")


def drawn(page) -> None:
    page.wait_for_selector("#workspace[data-drawn]", timeout=20_000)
    assert page.get_attribute("#workspace", "data-drawn") != "error", page.inner_text("#ws-status")


def panel_data(page, spec: str) -> list[dict]:
    return page.eval_on_selector(
        f".panel[data-spec='{spec}'] .wschart",
        "el => el.data.map(t => ({meta: t.meta, name: t.name, fill: t.fill || null, "
        "x: Array.from(t.x), y: t.y ? Array.from(t.y) : null, lo: t.lo ? Array.from(t.lo) : null, "
        "hi: t.hi ? Array.from(t.hi) : null, opacity: t.opacity === undefined ? 1 : t.opacity, "
        "width: t.line ? t.line.width : 0, legend: !!t.legend}))",
    )


def point_at(page, spec: str, index: int, i: int) -> tuple[float, float]:
    """Page coordinates of point ``i`` of trace ``index`` of a panel (scrolled into view)."""
    return page.eval_on_selector(
        f".panel[data-spec='{spec}'] .wschart",
        f"el => {{ el.scrollIntoView(); const t = el.data[{index}];"
        f" return el.chart.pixel(t.x[{i}], t.y[{i}]); }}",
    )


def test_panels_per_metric_with_a_curve_per_run(open_page, wserver, ws) -> None:
    ids = ws[1]
    page = open_page(1440)
    page.goto(wserver + "/?project=vision")
    drawn(page)
    # no plotly.js on this page: the panels are canvases
    assert not any("plotly" in u for u in page.requests)
    assert page.locator(".panel .wschart canvas").count() == 2
    # sections by prefix, a panel per default metric
    sections = page.eval_on_selector_all(
        "#workspace details.wsec", "els => els.map(e => e.dataset.section)"
    )
    assert sections == ["train", "val"]
    vision = {v for k, v in ids.items() if k.startswith("vision") or k == LONG_NAME}
    for spec in ("train/loss", "val/acc"):
        traces = panel_data(page, spec)
        assert {t["meta"] for t in traces} == vision and len(traces) == 4
        assert all(len(t["x"]) == 100 for t in traces)
    # the curves are painted: the canvas holds pixels of each run's colour
    colours = page.evaluate(
        "() => Array.from(document.querySelectorAll('.wschart')).map(el => "
        "Object.fromEntries(el.data.map(t => [t.meta, t.line.color])))"
    )
    assert colours[0] == colours[1] and len(set(colours[0].values())) == 4
    painted = page.eval_on_selector(
        ".panel[data-spec='val/acc'] .wschart",
        """el => { const c = el.querySelector('canvas'), g = c.getContext('2d');
          const d = g.getImageData(0, 0, c.width, c.height).data, seen = new Set();
          for (let i = 0; i < d.length; i += 4)
            if (d[i + 3] === 255) seen.add(`rgb(${d[i]},${d[i + 1]},${d[i + 2]})`);
          return el.data.map(t => seen.has(t.line.color)); }""",
    )
    assert all(painted), painted
    rid = ids["vision-2"]
    swatch = page.eval_on_selector(
        f"#runs tr[data-id='{rid}'] .swatch", "e => getComputedStyle(e).backgroundColor"
    )
    assert swatch.replace(" ", "") == colours[0][rid].replace(" ", "")
    shot(page, "ui-workspace.png")
    # a section folds away
    page.click("details.wsec[data-section='train'] > summary")
    assert not page.is_visible(".panel[data-spec='train/loss']")
    clean(page, wserver)


def test_hover_highlights_the_run_in_charts_and_table(open_page, wserver, ws) -> None:
    rid = ws[1]["vision-1"]
    page = open_page(1440)
    page.goto(wserver + "/?project=vision")
    drawn(page)
    # a table row: its curves stand out in every panel
    page.hover(f"#runs tr[data-id='{rid}'] td.time")
    page.wait_for_function("document.getElementById('workspace').dataset.hot !== ''")
    for spec in ("train/loss", "val/acc"):
        traces = panel_data(page, spec)
        mine = [t for t in traces if t["meta"] == rid]
        others = [t for t in traces if t["meta"] != rid]
        assert mine[0]["opacity"] == 1 and mine[0]["width"] > others[0]["width"]
        assert all(t["opacity"] < 0.5 for t in others)
    shot(page, "ui-workspace-hover-row.png")
    page.mouse.move(5, 5)
    page.wait_for_function("document.getElementById('workspace').dataset.hot === ''")
    assert page.locator("#runs tr.hot").count() == 0
    assert all(t["opacity"] == 1 for t in panel_data(page, "val/acc"))
    # the mouse on a curve in a chart: its row lights up, the tooltip names the run
    index = [t["meta"] for t in panel_data(page, "val/acc")].index(rid)
    x, y = point_at(page, "val/acc", index, 50)
    page.mouse.move(x, y)
    page.wait_for_selector(f"#runs tr.hot[data-id='{rid}']")
    assert page.locator("#runs tr.hot").count() == 1
    tip = page.inner_text(".panel[data-spec='val/acc'] .xchart-tip")
    assert "vision-1" in tip and "val/acc: 0.71" in tip and "step: 50" in tip
    clean(page, wserver)


def test_grouping_draws_mean_and_band_per_group(open_page, wserver) -> None:
    page = open_page(1440)
    page.goto(wserver + "/?project=vision&group=config.depth")
    drawn(page)
    traces = panel_data(page, "val/acc")
    means = [t for t in traces if t["legend"]]
    bands = [t for t in traces if t["fill"] == "band"]
    assert sorted(t["name"] for t in means) == [
        "config.depth = 18 (n=2)",
        "config.depth = 50 (n=2)",
    ]
    assert len(bands) == 2 and len(traces) == 4
    for m in means:
        band = next(b for b in bands if b["meta"] == m["meta"])
        assert band["name"].endswith("min–max")
        spans = zip(band["lo"], m["y"], band["hi"])
        assert all(lo <= mu + 1e-9 <= hi + 2e-9 for lo, mu, hi in spans)
        # two lr per depth: the runs differ by 0.01 (vision-i's val/acc is 0.5 + 0.004 s + 0.01 i)
        assert max(h - lo for h, lo in zip(band["hi"], band["lo"])) > 0.005
    # the legend names the groups with their run counts
    legend = page.eval_on_selector_all(
        ".panel[data-spec='val/acc'] .legendtext", "els => els.map(e => e.textContent)"
    )
    assert sorted(legend) == ["config.depth = 18 (n=2)", "config.depth = 50 (n=2)"]
    # the table's group rows: n and the mean of each numeric column
    row = page.locator("#runs tr.grouprow").first
    assert "n=2" in row.inner_text()
    assert "0.901" in row.inner_text()  # val/acc of depth 18: (0.896 + 0.906) / 2
    # hovering a group row highlights the group's curves
    row.hover()
    page.wait_for_function("document.getElementById('workspace').dataset.hot.startsWith('g:')")
    shot(page, "ui-workspace-groups.png")
    # the ±std band instead: mean ± the population std (two runs 0.01 apart: ± 0.005)
    page.mouse.move(5, 5)
    page.select_option("#ws-band", "std")
    page.wait_for_function(
        "document.querySelector(\".panel[data-spec='val/acc'] .wschart\").data"
        ".some(t => t.fill === 'band' && t.name.endsWith('±std'))"
    )
    traces = panel_data(page, "val/acc")
    for m in [t for t in traces if t["legend"]]:
        band = next(b for b in traces if b["fill"] == "band" and b["meta"] == m["meta"])
        assert all(abs((mu - lo) - 0.005) < 1e-6 for lo, mu in zip(band["lo"], m["y"]))
        assert all(abs((hi - mu) - 0.005) < 1e-6 for hi, mu in zip(band["hi"], m["y"]))
    assert "±std band" in page.inner_text("#ws-status")
    clean(page, wserver)


def test_x_axis_choice_and_overlay(open_page, wserver) -> None:
    page = open_page(1440)
    page.goto(wserver + "/?project=vision")
    drawn(page)
    with page.expect_navigation():
        page.select_option("#wx", "epoch")
    drawn(page)
    assert "wx=epoch" in page.url
    traces = panel_data(page, "train/loss")
    assert max(max(t["x"]) for t in traces) == 9  # epoch = step // 10 up to step 99
    title = page.eval_on_selector(
        ".panel[data-spec='train/loss'] .wschart", "el => el.chart.opts.xTitle"
    )
    assert title == "epoch"
    xticks = page.eval_on_selector(
        ".panel[data-spec='train/loss'] .wschart", "el => el.chart.ticks.x"
    )
    assert xticks[0] == "0" and "8" in xticks and all(NUMBER.match(t) for t in xticks)
    # overlay val/acc in the train/loss panel: kept in the URL, both keys drawn
    with page.expect_navigation():
        page.select_option(".panel[data-spec='train/loss'] select.overlay", "val/acc")
    drawn(page)
    assert "wk=train%2Floss%7Cval%2Facc" in page.url
    traces = panel_data(page, "train/loss|val/acc")
    curves = [t for t in traces if not t["meta"].startswith("key:")]
    assert len(curves) == 8
    assert sorted({t["name"].rsplit(" · ", 1)[1] for t in curves}) == ["train/loss", "val/acc"]
    # the legend says which line style is which key
    legend = page.eval_on_selector_all(
        ".panel[data-spec='train/loss|val/acc'] .legendtext", "els => els.map(e => e.textContent)"
    )
    assert legend == ["train/loss", "val/acc"]
    # the other panel is kept; wall time as x
    assert page.locator(".panel[data-spec='val/acc']").count() == 1
    with page.expect_navigation():
        page.select_option("#wx", "wall")
    drawn(page)
    xs = panel_data(page, "val/acc")[0]["x"]
    assert xs[0] == 0 and xs[-1] == 99  # seconds since the run's first point
    shot(page, "ui-workspace-overlay.png")
    # remove a panel
    with page.expect_navigation():
        page.click(".panel[data-spec='val/acc'] .unpanel")
    drawn(page)
    assert page.locator(".panel").count() == 1
    clean(page, wserver)


def test_readable_ticks_and_log_axis_at_decades(open_page, wserver) -> None:
    page = open_page(1440)
    # tiny: an lr between 1e-4 and 5e-4, a loss from 10 down to 3e-3 (four decades)
    page.goto(wserver + "/?project=scales&wk=loss&wk=lr")
    drawn(page)
    ticks = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('.panel')].map(p => "
        "[p.dataset.spec, p.querySelector('.wschart').chart.ticks]))"
    )
    for spec in ("loss", "lr"):
        for t in ticks[spec]["x"] + ticks[spec]["y"]:
            assert NUMBER.match(t), (spec, t)  # no SI prefix ("300µ"), no "k"
    assert any("e-4" in t for t in ticks["lr"]["y"])
    page.check("#ws-logy")
    page.wait_for_function(
        "[...document.querySelectorAll('.wschart')].every(el => el.chart.opts.logY)"
    )
    logs = page.eval_on_selector(".panel[data-spec='loss'] .wschart", "el => el.chart.ticks.y")
    values = [float(t) for t in logs]
    assert len(values) >= 3 and all(
        abs(v - 10 ** round(__import__("math").log10(v))) < 1e-12 for v in values
    ), logs  # decades only, no "9 8 7 ..."
    assert "1e-3" in logs or "0.001" in logs or "0.01" in logs
    shot(page, "ui-workspace-log.png")
    clean(page, wserver)


def test_metrics_picker_chooses_the_panels(open_page, wserver) -> None:
    page = open_page(1440)
    page.goto(wserver + "/?project=vision")
    drawn(page)
    page.click("#wspick summary")
    page.uncheck("#wspick input[value='val/acc']")
    page.check("#wspick input[value='lr']")
    with page.expect_navigation():
        page.click("#wspick .colpick-foot button")
    drawn(page)
    specs = page.eval_on_selector_all(".panel", "els => els.map(e => e.dataset.spec)")
    assert specs == ["train/loss", "lr"] or sorted(specs) == ["lr", "train/loss"]
    assert page.locator("details.wsec[data-section='']").count() == 1  # no prefix: "other"
    clean(page, wserver)


def test_a_page_of_many_runs(open_page, tmp_path) -> None:
    from expbook.store import PointBatch, SQLiteStore

    from .test_ui_fixes_browser import serve

    ids = []
    steps = list(range(100))
    with SQLiteStore(tmp_path / "many") as st:
        for i in range(30):
            rec = st.create_run(
                name=f"sweep-{i:02d}", project="p", status="finished", config={"seed": i}
            )
            st.append_points(
                rec.id, {"loss": PointBatch(steps, [0.0] * 100, [i + s / 100 for s in steps])}
            )
            ids.append(rec.id)
    with serve(tmp_path / "many") as url:
        page = open_page(1440)
        page.goto(url + "/?wk=loss")
        drawn(page)
        traces = panel_data(page, "loss")
        assert sorted(t["meta"] for t in traces) == sorted(ids)
        colours = page.eval_on_selector(".wschart", "el => el.data.map(t => t.line.color)")
        assert len(set(colours)) == 30  # a colour of its own for each run of the page
        # every run's points under its own id: run i's loss is i + step / 100
        for t in traces:
            i = ids.index(t["meta"])
            assert all(abs(yv - (i + xv / 100)) < 1e-6 for xv, yv in zip(t["x"], t["y"]))
        # a table row: the run drawn thick, the others faded
        rid = ids[7]
        page.hover(f"#runs tr[data-id='{rid}'] td.time")
        page.wait_for_function(f"document.getElementById('workspace').dataset.hot === '{rid}'")
        traces = panel_data(page, "loss")
        assert all((t["opacity"] == 1) == (t["meta"] == rid) for t in traces)
        page.mouse.move(5, 5)
        page.wait_for_function("document.getElementById('workspace').dataset.hot === ''")
        # the mouse on a point of another run: its row lights up
        other = ids[20]
        index = [t["meta"] for t in traces].index(other)
        x, y = point_at(page, "loss", index, 50)
        page.mouse.move(x, y)
        page.wait_for_selector(f"#runs tr.hot[data-id='{other}']")
        shot(page, "ui-workspace-many.png")
        clean(page, url)


def test_names_are_shown_as_text_in_the_charts(open_page, tmp_path) -> None:
    from expbook.store import PointBatch, SQLiteStore

    from .test_ui_fixes_browser import serve

    hostile = "<b>bold</b> %{y} <img src=x>"
    with SQLiteStore(tmp_path / "h") as st:
        rec = st.create_run(name=hostile, project="p", status="finished", config={"k": hostile})
        st.append_points(rec.id, {"loss": PointBatch([0, 1, 2], [0.0] * 3, [1.0, 2.0, 3.0])})
    with serve(tmp_path / "h") as url:
        page = open_page(1440)
        page.goto(url + "/?wk=loss")
        drawn(page)
        x, y = point_at(page, "loss", 0, 1)
        page.mouse.move(x, y)
        page.wait_for_selector(".xchart-tip:not([hidden])")
        text = page.eval_on_selector(".xchart-tip", "e => e.textContent")
        assert "<b>bold</b>" in text and "<img src=x>" in text and "%{y}" in text
        assert page.locator(".wschart b, .wschart img").count() == 0
        page.goto(url + "/?wk=loss&group=config.k")
        drawn(page)
        legend = page.eval_on_selector_all(".legendtext", "els => els.map(e => e.textContent)")
        assert legend == [f"config.k = {hostile} (n=1)"]
        assert page.locator(".wschart b, .wschart img").count() == 0
        clean(page, url)


def test_running_runs_refresh_the_panels(open_page, tmp_path) -> None:
    """A running run's curve grows in the workspace without a reload (every 5 s while a run
    of the table is running, as the table's own values)."""
    from expbook.store import PointBatch, SQLiteStore

    from .test_ui_fixes_browser import serve

    with SQLiteStore(tmp_path / "live") as st:
        rec = st.create_run(name="live", project="p", status="running", config={"lr": 0.1})
        st.append_points(rec.id, {"loss": PointBatch(list(range(10)), [0.0] * 10, [1.0] * 10)})
        st.heartbeat([rec.id])
        done = st.create_run(name="done", project="p", status="finished", config={"lr": 0.2})
        st.append_points(done.id, {"loss": PointBatch([0, 1], [0.0] * 2, [2.0, 2.0])})
    with serve(tmp_path / "live") as url:
        page = open_page(1440)
        page.goto(url + "/?wk=loss")
        drawn(page)
        assert page.locator("#runs .status.running").count() == 1
        before = panel_data(page, "loss")
        assert max(max(t["x"]) for t in before) == 9
        with SQLiteStore(tmp_path / "live") as st:
            st.append_points(
                rec.id,
                {"loss": PointBatch(list(range(10, 40)), [1.0] * 30, [0.5] * 30)},
            )
            st.heartbeat([rec.id])
        t0 = time.monotonic()
        page.wait_for_function(
            "document.querySelector('.wschart').data.some(t => t.x[t.x.length - 1] === 39)",
            timeout=20_000,
        )
        assert time.monotonic() - t0 < 20
        after = {t["meta"]: t for t in panel_data(page, "loss")}
        assert after[rec.id]["y"][-1] == 0.5 and after[done.id]["x"] == [0, 1]
        assert int(page.get_attribute("#workspace", "data-refreshed")) >= 1
        shot(page, "ui-workspace-live.png")
        clean(page, url)


def test_tick_choice_of_the_canvas_charts(open_page, wserver) -> None:
    """static/chart.js's ticks: 1, 2 or 5 times a power of ten, at least two labelled,
    written plain or as 3e-4; log axes at decades (two or more in view) or at 1-2-5."""
    page = open_page(1440)
    page.goto(wserver + "/?project=vision")
    drawn(page)

    def linear(lo, hi, target, plain=False):
        return page.evaluate(
            f"() => expbookChart.ticks.linear({lo}, {hi}, {target}, {str(plain).lower()})"
            ".map(t => t.text)"
        )

    def log(lo, hi):
        return page.evaluate(
            f"() => expbookChart.ticks.log({lo}, {hi}, 4).filter(t => t.text).map(t => t.text)"
        )

    assert linear(0.1, 0.95, 4) == ["0.2", "0.4", "0.6", "0.8"]
    assert linear(0.2, 2.5, 4) == ["0.5", "1.0", "1.5", "2.0", "2.5"]
    assert linear(0, 1_000_000, 5, True) == ["0", "200,000", "400,000", "600,000", "800,000",
                                             "1,000,000"]  # fmt: skip
    assert linear(1e-4, 5e-4, 4) == ["1e-4", "2e-4", "3e-4", "4e-4", "5e-4"]
    assert linear(0.31, 0.33, 4) == ["0.310", "0.315", "0.320", "0.325", "0.330"]
    assert log(0.002, 12) == ["0.01", "0.1", "1", "10"]
    assert log(1e-7, 1e-4) == ["1e-7", "1e-6", "1e-5", "1e-4"]
    assert log(0.15, 0.9) == ["0.2", "0.5"]
    clean(page, wserver)
