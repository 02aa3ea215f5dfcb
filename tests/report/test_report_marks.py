"""Claim marks in HTML (``expbook report --html`` and the dashboard's report page): inline
SVG with their own colours and a text alternative, not emoji (Debian's Chromium has no emoji
font and shows empty boxes)."""

from __future__ import annotations

import re
from pathlib import Path

from expbook.analysis import MemoryRun
from expbook.report import render_file
from expbook.report.html import markdown_body

DOC = """# Marks

- [claim good] `final(a, loss) < 1`
- [claim bad] `final(a, loss) > 1`
- [claim broken] `final(nope, loss) < 1`

A value that cannot be had: {{ final(nope, loss) }}.

Prose that names the marks, ✅ and ❌, and a forged one: \ue000pass\ue000x\ue001, stays prose.

```python
print("✅ in code stays as written")
```
"""

EMOJI = re.compile("[\u2705\u274c\u26a0]")


def runs() -> list[MemoryRun]:
    return [MemoryRun("a", series={"loss": [(s, 1 / s) for s in range(1, 20)]})]


def marks(html: str) -> list[tuple[str, str, str]]:
    """(kind, svg label, status text) of each drawn mark."""
    return re.findall(
        r'<span class="expbook-claim (\w+)"><svg class="expbook-mark"[^>]* role="img"'
        r' aria-label="([^"]+)"><title>[^<]+</title>.*?</svg> ([^<]*)</span>',
        html,
    )


def test_report_html_draws_claim_marks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(DOC, encoding="utf-8")
    out = tmp_path / "doc.html"
    res = render_file(str(doc), runs(), html=str(out))
    assert [c.status for c in res.claims] == ["holds", "fails", "error"]
    md = doc.read_text(encoding="utf-8")
    assert "✅ holds" in md and "❌ fails" in md  # the Markdown keeps its emoji
    html = out.read_text(encoding="utf-8")
    got = marks(html)
    assert [(k, label) for k, label, _ in got] == [
        ("pass", "claim holds"),
        ("fail", "claim fails"),
        ("warn", "cannot evaluate"),
        ("warn", "cannot evaluate"),  # the inline value that failed
    ]
    assert got[0][2].startswith("holds (0.05") and got[1][2].startswith("fails (0.05")
    # each mark has its colour: green, red, amber
    svgs = re.findall(r'<svg class="expbook-mark".*?</svg>', html)
    assert all(['fill="#1a7f37"' in svgs[0], 'fill="#cf222e"' in svgs[1]])
    assert 'fill="#bf8700"' in svgs[2] and ".expbook-claim.fail{color:#cf222e}" in html
    # no mark left as an emoji, but prose and code keep theirs; a forged placeholder is gone
    body = html.split("<body>")[1]
    claims = body.split("<ul>")[1].split("</ul>")[0]
    assert not EMOJI.search(claims)
    assert "names the marks, ✅ and ❌" in body and "✅ in code stays" in body
    assert "\ue000" not in html and "\ue001" not in html
    assert "a forged one: passx, stays prose" in body


def test_the_cli_writes_the_marks(tmp_path: Path) -> None:
    from expbook.cli import main
    from expbook.store import PointBatch, SQLiteStore

    store = tmp_path / "store"
    with SQLiteStore(store) as st:
        rid = st.create_run(name="a", project="p", status="finished").id
        st.append_points(rid, {"loss": PointBatch([1, 2], [0.0, 1.0], [0.5, 0.25])})
    doc = tmp_path / "doc.md"
    doc.write_text("- [claim c] `final(a, loss) > 1`\n", encoding="utf-8")
    out = tmp_path / "doc.html"
    code = main(["report", str(doc), "--store", str(store), "--html", str(out)])
    assert code == 0 and out.exists()
    html = out.read_text(encoding="utf-8")
    assert [(k, t) for k, _, t in marks(html)] == [("fail", "fails (0.25)")]
    assert not EMOJI.search(html.split("<body>")[1])


def test_the_dashboard_body_draws_marks_too() -> None:
    text = "- [claim c] `x` <!--expbook:claim-->✅ holds (1)<!--/expbook:claim-->\n"
    body, _ = markdown_body(text, {}, None)
    assert [(k, t) for k, _, t in marks(body)] == [("pass", "holds (1)")]
