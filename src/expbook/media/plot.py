"""Charts as media: ``plot.line``, ``plot.scatter`` and ``plot.bar`` keep a :class:`Table`
and a small chart spec (kind, columns, title) that the run page draws.

>>> expbook.log({"pr": expbook.plot.line(table, x="recall", y="precision", title="PR")})
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from .types import Media, Payload, Table


class Plot(Media):
    """A chart of a table's columns (made by :func:`line`, :func:`scatter`, :func:`bar`)."""

    _type = "plot"

    def __init__(self, kind: str, table: Table, x: str, y: str, title: str | None) -> None:
        if not isinstance(table, Table):
            raise UsageError(f"plot.{kind}: expected an expbook.Table, not {type(table).__name__}")
        for col in (x, y):
            if col not in table.columns:
                raise UsageError(f"plot.{kind}: the table has no column {col!r}")
        self.caption = title
        self.kind, self.table, self.x, self.y, self.title = kind, table, x, y, title

    def _payload(self) -> Payload:
        data, ext, meta = self.table._payload()
        chart: dict[str, Any] = {"kind": self.kind, "x": self.x, "y": self.y}
        if self.title is not None:
            chart["title"] = str(self.title)
        meta["chart"] = chart
        return data, ext, meta


def line(table: Table, x: str, y: str, title: str | None = None) -> Plot:
    """A line chart of column ``y`` against column ``x``."""
    return Plot("line", table, x, y, title)


def scatter(table: Table, x: str, y: str, title: str | None = None) -> Plot:
    """A scatter chart of column ``y`` against column ``x``."""
    return Plot("scatter", table, x, y, title)


def bar(table: Table, label: str, value: str, title: str | None = None) -> Plot:
    """A bar chart: one bar per row, named by column ``label``, as high as column ``value``."""
    return Plot("bar", table, label, value, title)
