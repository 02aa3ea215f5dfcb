"""``expbook report --html`` over runs whose names, tags and config values are script
payloads, opened in headless Chromium (Playwright, Debian's /usr/bin/chromium): no payload
runs, even when every link is clicked and every <details> opened, and plotly still draws
every plot under the page's Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright import sync_api

from expbook.analysis import MemoryRun
from expbook.report import render_file

# each sets window.__xss (or the title) when it runs
PAYLOADS = [
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "<svg onload=\"window.__xss='svg'\">",
    "<details open ontoggle=\"window.__xss='details'\">x</details>",
    "</script><script>window.__xss='close-script'</script>",
    "<a href=\"javascript:window.__xss='a-href'\">link</a>",
    "[md-link](javascript:window.__xss='md-link')",
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
    '"><img src=x onerror="document.title=\'pwned\'">',
    "<style>@import 'javascript:window.__xss=1'</style>",
]

DOC = """# Payload report

Config of the first run: {{ config(`%(first)s`, opt) }}.

```expbook
leaderboard: {metric: loss, params: [opt], columns: [tags]}
```

```expbook
runs: {params: [opt, note]}
```

```expbook
plot: {metric: loss}
```

```expbook
bar: {metric: loss}
```

```expbook
compare: {runs: ['*']}
```

- [claim c1] ``config(`%(first)s`, opt)``
- [claim c2] ``final(`%(first)s`, loss) < 100``
"""


def payload_runs() -> list[MemoryRun]:
    return [
        MemoryRun(
            f"run{i} {p}",
            series={"loss": [(s, (i + 1) / s) for s in range(1, 50)]},
            config={"opt": PAYLOADS[(i + 1) % len(PAYLOADS)], "note": p},
            tags=[PAYLOADS[(i + 2) % len(PAYLOADS)]],
        )
        for i, p in enumerate(PAYLOADS)
    ]


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    runs = payload_runs()
    doc = tmp_path / "doc.md"
    first = runs[0].name.replace("`", "``")
    doc.write_text(DOC % {"first": first})
    out = tmp_path / "doc.html"
    res = render_file(str(doc), runs, html=str(out))
    assert not res.errors, res.issues
    return out


def test_no_payload_runs_and_plots_still_draw(page_file: Path, chromium_launch) -> None:
    text = page_file.read_text()
    assert "window.__xss" in text  # the payloads are in the page, as text
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(**chromium_launch)
        try:
            page = browser.new_page()
            page.add_init_script(
                "window.__csp = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_function(
                "() => document.body.dataset.plots !== undefined", timeout=30_000
            )
            assert page.evaluate("document.body.dataset.plotError") is None
            # both plots drawn by plotly: SVG with one trace per run / one bar per run
            assert page.evaluate("document.body.dataset.plots") == "2"
            assert page.locator(".expbook-plot .main-svg").count() >= 2
            traces = page.evaluate(
                "[...document.querySelectorAll('.expbook-plot')].map(e => e.data.length)"
            )
            assert traces == [len(PAYLOADS), 1]
            assert page.evaluate("window.__xss") is None
            assert page.title() == "Payload report"
            # the payloads are shown as text
            assert page.locator("td", has_text="<svg onload=").count() > 0
            # open every <details>, click every link: still nothing runs
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            links = page.locator("a").all()
            assert links  # plotly turns <a> in a legend into a link without its href
            for link in links:
                link.dispatch_event("click")
            hrefs = page.evaluate(
                "[...document.querySelectorAll('a')].map(a => a.getAttribute('href')"
                " || a.getAttribute('xlink:href'))"
            )
            assert not [h for h in hrefs if h and "javascript" in h.lower()], hrefs
            page.wait_for_timeout(300)
            assert page.evaluate("window.__xss") is None
            assert page.title() == "Payload report"
            assert page.evaluate("window.__csp") == []
            assert errors == []
        finally:
            browser.close()
