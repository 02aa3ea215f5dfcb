"""One self-contained HTML file from a rendered document (``expbook report --html OUT``).

The Markdown (as rendered, regions included) becomes HTML with markdown-it; each plot
region becomes an interactive plotly chart. plotly.js (from the ``plotly`` package) and the
figures are embedded gzip-compressed and base64-encoded, unpacked in the page with the
browser's ``DecompressionStream``: the file works offline and no request leaves the page.
Without the ``plotly`` package the figures are embedded as PNG images instead. Other local
images the document links (inside its folder) are embedded as ``data:`` URIs. A
Content-Security-Policy lets no request leave the page and no script run but its own.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import math
import os
import re
from typing import Any

__all__ = [
    "HTML_POINTS",
    "claim_mark",
    "content_security_policy",
    "escape_html",
    "figure_json",
    "markdown_body",
    "readable_axis",
    "render_html",
]

HTML_POINTS = 1000  # points per series drawn in the HTML (min/max kept per bucket)
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # a local image the page embeds

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:110rem;
margin:2rem auto;padding:0 2rem;color:#1f2328}
p,li,h1,h2,h3,h4,h5,h6,blockquote,dl{max-width:90ch}
table{border-collapse:collapse;margin:1rem 0;font-size:13px;display:block;overflow-x:auto;
max-width:100%;width:max-content}
.expbook-claim{font-weight:600}.expbook-claim.pass{color:#1a7f37}
.expbook-claim.fail{color:#cf222e}.expbook-claim.warn{color:#9a6700}
.expbook-mark{vertical-align:-2px}
th,td{border:1px solid #d0d7de;padding:3px 8px}th{background:#f6f8fa}
tr:nth-child(2n) td{background:#fbfcfd}code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
pre{background:#f6f8fa;padding:.8rem;overflow-x:auto}img{max-width:100%}
.expbook-plot{width:100%;height:420px}details.expbook-source summary{color:#8c959f;
font-size:12px;cursor:pointer}blockquote{color:#9a3412;border-left:4px solid #f97316;
margin:0;padding:0 1rem}
"""

_SCRIPT = """
(async () => {
  async function unpack(id) {
    const b = atob(document.getElementById(id).textContent.trim());
    const u = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
    const s = new Blob([u]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(s).text();
  }
  const els = document.querySelectorAll(".expbook-plot");
  if (!els.length) return;
  const lib = new Blob([await unpack("expbook-plotly")], {type: "text/javascript"});
  await new Promise((ok, fail) => {
    const s = document.createElement("script");
    s.src = URL.createObjectURL(lib);
    s.onload = ok;
    s.onerror = () => fail(new Error("plotly.js did not load"));
    document.head.appendChild(s);
  });
  const figs = JSON.parse(await unpack("expbook-figures"));
  for (const el of els) {
    const f = figs[el.dataset.fig];
    if (f) await Plotly.newPlot(el, f.data, f.layout, {responsive: true, displaylogo: false});
  }
  document.body.dataset.plots = String([...els].filter(e => e.querySelector(".main-svg")).length);
})().catch(e => { console.error(e); document.body.dataset.plotError = String(e); });
"""


def _num(v: float) -> float | None:
    if v != v or math.isinf(v):
        return None
    return float(f"{v:.6g}")


_MINOR = {"dtick": "D1", "ticks": "outside", "ticklen": 3, "showgrid": True, "gridcolor": "#f1f3f6"}


def readable_axis(axis: dict[str, Any], values: Any, log: bool = False) -> dict[str, Any]:
    """``axis`` (a plotly layout axis) with readable ticks, changed in place and returned.

    Plain decimals or scientific notation (``3e-4``), never SI prefixes (``300µ``). A log
    axis whose ``values`` hold two decades or more is labelled at its decades only, with
    unlabelled minor ticks between; a narrower one at 1, 2 and 5 times a power of ten
    (0.05, 0.1, 0.2), or, narrower still, at plain values: never lone mantissa digits. The
    dashboard's charts do the same in the browser (``readableAxis`` in ``web/static/app.js``).
    """
    axis.setdefault("exponentformat", "e")
    if not log:
        return axis
    axis["type"] = "log"
    pos = [v for v in values if isinstance(v, (int, float)) and v > 0 and math.isfinite(v)]
    if not pos:
        return axis
    a, b = math.log10(min(pos)) - 1e-9, math.log10(max(pos)) + 1e-9
    decades = marks = 0
    for k in range(math.floor(a), math.ceil(b) + 1):
        for m in (1, 2, 5):
            if a <= k + math.log10(m) <= b:
                marks += 1
                decades += m == 1
    if decades >= 2:
        axis.update(tickmode="linear", tick0=0, dtick=1, ticks="outside", ticklen=6)
        axis["minor"] = dict(_MINOR)
    elif marks >= 2:
        axis.update(tickmode="linear", tick0=0, dtick="D2", tickformat="~g", ticks="outside")
        axis["minor"] = dict(_MINOR)
    else:
        axis["tickformat"] = "~g"
    return axis


def _readable(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    for name in ("xaxis", "yaxis"):
        axis = layout.setdefault(name, {})
        values = [v for t in data for v in (t.get(name[0]) or ())]
        readable_axis(axis, values, axis.get("type") == "log")
    return layout


def figure_json(kind: str, series: list[tuple[str, list[float], list[float]]], **opt: Any):
    """A plotly figure (data and layout) for a ``plot`` or ``bar`` block, with readable
    axes (:func:`readable_axis`)."""
    fig = _figure_json(kind, series, **opt)
    _readable(fig["data"], fig["layout"])
    return fig


def _figure_json(kind: str, series: list[tuple[str, list[float], list[float]]], **opt: Any):
    from .plots import _ema, downsample

    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 40 if opt.get("title") else 20, "b": 50},
        "legend": {"font": {"size": 10}},
    }
    if opt.get("title"):
        layout["title"] = {"text": opt["title"]}
    data: list[dict[str, Any]] = []
    if kind == "bar":
        names = [s[0] for s in series][::-1]
        vals = [_num(s[2][0]) for s in series][::-1]
        data.append({"type": "bar", "orientation": "h", "y": names, "x": vals})
        layout["xaxis"] = {"title": {"text": opt.get("xlabel", "")}}
        if opt.get("log_x"):
            layout["xaxis"]["type"] = "log"
        layout["margin"]["l"] = 200
        return {"data": data, "layout": layout}
    if kind == "scatter":
        for name, xs, ys in series:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": name,
                    "x": [_num(x) for x in xs],
                    "y": [_num(y) for y in ys],
                    "marker": {"size": 5, "opacity": 0.6},
                }
            )
        finite = [v for _, xs, ys in series for v in (*xs, *ys) if v == v and not math.isinf(v)]
        if finite:
            lo, hi = min(finite), max(finite)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "y = x",
                    "x": [lo, hi],
                    "y": [lo, hi],
                    "line": {"dash": "dash", "color": "gray", "width": 1},
                }
            )
        layout["xaxis"] = {"title": {"text": "true"}}
        layout["yaxis"] = {"title": {"text": "predicted"}}
        return {"data": data, "layout": layout}
    smooth = opt.get("smooth") or 0
    for name, xs, ys in series:
        xs, ys = downsample(xs, ys, HTML_POINTS)
        if smooth:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{name} (raw)",
                    "x": [_num(x) for x in xs],
                    "y": [_num(y) for y in ys],
                    "opacity": 0.3,
                    "showlegend": False,
                    "line": {"width": 1},
                }
            )
            ys = _ema(ys, smooth)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": [_num(x) for x in xs],
                "y": [_num(y) for y in ys],
            }
        )
    layout["xaxis"] = {
        "title": {"text": "step"},
        "type": "log" if opt.get("log_x") else "linear",
        "exponentformat": "none",  # steps in plain digits: 1,000,000
        "separatethousands": True,
    }
    layout["yaxis"] = {
        "title": {"text": opt.get("ylabel", "")},
        "type": "log" if opt.get("log_y") else "linear",
    }
    return {"data": data, "layout": layout}


def _pack(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def _plotly_js() -> bytes | None:
    try:
        import plotly
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


_IMG_RE = re.compile(r'<img src="([^"]+)" alt="([^"]*)"\s*/?>')

# Claim marks: inline SVG with its own colours and a text alternative (an emoji needs a
# font that, e.g., Debian's Chromium lacks: it shows an empty box). The Markdown keeps the
# emoji; the HTML gets these, wrapping the status in a span of the mark's colour.
_MARK_SVG = {
    "pass": (
        "claim holds",
        '<circle cx="8" cy="8" r="8" fill="#1a7f37"/><path d="M4.4 8.3l2.4 2.4 4.8-5"'
        ' fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round"'
        ' stroke-linejoin="round"/>',
    ),
    "fail": (
        "claim fails",
        '<circle cx="8" cy="8" r="8" fill="#cf222e"/><path d="M5.2 5.2l5.6 5.6M10.8 5.2l-5.6'
        ' 5.6" stroke="#fff" stroke-width="2" stroke-linecap="round"/>',
    ),
    "warn": (
        "cannot evaluate",
        '<path d="M8 .8l7.6 14.2H.4z" fill="#bf8700"/><path d="M8 5.6v4.6" stroke="#fff"'
        ' stroke-width="1.9" stroke-linecap="round"/><circle cx="8" cy="12.5" r="1.1"'
        ' fill="#fff"/>',
    ),
}
_EMOJI_KIND = {"\u2705": "pass", "\u274c": "fail", "\u26a0": "warn"}
# private-use characters hold a mark's place through markdown-it (and are removed from the
# document first, so its text cannot forge one)
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_PRIVATE_RE = re.compile("[\ue000\ue001]")
_CLAIM_RE = re.compile(r"<!--expbook:claim-->(.*?)<!--/expbook:claim-->", re.S)
_VALUE_RE = re.compile(r'<span data-expbook="[^"]*">(.*?)</span>')
_LEAD_RE = re.compile("^(\u2705|\u274c|\u26a0)\ufe0f? ?")
_PLACED_RE = re.compile(_MARK_OPEN + "(pass|fail|warn)" + _MARK_OPEN + "(.*?)" + _MARK_CLOSE)


def claim_mark(kind: str) -> str:
    """The inline SVG of a claim mark: ``pass``, ``fail`` or ``warn``."""
    label, shapes = _MARK_SVG[kind]
    return (
        f'<svg class="expbook-mark" viewBox="0 0 16 16" width="14" height="14" role="img"'
        f' aria-label="{label}"><title>{label}</title>{shapes}</svg>'
    )


def _place_mark(status: str) -> str:
    """A status beginning with a mark's emoji, as placeholders markdown-it leaves alone."""
    m = _LEAD_RE.match(status)
    if m is None:
        return status
    kind = _EMOJI_KIND[m.group(1)]
    return f"{_MARK_OPEN}{kind}{_MARK_OPEN}{status[m.end() :]}{_MARK_CLOSE}"


def _draw_marks(body: str) -> str:
    def mark(m: re.Match[str]) -> str:
        kind = m.group(1)
        return f'<span class="expbook-claim {kind}">{claim_mark(kind)} {m.group(2)}</span>'

    return _PRIVATE_RE.sub("", _PLACED_RE.sub(mark, body))


def escape_html(text: str) -> str:
    """``text`` with ``& < >`` as character references: data (run names, tags, config values,
    messages) written into Markdown or HTML never becomes markup. The Markdown of generated
    regions, claim statuses and inline values goes through here."""
    return html.escape(text, quote=False)


def markdown_body(
    text: str,
    figures: dict[str, Any],
    base_dir: str | None,
    *,
    with_plots: bool = True,
    allow_dirs: tuple[str, ...] | list[str] = (),
) -> tuple[str, dict[str, Any]]:
    """The HTML body of the rendered Markdown ``text``, and the figures it draws.

    The dashboard and ``expbook report --html`` both show a document through here: raw HTML
    in the Markdown is not passed through but shown as text (HTML comments, the region
    markers among them, are dropped; an inline value's span keeps only its value), and
    markdown-it refuses ``javascript:`` and similar links.

    An image of a plot region becomes ``<div class="expbook-plot" data-fig=ID>`` when its
    figure is in ``figures`` (and ``with_plots``). Other images: with ``base_dir`` (the HTML
    page) a local image inside ``base_dir`` or ``allow_dirs`` (a regular file, size-capped)
    is embedded as a ``data:`` URI; with ``base_dir=None`` (the dashboard, which reads
    nothing but the store), and for anything else, the image becomes its alt text, so the
    page loads nothing from elsewhere.
    """
    from markdown_it import MarkdownIt

    text = _PRIVATE_RE.sub("", text)
    # claim statuses and inline values that failed: their mark drawn, not an emoji
    text = _CLAIM_RE.sub(lambda m: _place_mark(m.group(1)), text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    # inline values: keep the value (already escaped), drop the span carrying the source
    text = _VALUE_RE.sub(lambda m: _place_mark(m.group(1)), text)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    body = _draw_marks(body)
    used: dict[str, Any] = {}

    def image(m: re.Match[str]) -> str:
        src, alt = html.unescape(m.group(1)), m.group(2)
        stem = os.path.basename(src).split("-", 1)[0]
        if with_plots and stem in figures:
            used[stem] = figures[stem]
            return f'<div class="expbook-plot" data-fig="{html.escape(stem)}"></div>'
        plain = f'<span class="image-alt">[image: {alt}]</span>'
        if base_dir is None or ":" in src.split("/", 1)[0]:
            return plain
        from .blocks import BlockError, safe_file

        try:
            path = safe_file(src, base_dir, allow_dirs)
        except BlockError:
            return plain
        lower = path.lower()
        mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(
            os.path.splitext(lower)[1], "image/svg+xml" if lower.endswith(".svg") else ""
        )
        if not mime:
            return plain
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            return plain
        payload = base64.b64encode(data).decode("ascii")
        return f'<img src="data:{mime};base64,{payload}" alt="{alt}">'

    body = _IMG_RE.sub(image, body)
    body = re.sub(r"<p>(<div class=\"expbook-plot\"[^>]*></div>)</p>", r"\1", body)
    body = re.sub(
        r'(<pre><code class="language-expbook">.*?</code></pre>)',
        r'<details class="expbook-source"><summary>block</summary>\1</details>',
        body,
        flags=re.S,
    )
    return body, used


def content_security_policy() -> str:
    """The page's policy: no request leaves it, and the only script that runs is its own
    loader (by hash), plus plotly.js, which the loader adds ('strict-dynamic')."""
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    return (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}' 'strict-dynamic'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def render_html(
    text: str,
    figures: dict[str, Any],
    base_dir: str,
    title: str,
    allow_dirs: tuple[str, ...] | list[str] = (),
) -> str:
    """The self-contained HTML page of the rendered Markdown ``text`` (see
    :func:`markdown_body` and :func:`content_security_policy`)."""
    lib = _plotly_js() if figures else None
    body, used = markdown_body(
        text, figures, base_dir, with_plots=lib is not None, allow_dirs=allow_dirs
    )
    csp = html.escape(content_security_policy())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        body,
    ]
    if used and lib is not None:
        figs = json.dumps(used, separators=(",", ":"), allow_nan=False).encode()
        parts.append(
            f'<script id="expbook-plotly" type="application/octet-stream">{_pack(lib)}</script>'
        )
        parts.append(
            f'<script id="expbook-figures" type="application/octet-stream">{_pack(figs)}</script>'
        )
        parts.append(f"<script>{_SCRIPT}</script>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
