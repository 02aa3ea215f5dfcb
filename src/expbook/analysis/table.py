"""Results of the analysis functions: small tables of plain Python values.

Every analysis returns a :class:`Table` (or, for ``compare``, a :class:`TableSet` of several).
Both offer the same methods, so the CLI and reports treat them alike:

* :meth:`~Table.to_jsonable`: the documented JSON shape (full precision; ``None`` is ``null``;
  NaN and infinities stay floats, written by the JSON writer as ``NaN``/``Infinity``);
* :meth:`~Table.tables`: the tables to print for ``--format table`` or ``csv``;
* :meth:`~Table.to_text`, :meth:`~Table.to_markdown`, :meth:`~Table.to_csv`: rendering
  (numbers rounded by :func:`expbook._output.fmt_number` for reading, full precision in CSV);
* :meth:`~Table.to_df`: pandas, imported only there.

The JSON shape of a :class:`Table` is::

    {"kind": "leaderboard", ...meta..., "columns": [...], "rows": [{column: value}], "notes": []}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._output import fmt_number

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Table", "TableSet", "format_cell"]


def format_cell(v: Any, kind: str | None = None) -> str:
    """A value as a table shows it: numbers rounded for reading, null as empty.

    ``kind`` ``"pct"`` shows a fraction as a signed percentage (``-0.0152`` -> ``-1.52%``),
    ``"ratio"`` a multiplier (``15.46x``).
    """
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if kind and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        if kind == "pct":
            return f"{v * 100:+.2f}%"
        if kind == "ratio":
            return f"{v:.2f}x" if abs(v) < 1e5 else f"{v:.3e}x"
    return fmt_number(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class Table:
    """Columns and rows of plain Python values, with a title, notes and metadata.

    ``labels`` maps a column to the header shown in terminal, Markdown and text renderings
    (JSON and CSV keep the column names); ``kinds`` maps a column to a display kind for
    :func:`format_cell` (``pct``, ``ratio``); ``meta`` goes into the JSON object as is.
    """

    columns: list[str]
    rows: list[list[Any]]
    kind: str = "table"
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        """All values of one column."""
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        cols = self.columns
        return [dict(zip(cols, r)) for r in self.rows]

    def to_jsonable(self) -> dict[str, Any]:
        """The documented JSON shape (see the module docstring)."""
        return {
            "kind": self.kind,
            **self.meta,
            "columns": list(self.columns),
            "rows": self.to_records(),
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """What the command prints with ``--format json`` (same as :meth:`to_jsonable`)."""
        return self.to_jsonable()

    def tables(self) -> list[Table]:
        return [self]

    def headers(self) -> list[str]:
        return [self.labels.get(c, c) for c in self.columns]

    def formatted_rows(self) -> list[list[str]]:
        """Rows as display strings (see :func:`format_cell`)."""
        kinds = [self.kinds.get(c) for c in self.columns]
        return [[format_cell(v, k) for v, k in zip(r, kinds)] for r in self.rows]

    def _numeric(self) -> list[bool]:
        return [any(_is_number(r[i]) for r in self.rows) for i in range(len(self.columns))]

    def to_text(self) -> str:
        """Fixed-width plain text (title, header, rows, notes); numbers right-aligned."""
        head = self.headers()
        body = self.formatted_rows()
        numeric = self._numeric()
        widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(head)]

        def line(cells: Sequence[str]) -> str:
            parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
            return "  ".join(parts).rstrip()

        out = [self.title] if self.title else []
        out.append(line(head))
        out.append("  ".join("-" * w for w in widths))
        out.extend(line(r) for r in body)
        out.extend(self.notes)
        return "\n".join(out)

    def to_rich(self) -> Any:
        """A :class:`rich.table.Table` to print (imports rich)."""
        from rich.table import Table as RichTable

        t = RichTable(title=self.title, header_style="bold")
        for h, num in zip(self.headers(), self._numeric()):
            t.add_column(h, justify="right" if num else "left", overflow="fold")
        for r in self.formatted_rows():
            t.add_row(*r)
        return t

    def to_markdown(self) -> str:
        """A Markdown table (numbers right-aligned), then the notes as a list."""
        numeric = self._numeric()

        def esc(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")

        out = ["| " + " | ".join(esc(h) for h in self.headers()) + " |"]
        out.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
        out.extend("| " + " | ".join(esc(c) for c in r) + " |" for r in self.formatted_rows())
        if self.notes:
            out.append("")
            out.extend(f"- {n}" for n in self.notes)
        return "\n".join(out)

    def to_csv(self) -> str:
        """CSV with a header row; full precision; null as an empty cell."""
        import csv  # here: JSON and table output need neither
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow([_csv(v) for v in r])
        return buf.getvalue()

    def to_df(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (imports pandas)."""
        import pandas as pd

        df = pd.DataFrame([list(r) for r in self.rows], columns=list(self.columns))
        df.attrs.update({"kind": self.kind, **self.meta, "notes": list(self.notes)})
        return df


def _csv(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (list, tuple)):
        return ";".join(str(_csv(x)) for x in v)
    return v


@dataclass
class TableSet:
    """Several named tables that answer one question (``compare``), with their own JSON."""

    kind: str
    parts: list[Table]
    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_jsonable(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.data, "notes": list(self.notes)}

    def to_dict(self) -> dict[str, Any]:
        """What the command prints with ``--format json`` (same as :meth:`to_jsonable`)."""
        return self.to_jsonable()

    def tables(self) -> list[Table]:
        return list(self.parts)

    def table(self, name: str) -> Table:
        """The part whose ``meta["name"]`` is ``name``."""
        for t in self.parts:
            if t.meta.get("name") == name:
                return t
        raise KeyError(name)

    def to_text(self) -> str:
        body = "\n\n".join(t.to_text() for t in self.parts)
        return "\n".join([body, *self.notes]) if self.notes else body

    def to_markdown(self) -> str:
        chunks = []
        for t in self.parts:
            chunks.append(f"**{t.title}**\n\n{t.to_markdown()}" if t.title else t.to_markdown())
        if self.notes:
            chunks.append("\n".join(f"- {n}" for n in self.notes))
        return "\n\n".join(chunks)

    def to_csv(self) -> str:
        return "\n".join(t.to_csv() for t in self.parts)

    def to_df(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per part, keyed by its name."""
        return {t.meta.get("name", str(i)): t.to_df() for i, t in enumerate(self.parts)}
