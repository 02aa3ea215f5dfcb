"""Printing results as a terminal table, JSON or CSV (``--format table|json|csv``).

JSON keeps full precision; NaN and infinities are written as ``NaN``/``Infinity``/
``-Infinity`` (what Python's and JavaScript's JSON5-tolerant readers accept). Tables round
numbers for reading.

Everything printed for a terminal goes through this module, and data is only ever shown as
plain text: a run name like ``x[/y]`` or ``[bold]b`` is printed as written (never read as
rich markup), and control characters in data (ANSI escape sequences, carriage returns,
bidirectional overrides) are shown escaped (``\\x1b[31m``) instead of reaching the terminal.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")

# C0 and C1 control characters (ESC among them), DEL, and the Unicode marks that reorder text
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def visible(text: str) -> str:
    """``text`` safe to print on one line of a terminal: control characters (an ANSI escape
    sequence's ESC, newlines, tabs, bidirectional overrides) written as escapes (``\\x1b``,
    ``\\n``), everything else as is."""
    if text.isprintable() or _CONTROL.search(text) is None:  # the first test is the fast one
        return text
    return _CONTROL.sub(_escape_char, text)


def visible_lines(text: str) -> str:
    """:func:`visible` for each line of a multi-line text (its newlines kept)."""
    return "\n".join(visible(line) for line in text.split("\n"))


_console_class: Any = None


def console(*, stderr: bool = False, file: Any = None, wide: bool = True) -> Any:
    """A :class:`rich.console.Console` that prints every string as plain text.

    Markup, emoji codes and highlighting are off, and every string it renders (cells,
    headers, titles, notes) passes through :func:`visible_lines`: data can never style the output,
    raise a markup error or send escape sequences to the terminal. Styles are given as
    :class:`rich.text.Text` spans. ``wide``: when not printing to a terminal (pipes and
    files), 160 columns at least, so cells are not wrapped.
    """
    global _console_class
    if _console_class is None:
        from rich.console import Console

        class PlainConsole(Console):
            def render_str(self, text: str, **kwargs: Any) -> Any:
                kwargs.update(markup=False, emoji=False)
                return super().render_str(visible_lines(text), **kwargs)

        _console_class = PlainConsole
    con = _console_class(file=file, stderr=stderr, markup=False, emoji=False, highlight=False)
    if wide and not con.is_terminal:
        con.width = max(con.width, 160)
    return con


def print_wide(
    con: Any, table: Any, headers: Sequence[str], cells: Sequence[Sequence[str]]
) -> None:
    """Print the rich ``table`` of ``headers`` and ``cells`` (its text) on ``con``; when that
    is not a terminal (a pipe, a file), as wide as the table needs, so no cell is folded.

    The width comes from the text itself: asking rich to measure the table costs as much as
    printing it."""
    if not con.is_terminal and headers:
        from rich.cells import cell_len

        widths = [cell_len(visible_lines(h)) for h in headers]
        for row in cells:
            for i, c in enumerate(row):
                n = cell_len(c) if not c.isascii() else len(c)
                if n > widths[i]:
                    widths[i] = n
        con.width = max(con.width, sum(widths) + 3 * len(widths) + 1)
    con.print(table)


def fmt_number(v: Any, digits: int = 5) -> str:
    """A number for a table: 5 significant digits, scientific when tiny or huge."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == int(v) and abs(v) < 1e15:
            return str(int(v)) if abs(v) >= 1 or v == 0 else f"{v:.{digits}g}"
        a = abs(v)
        if a >= 1e5 or a < 1e-3:
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}" if a >= 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt_number(x, digits) for x in v)
    if isinstance(v, Mapping):
        return json.dumps(v, default=str)
    return visible(str(v))


def to_json(obj: Any) -> str:
    # Indented for people in a terminal; compact otherwise, where CPython's C encoder (which
    # indent turns off) is 3x faster on large outputs. Results are trees of plain values:
    # no need to track containers for cycles.
    indent = 2 if sys.stdout.isatty() else None
    return json.dumps(obj, indent=indent, default=_default, allow_nan=True, check_circular=False)


def _default(o: Any) -> Any:
    item = getattr(o, "item", None)
    if callable(item):
        return item()
    tolist = getattr(o, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(o)


def emit(
    fmt: str,
    *,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    json_obj: Any,
    title: str | None = None,
    empty: str = "nothing to show",
    notes: Sequence[str] = (),
    file: Any = None,
) -> None:
    """Print ``rows`` as a table or CSV, or ``json_obj`` as JSON."""
    out = file or sys.stdout
    if fmt == "json":
        out.write(to_json(json_obj) + "\n")
        return
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if v is None else _csv_value(v) for v in r])
        out.write(buf.getvalue())
        return
    if not rows:
        print(empty, file=out)
        return
    print_table(columns, rows, title=title, file=out)
    for n in notes:
        print(n, file=out)


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("NaN" if math.isnan(v) else str(v))
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    if isinstance(v, Mapping):
        return json.dumps(v, default=str)
    return v


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str | None = None,
    file: Any = None,
) -> None:
    from rich.table import Table

    con = console(file=file)
    table = Table(title=title, show_lines=False, header_style="bold")
    for i, c in enumerate(columns):
        numeric = any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
        table.add_column(c, justify="right" if numeric else "left", overflow="fold")
    cells = [[fmt_number(v) for v in r] for r in rows]
    for r in cells:
        table.add_row(*r)
    print_wide(con, table, columns, cells)


def emit_table(fmt: str, table: Any) -> None:
    """Print an analysis result (a ``Table`` or ``TableSet``) as JSON, CSV or tables."""
    import click

    if fmt == "json":
        # straight to stdout: click.echo would scan megabytes of JSON for ANSI codes to strip
        # (JSON escapes control characters, so it has none)
        sys.stdout.write(to_json(table.to_jsonable()) + "\n")
        sys.stdout.flush()
    elif fmt == "csv":
        click.echo(table.to_csv(), nl=False)
    elif sum(len(t.rows) for t in table.tables()) > 500:
        # rich measures every cell: seconds for thousands of rows; plain text is instant
        for t in table.tables():
            click.echo(visible_lines(t.to_text()))
    else:
        con = console()
        for t in table.tables():
            print_wide(con, t.to_rich(), t.headers(), t.formatted_rows())
            for note in t.notes:
                con.print(note)
