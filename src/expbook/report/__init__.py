"""Reports and journals rendered from the store into hand-written Markdown.

* :func:`render_file` renders the fenced ```` ```expbook ```` blocks of a document into
  generated regions, fills in inline values (``{{ EXPR | fmt }}``) and writes each claim's
  status (``- [claim ID] `EXPR```), atomically; text outside those places is never changed.
* :func:`check_file` evaluates the claims of a document without writing anything.

Syntax: :mod:`expbook.report.blocks` (block kinds and fields), :mod:`expbook.report.journal`
(functions of inline values and claims), :mod:`expbook.report.document` (markers).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from .blocks import KINDS, Block, BlockError, Context, parse_block, render_block
from .document import Issue, RenderResult, check_document, render_text, write_atomic
from .journal import (
    JOURNAL_FUNCTIONS,
    ClaimResult,
    JournalEnv,
    JournalError,
    claims_table,
    evaluate_claim,
    format_value,
)

__all__ = [
    "JOURNAL_FUNCTIONS",
    "KINDS",
    "Block",
    "BlockError",
    "ClaimResult",
    "Context",
    "Issue",
    "JournalEnv",
    "JournalError",
    "RenderResult",
    "check_document",
    "check_file",
    "claims_table",
    "document_title",
    "evaluate_claim",
    "format_value",
    "parse_block",
    "record_rendering",
    "render_block",
    "render_file",
    "render_text",
    "write_atomic",
]


def _context(
    runs: Sequence[Any] | Callable[[], list[Any]] | Any,
    path: str,
    write_files: bool = True,
    allow_dirs: Sequence[str] = (),
) -> Context:
    """A :class:`Context` from a list of runs, a loader, or a store backend."""
    if callable(runs):
        load = runs
    elif hasattr(runs, "list_runs"):
        from .._views import load_runs

        backend = runs

        def load() -> list[Any]:
            return load_runs(backend)
    else:
        items = list(runs)

        def load() -> list[Any]:
            return items

    stem = os.path.splitext(os.path.basename(path))[0]
    base = os.path.dirname(os.path.abspath(path))
    return Context(load, base, stem, write_files, [os.path.abspath(d) for d in allow_dirs])


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def render_file(
    path: str,
    runs: Any,
    *,
    force: bool = False,
    check: bool = False,
    html: str | None = None,
    allow_dirs: Sequence[str] = (),
) -> RenderResult:
    """Render the document at ``path`` against ``runs`` (a backend, runs, or a loader).

    With ``check`` nothing is written (``result.changed`` says whether the document is out of
    date). Otherwise the file is replaced atomically, and only when its text changes. With
    ``html`` the rendered document is also written there as one self-contained HTML file.
    Blocks and the HTML page read files only inside the document's folder and
    ``allow_dirs``.
    """
    for d in allow_dirs:
        if not os.path.isdir(d):
            raise BlockError(f"--allow-dir {d}: not a folder")
    text = _read(path)
    ctx = _context(runs, path, not check or html is not None, allow_dirs)
    result = render_text(text, ctx, force=force)
    if result.changed and not check:
        write_atomic(path, result.text)
    if html is not None:
        from .html import render_html

        title = document_title(result.text, path)
        page = render_html(result.text, result.figures, ctx.base_dir, title, ctx.allow_dirs)
        write_atomic(html, page)
    return result


def document_title(text: str, path: str) -> str:
    """The document's first ``# `` heading, else its file name without extension."""
    m = re.search(r"^# +(.+?)\s*$", text, flags=re.M)
    return m.group(1) if m else os.path.splitext(os.path.basename(path))[0]


def record_rendering(
    backend: Any, path: str, result: RenderResult, project: str | None = None
) -> str:
    """Keep this rendering of the document at ``path`` in the store (``backend``), where the
    dashboard lists and shows it; returns the report's id."""
    info = {
        "blocks": result.blocks,
        "values": result.values,
        "claims": len(result.claims),
        "failing": len(result.failed_claims),
        "errors": len(result.errors),
    }
    report_id: str = backend.record_report(
        path,
        title=document_title(result.text, path),
        text=result.text,
        figures=result.figures,
        project=project,
        info=info,
    )
    return report_id


def check_file(path: str, runs: Any) -> list[ClaimResult]:
    """The claims of the document at ``path``, evaluated; nothing is written."""
    return check_document(_read(path), _context(runs, path, False))
