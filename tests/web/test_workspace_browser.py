"""The workspace above the runs table in Debian's Chromium (Playwright): panels per metric in
sections, hover highlighting between charts and table, grouped curves with their bands, the
x axis and overlays. Screenshots go to tests/artifacts/."""

# the fixtures come from the issue-13 fixes' module (same store, server and browser)
# ruff: noqa: F811

from __future__ import annotations

from .test_browser import shot
from .test_ui_fixes_browser import (  # noqa: F401  (fixtures)
    clean,
    open_page,
    wbrowser,
    ws,
    wserver,
)
from .workspace_store import LONG_NAME


def drawn(page) -> None:
    page.wait_for_selector("#workspace[data-drawn]", timeout=20_000)
    assert page.get_attribute("#workspace", "data-drawn") != "error", page.inner_text("#ws-status")


def panel_data(page, spec: str) -> list[dict]:
    return page.eval_on_selector(
        f".panel[data-spec='{spec}'] .wschart",
        "el => el.data.map(t => ({meta: t.meta, name: t.name, fill: t.fill || null, "
        "x: Array.from(t.x), y: Array.from(t.y), opacity: t.opacity === undefined ? 1 : t.opacity, "
        "width: t.line.width}))",
    )


def test_panels_per_metric_with_a_curve_per_run(open_page, wserver, ws) -> None:
    ids = ws[1]
    page = open_page(1440)
    page.goto(wserver + "/?project=vision")
    drawn(page)
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
    # a run has the same colour in every panel and in the table's swatch
    colours = page.evaluate(
        "() => Array.from(document.querySelectorAll('.wschart')).map(el => "
        "Object.fromEntries(el.data.map(t => [t.meta, t.line.color])))"
    )
    assert colours[0] == colours[1] and len(set(colours[0].values())) == 4
    rid = ids["vision-2"]
    swatch = page.eval_on_selector(
        f"#runs tr[data-id='{rid}'] .swatch", "e => getComputedStyle(e).backgroundColor"
    )
    assert swatch.replace(" ", "") == colours[0][rid].replace(" ", "")
    # a section folds away
    page.click("details.wsec[data-section='train'] > summary")
    assert not page.is_visible(".panel[data-spec='train/loss']")
    shot(page, "ui-workspace.png")
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
    # the mouse on a curve in a chart: its row lights up
    index = [t["meta"] for t in panel_data(page, "val/acc")].index(rid)
    x, y = page.eval_on_selector(
        ".panel[data-spec='val/acc'] .wschart",
        f"""el => {{ const t = el.data[{index}], L = el._fullLayout,
            r = el.getBoundingClientRect();
          return [r.left + L.xaxis._offset + L.xaxis.l2p(t.x[50]),
                  r.top + L.yaxis._offset + L.yaxis.l2p(t.y[50])]; }}""",
    )
    page.mouse.move(x, y)
    page.wait_for_selector(f"#runs tr.hot[data-id='{rid}']")
    assert page.locator("#runs tr.hot").count() == 1
    clean(page, wserver)


def test_grouping_draws_mean_and_band_per_group(open_page, wserver) -> None:
    page = open_page(1440)
    page.goto(wserver + "/?project=vision&group=config.depth")
    drawn(page)
    traces = panel_data(page, "val/acc")
    means = [t for t in traces if t["name"].endswith("(n=2)")]
    bands = [t for t in traces if t["fill"] == "tonexty"]
    assert sorted(t["name"] for t in means) == [
        "config.depth = 18 (n=2)",
        "config.depth = 50 (n=2)",
    ]
    assert len(bands) == 2 and len(traces) == 6
    for m in means:
        band = next(b for b in bands if b["meta"] == m["meta"])
        assert all(lo <= mu + 1e-9 for lo, mu in zip(band["y"], m["y"]))
        top = traces[traces.index(band) - 1]["y"]  # the band fills up to the trace before
        assert all(mu <= hi + 1e-9 for mu, hi in zip(m["y"], top))
        assert max(h - lo for h, lo in zip(top, band["y"])) > 0.005  # two lr: a real spread
    # the legend names the groups with their run counts; the band is painted
    legend = page.eval_on_selector_all(
        ".panel[data-spec='val/acc'] .legendtext", "els => els.map(e => e.textContent)"
    )
    assert sorted(legend) == ["config.depth = 18 (n=2)", "config.depth = 50 (n=2)"]
    assert page.locator(".panel[data-spec='val/acc'] .js-fill").count() == 2
    # the table's group rows: n and the mean of each numeric column
    row = page.locator("#runs tr.grouprow").first
    assert "n=2" in row.inner_text()
    assert "0.901" in row.inner_text()  # val/acc of depth 18: (0.896 + 0.906) / 2
    # hovering a group row highlights the group's curves
    row.hover()
    page.wait_for_function("document.getElementById('workspace').dataset.hot.startsWith('g:')")
    shot(page, "ui-workspace-groups.png")
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
        ".panel[data-spec='train/loss'] .wschart", "el => el.layout.xaxis.title.text"
    )
    assert title == "epoch"
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


def test_a_page_of_many_runs_is_drawn_in_few_traces(open_page, tmp_path) -> None:
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
        traces = page.eval_on_selector(
            ".panel[data-spec='loss'] .wschart",
            "el => el.data.map(t => ({owners: t.owners || null, meta: t.meta, "
            "x: Array.from(t.x), y: Array.from(t.y)}))",
        )
        classes = [t for t in traces if t["owners"]]
        assert 2 <= len(classes) <= 24 and traces[-1]["meta"] == "hot"
        owners = [o for t in classes for o in t["owners"] if o]
        assert sorted(set(owners)) == sorted(ids) and len(owners) == 30 * 100
        # every run's points under its own name: run i's loss is i + step / 100
        for t in classes:
            for o, xv, yv in zip(t["owners"], t["x"], t["y"]):
                if o:
                    assert abs(yv - (ids.index(o) + xv / 100)) < 1e-6
        # a table row: the run drawn again on top
        rid = ids[7]
        page.hover(f"#runs tr[data-id='{rid}'] td.time")
        page.wait_for_function(
            f"document.querySelector('.wschart').data.at(-1).meta === 'hot:{rid}'"
        )
        hot = page.eval_on_selector(".wschart", "el => Array.from(el.data.at(-1).y)")
        assert len(hot) == 100 and abs(hot[0] - 7) < 1e-9
        page.mouse.move(5, 5)
        page.wait_for_function("document.getElementById('workspace').dataset.hot === ''")
        # the mouse on a point of another run: its row lights up
        other = ids[20]
        ci = next(i for i, t in enumerate(classes) if other in t["owners"])
        pi = classes[ci]["owners"].index(other) + 50
        x, y = page.eval_on_selector(
            ".wschart",
            f"""el => {{ el.scrollIntoView(); const t = el.data[{ci}], L = el._fullLayout,
                r = el.getBoundingClientRect();
              return [r.left + L.xaxis._offset + L.xaxis.l2p(t.x[{pi}]),
                      r.top + L.yaxis._offset + L.yaxis.l2p(t.y[{pi}])]; }}""",
        )
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
        x, y = page.eval_on_selector(
            ".wschart",
            """el => { const t = el.data[0], L = el._fullLayout, r = el.getBoundingClientRect();
              return [r.left + L.xaxis._offset + L.xaxis.l2p(t.x[1]),
                      r.top + L.yaxis._offset + L.yaxis.l2p(t.y[1])]; }""",
        )
        page.mouse.move(x, y)
        page.wait_for_selector(".hoverlayer .hovertext")
        text = page.eval_on_selector(".hoverlayer .hovertext", "e => e.textContent")
        assert "<b>bold</b>" in text and "<img src=x>" in text and "%" in text
        assert page.locator(".wschart b, .wschart img").count() == 0
        page.goto(url + "/?wk=loss&group=config.k")
        drawn(page)
        legend = page.eval_on_selector_all(".legendtext", "els => els.map(e => e.textContent)")
        assert legend == [f"config.k = {hostile} (n=1)".replace("%{", "%\u200b{")]
        clean(page, url)
