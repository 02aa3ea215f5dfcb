"""The report block ``media: {runs: RUN, key: KEY, step: last}``: a logged image (or other
media object) of each selected run at a step, in Markdown.

Images are copied next to the document (``<doc>_files/<block id>-<digest><ext>``) and
embedded as ``![caption](path)`` (``--html`` inlines them); tables, plot tables and
histograms become Markdown tables; audio, video and HTML become links to their copies."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

MAX_RUNS = 20  # runs one media block shows
MAX_ROWS = 50  # rows of a logged table shown


def render_media(block: Any, runs: Sequence[Any], ctx: Any, bid: str) -> str:
    """The Markdown of a ``media`` block over ``runs`` (raises BlockError)."""
    from ..report.blocks import BlockError

    key = str(block.fields["key"])
    want = block.fields.get("step", "last")
    if not (want in ("last", "first") or (isinstance(want, int) and not isinstance(want, bool))):
        raise BlockError(f"media: step must be last, first or a step number, not {want!r}")
    parts = []
    found = False
    for run in list(runs)[:MAX_RUNS]:
        backend = getattr(run, "_backend", None)
        if backend is None or not hasattr(backend, "read_media"):
            raise BlockError("media: the runs' store is not known")
        rows = backend.read_media(run.id, key)
        if not rows:
            continue
        steps = sorted({r["step"] for r in rows})
        if want == "last":
            step = steps[-1]
        elif want == "first":
            step = steps[0]
        else:
            below = [s for s in steps if s <= want]
            if not below:
                parts.append(f"*{_plain(run.name)}: no {_plain(key)} at or before step {want}*")
                continue
            step = below[-1]
        found = True
        items = [r for r in rows if r["step"] == step]
        head = f"*{_plain(run.name)} · {_plain(key)} · step {step}*"
        body = [_one(item, backend, ctx, bid, run.name, key, step) for item in items]
        parts.append(head + "\n\n" + "\n\n".join(body))
    if not found:
        names = sorted({k["key"] for r in runs for k in _keys(r)})
        close = [n for n in names if n.lower().startswith(key.lower()[:3])][:3]
        hint = f" (media keys: {', '.join(close or names[:5])})" if names else ""
        raise BlockError(f"media: no selected run logged media {key!r}{hint}")
    return "\n\n".join(parts)


def _keys(run: Any) -> list[dict[str, Any]]:
    backend = getattr(run, "_backend", None)
    return backend.media_keys(run.id) if backend is not None else []


def _plain(s: Any) -> str:
    """Text that cannot open Markdown syntax (brackets, emphasis, tables)."""
    return re.sub(r"([\[\]()*_`|\\!])", r"\\\1", str(s)).replace("\n", " ")


def _one(
    item: dict[str, Any], backend: Any, ctx: Any, bid: str, run: str, key: str, step: int
) -> str:
    from ..analysis.table import Table

    src = os.path.join(backend.files_dir, item["path"])
    meta = item["meta"]
    typ = item["type"]
    if typ in ("table", "plot"):
        import json

        try:
            with open(src, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return f"*{_plain(key)}: the file of this table is missing*"
        data = doc.get("data") or []
        t = Table([str(c) for c in doc.get("columns") or []], [list(r) for r in data[:MAX_ROWS]])
        note = f"\n\n*first {MAX_ROWS} of {len(data)} rows*" if len(data) > MAX_ROWS else ""
        return t.to_markdown() + note
    if typ == "histogram":
        bins, counts = meta.get("bins") or [], meta.get("counts") or []
        t = Table(
            ["from", "to", "count"],
            [[bins[i], bins[i + 1], counts[i]] for i in range(min(len(counts), len(bins) - 1))],
        )
        return t.to_markdown()
    caption = meta.get("caption") or f"{run} {key} step {step}"
    ext = os.path.splitext(item["path"])[1]
    digest = os.path.basename(item["path"])[:10]
    folder_name = f"{ctx.doc_stem}_files"
    name = f"{bid}-{digest}{ext}"
    if ctx.write_files:
        dest = os.path.join(ctx.base_dir, folder_name, name)
        if not os.path.exists(dest):
            from ._files import copy_out

            if not os.path.isfile(src):
                return f"*{_plain(key)}: the file of step {step} is missing*"
            copy_out(src, dest + ".tmp")
            os.replace(dest + ".tmp", dest)
    if typ == "image" or ext == ".gif":
        return f"![{_plain(caption)}]({folder_name}/{name})"
    return f"[{_plain(caption)} ({typ})]({folder_name}/{name})"
