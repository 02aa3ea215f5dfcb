"""Printing results as a terminal table, JSON or CSV (``--format table|json|csv``).

JSON keeps full precision; NaN and infinities are written as ``NaN``/``Infinity``/
``-Infinity`` (what Python's and JavaScript's JSON5-tolerant readers accept). Tables round
numbers for reading.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")


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
    return str(v)


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
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file) if file is not None else Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # pipes and files: don't wrap cells
    table = Table(title=title, show_lines=False, header_style="bold")
    for i, c in enumerate(columns):
        numeric = any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
        table.add_column(c, justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        table.add_row(*(fmt_number(v) for v in r))
    console.print(table)
