"""``--html``: one self-contained file; opened in headless Chromium the plots are drawn, the
console stays quiet and no request leaves the page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from expbook.analysis import MemoryRun
from expbook.report import render_file

DOC = """# Curves report

Best: {{ best(b, loss) | .3f }}.

```expbook
plot: {metric: loss, log_y: true, smooth: 0.3, title: Loss}
```

```expbook
bar: {metric: loss}
```

```expbook
leaderboard: loss
```

```expbook
scatter: {files: preds.csv, title: Predicted vs true}
```
"""

# hosts Chromium itself talks to (updates, time); anything else came from the page
BROWSER_HOSTS = (".google.com", ".googleapis.com", ".gvt1.com")


def runs() -> list[MemoryRun]:
    return [
        MemoryRun(
            name,
            series={"loss": [(s, final * (1 + 100 / s)) for s in range(1, 10_001)]},
        )
        for name, final in (("a", 0.5), ("b", 0.1), ("c", 0.02))
    ]


@pytest.fixture
def page(tmp_path: Path) -> Path:
    import matplotlib  # noqa: F401  (a hard requirement: CI installs expbook[report])
    import plotly  # noqa: F401  (a hard requirement: CI installs expbook[report])

    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    (tmp_path / "preds.csv").write_text(
        "y_true,y_pred\n" + "".join(f"{i},{i + (i % 3 - 1) * 0.5}\n" for i in range(50))
    )
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    res = render_file(str(doc), runs(), html=str(out))
    assert not res.errors, res.issues
    return out


def test_html_is_self_contained(page: Path) -> None:
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>Curves report</title>" in text
    assert text.count('class="expbook-plot"') == 3
    assert "<table>" in text and "Best: 0.101." in text
    assert "<p><div" not in text and '<details class="expbook-source">' in text
    # no external resource is referenced: every src/href is local data or an anchor
    for url in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert url.startswith(("data:", "#")), url
    assert page.stat().st_size < 5_000_000


def test_html_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser is not None, "Debian's chromium is required (installed by .ci/run)"
    netlog = tmp_path / "net.json"
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-default-apps",
            "--virtual-time-budget=15000",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={netlog}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = re.search(r"<body[^>]*>", proc.stdout)
    assert body, proc.stderr[-2000:]
    assert 'data-plots="3"' in body.group(0), body.group(0)
    assert "data-plot-error" not in body.group(0)
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == []
    if netlog.exists():
        urls = set(re.findall(r'"url":"([^"]*)"', netlog.read_text(errors="replace")))
        for url in urls:
            host = urlparse(url).hostname or ""
            if url.startswith(("http:", "https:", "ws:", "wss:")):
                assert host.endswith(BROWSER_HOSTS), url
