"""Rendering a Markdown document: generated regions, inline values and claim statuses.

What the renderer changes, and nothing else:

* after each fenced ```` ```expbook ```` block, a *region*::

      <!-- expbook:begin id=ID hash=HASH -->
      ...generated Markdown...
      <!-- expbook:end -->

  replaced in place on every render (a missing region is inserted right after the block,
  after one blank line). ``HASH`` is a digest of the generated text: a region whose text no
  longer matches it was edited by hand, and is left alone (and reported) unless ``force``.
  A region that follows no block (its block was deleted) is removed when unedited.
* inline values: ``{{ EXPR | fmt }}`` in prose becomes
  ``<span data-expbook="EXPR | fmt">VALUE</span>`` (the source stays in the attribute, so
  rendering again recomputes VALUE in place; a span, unlike an HTML comment, never starts an
  HTML block when it opens a line). Inside code spans and fences nothing is rendered.
* claims: after the expression of a ``- [claim ID] `EXPR``` line, the status between
  ``<!--expbook:claim-->`` and ``<!--/expbook:claim-->``.

Rendering is a pure function of the document and the store: unchanged data gives the same
bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

from ..expr import ExprError
from .blocks import BlockError, Context, parse_block, render_block
from .html import escape_html
from .journal import ClaimResult, JournalError, compile_journal, evaluate_claim, format_value

__all__ = ["Issue", "RenderResult", "check_document", "render_text", "write_atomic"]

FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
BEGIN_RE = re.compile(r"^<!-- expbook:begin(?: id=(\S*))?(?: hash=([0-9a-f]*))? -->\s*$")
END_RE = re.compile(r"^<!-- expbook:end -->\s*$")
CLAIM_RE = re.compile(r"^(\s*[-*+]\s+\[claim\s+([^\]\s]+)\]\s+)(`+)(.+?)\3(.*)$")
STATUS_RE = re.compile(r" ?<!--expbook:claim-->.*?<!--/expbook:claim-->")
INLINE_RE = re.compile(r'<span data-expbook="([^"]*)">(.*?)</span>|\{\{(.*?)\}\}')
CODE_RE = re.compile(r"(`+)(.+?)\1")


@dataclass
class Issue:
    """Something the user should know: ``level`` is ``error`` or ``note``."""

    level: str
    line: int
    what: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}: {self.message}"


@dataclass
class RenderResult:
    """The rendered text and what happened on the way."""

    text: str
    changed: bool
    blocks: int = 0
    values: int = 0
    claims: list[ClaimResult] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # block id -> plotly figure

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def failed_claims(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.status == "fails"]

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "blocks": self.blocks,
            "values": self.values,
            "claims": [c.to_jsonable() for c in self.claims],
            "issues": [
                {"level": i.level, "line": i.line, "what": i.what, "message": i.message}
                for i in self.issues
            ],
        }


def digest(body: str) -> str:
    """The hash stored in a begin marker (line endings normalized)."""
    return hashlib.sha256(body.replace("\r\n", "\n").encode()).hexdigest()[:12]


def _block_id(source: str) -> str:
    return "b" + hashlib.sha256(source.replace("\r\n", "\n").encode()).hexdigest()[:7]


def _strip_nl(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def _find_end(lines: list[str], start: int) -> int | None:
    """Index of the end marker of the region whose begin marker is at ``start``."""
    for j in range(start + 1, len(lines)):
        text = _strip_nl(lines[j])[0]
        if END_RE.match(text):
            return j
        if BEGIN_RE.match(text):
            return None
    return None


def _find_fence_end(lines: list[str], start: int, char: str, length: int) -> int:
    close = re.compile(r"^ {0,3}" + re.escape(char) + "{" + str(length) + r",}\s*$")
    for j in range(start + 1, len(lines)):
        if close.match(_strip_nl(lines[j])[0]):
            return j
    return len(lines)  # unclosed: the fence runs to the end of the document


class _Renderer:
    def __init__(self, text: str, ctx: Context, force: bool, claims_only: bool = False):
        self.claims_only = claims_only  # evaluate claims only; copy everything else
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.ctx = ctx
        self.force = force
        self.nl = "\r\n" if "\r\n" in text else "\n"
        self.out: list[str] = []
        self.result = RenderResult(text, False)

    def issue(self, level: str, line: int, what: str, message: str) -> None:
        self.result.issues.append(Issue(level, line + 1, what, message))

    def run(self) -> RenderResult:
        lines = self.lines
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            text = _strip_nl(line)[0]
            m = FENCE_RE.match(text)
            if m:
                char, length = m.group(2)[0], len(m.group(2))
                info = m.group(3).strip()
                if char == "`" and "`" in info:
                    m = None  # not a fence: an inline code span at the start of a line
            if m:
                end = _find_fence_end(lines, i, char, length)
                self.out.extend(lines[i : end + 1])
                words = info.split()
                is_block = words and words[0] == "expbook" and not self.claims_only
                i = self.block(i, end) if is_block else end + 1
                continue
            if BEGIN_RE.match(text):
                if self.claims_only:
                    stop = _find_end(lines, i)
                    stop = i if stop is None else stop
                    self.out.extend(lines[i : stop + 1])
                    i = stop + 1
                    continue
                i = self.orphan(i)
                continue
            cm = CLAIM_RE.match(text)
            if cm:
                self.out.append(self.claim(i, cm) + _strip_nl(line)[1])
                i += 1
                continue
            if not self.claims_only and ("{{" in text or "data-expbook" in text):
                self.out.append(self.inline(i, text) + _strip_nl(line)[1])
            else:
                self.out.append(line)
            i += 1
        new = "".join(self.out)
        self.result.text = new
        self.result.changed = new != self.text
        self.result.figures = self.ctx.figures
        return self.result

    # -- blocks and regions ---------------------------------------------------------------
    def block(self, start: int, end: int) -> int:
        """Render the block between fence lines ``start`` and ``end``; return the next index."""
        lines, nl = self.lines, self.nl
        self.result.blocks += 1
        if end >= len(lines):
            self.issue("error", start, "block", "unclosed ```expbook fence")
            return end
        source = "".join(lines[start + 1 : end])
        bid = _block_id(source)
        body = self._generate(source, start, bid)
        # an existing region: after blank lines, a begin marker
        k = end + 1
        while k < len(lines) and not _strip_nl(lines[k])[0].strip():
            k += 1
        fresh = self._region(bid, body)
        if k < len(lines) and BEGIN_RE.match(_strip_nl(lines[k])[0]):
            stop = _find_end(lines, k)
            if stop is None:
                self.issue(
                    "error", k, "region", "begin marker without an end marker: left as it is"
                )
                self.out.extend(lines[end + 1 : k + 1])
                return k + 1
            # a block at the very end of a file without a final newline
            if not lines[end].endswith(("\n", "\r")):
                self.out.append(nl)
            self.out.extend(lines[end + 1 : k])
            old_body = "".join(lines[k + 1 : stop])
            recorded = BEGIN_RE.match(_strip_nl(lines[k])[0]).group(2)  # type: ignore[union-attr]
            if recorded != digest(old_body) and not self.force:
                self.issue(
                    "error",
                    k,
                    "region",
                    "edited by hand since it was generated: left as it is "
                    "(move your text out of the region, or render with --force to replace it)",
                )
                self.out.extend(lines[k : stop + 1])
            else:
                tail = _strip_nl(lines[stop])[1]
                self.out.append(fresh if tail else fresh.rstrip("\r\n"))
            return stop + 1
        if not lines[end].endswith(("\n", "\r")):
            self.out.append(nl)
        self.out.append(nl)
        self.out.append(fresh)
        if k == end + 1 and k < len(lines):
            self.out.append(nl)  # keep the following text a separate paragraph
        return end + 1

    def _region(self, bid: str, body: str) -> str:
        nl = self.nl
        body = body.replace("\n", nl) if nl != "\n" else body
        return (
            f"<!-- expbook:begin id={bid} hash={digest(body)} -->{nl}{body}<!-- expbook:end -->{nl}"
        )

    def _generate(self, source: str, line: int, bid: str) -> str:
        try:
            # data (run names, tags, config values) never becomes markup in a region
            md = escape_html(render_block(parse_block(source), self.ctx, bid))
        except (BlockError, ExprError) as e:
            msg = str(e).replace("\n", " ")
            self.issue("error", line, "block", msg)
            md = f"> **expbook error:** {_escape(escape_html(msg))}"
        return f"\n{md.rstrip()}\n\n"

    def orphan(self, i: int) -> int:
        lines = self.lines
        stop = _find_end(lines, i)
        if stop is None:
            self.issue("error", i, "region", "begin marker without an end marker: left as it is")
            self.out.append(lines[i])
            return i + 1
        m = BEGIN_RE.match(_strip_nl(lines[i])[0])
        old_body = "".join(lines[i + 1 : stop])
        if self.force or (m is not None and m.group(2) == digest(old_body)):
            self.issue("note", i, "region", "removed a region whose block is gone")
            return stop + 1
        self.issue(
            "error", i, "region", "a region whose block is gone was edited by hand: left as it is"
        )
        self.out.extend(lines[i : stop + 1])
        return stop + 1

    # -- claims ---------------------------------------------------------------------------
    def claim(self, i: int, m: re.Match[str]) -> str:
        prefix, cid, ticks, expr, rest = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
        rest = STATUS_RE.sub("", rest)
        res = evaluate_claim(cid, expr.strip(), self.ctx.env, line=i + 1)
        self.result.claims.append(res)
        if res.status == "error":
            self.issue("error", i, f"claim {cid}", res.message or "cannot be evaluated")
        status = _escape(escape_html(res.summary_text()))
        return (
            f"{prefix}{ticks}{expr}{ticks} <!--expbook:claim-->{status}<!--/expbook:claim-->{rest}"
        )

    # -- inline values --------------------------------------------------------------------
    def inline(self, i: int, text: str) -> str:
        code = [(m.start(), m.end()) for m in CODE_RE.finditer(text)]

        def in_code(pos: int) -> bool:
            return any(a <= pos < b for a, b in code)

        out: list[str] = []
        last = 0
        for m in INLINE_RE.finditer(text):
            if in_code(m.start()):
                continue
            src = _unattr(m.group(1)) if m.group(1) is not None else m.group(3).strip()
            out.append(text[last : m.start()])
            value = _html(self.value(i, src))
            out.append(f'<span data-expbook="{_attr(src)}">{value}</span>')
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    def value(self, i: int, src: str) -> str:
        from .journal import split_format

        self.result.values += 1
        expr, fmt = split_format(src)
        try:
            return format_value(compile_journal(expr)(self.ctx.env), fmt)
        except (JournalError, ExprError) as e:
            self.issue("error", i, "value", f"{{{{ {src} }}}}: {e}")
            return f"⚠ {e}"


def _attr(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;")


def _unattr(s: str) -> str:
    return s.replace("&quot;", '"').replace("&amp;", "&")


def _html(s: str) -> str:
    return escape_html(s).replace("\n", " ")


def _escape(s: str) -> str:
    return s.replace("<!--", "<!- -").replace("-->", "- ->").replace("\n", " ")


def render_text(text: str, ctx: Context, *, force: bool = False) -> RenderResult:
    """Render a whole document (see the module docstring)."""
    return _Renderer(text, ctx, force).run()


def check_document(text: str, ctx: Context) -> list[ClaimResult]:
    """Every claim of ``text`` evaluated (outside fences and regions); nothing is written."""
    return _Renderer(text, ctx, False, claims_only=True).run().claims


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and os.replace."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".expbook-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:  # a new file: the mode open() would give it
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
