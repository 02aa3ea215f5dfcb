"""Limits of the expression language and its one error type."""

from __future__ import annotations

MAX_LENGTH = 10_000  # characters in one expression
MAX_DEPTH = 100  # nesting of the syntax tree; keeps compilation and evaluation off the C stack
# Python frames the recursive-descent parser may use: a parenthesis costs about 10 (one pass
# through every precedence level), a unary operator about 2. Keeps deep input an ExprError.
_MAX_PARSE_FRAMES = 400


# ---------------------------------------------------------------------------------------------
# Errors


class ExprError(ValueError):
    """A bad expression: a one-line message, the source text and where the problem is."""

    def __init__(self, message: str, source: str | None = None, pos: int | None = None):
        self.message = message
        self.source = source
        self.pos = pos
        super().__init__(str(self))

    @property
    def column(self) -> int | None:
        """1-based column of the problem, or None when not tied to a place."""
        return None if self.pos is None else self.pos + 1

    def __str__(self) -> str:
        if self.source is None:
            return self.message
        if self.pos is None:
            return f"{self.message} in: {_one_line(self.source)}"
        return f"{self.message} at column {self.pos + 1}: {_one_line(self.source)}"

    def pretty(self) -> str:
        """The message, then the source with a caret under the problem (for terminals)."""
        if self.source is None or self.pos is None:
            return str(self)
        src = _one_line(self.source)
        return f"{self.message} at column {self.pos + 1}\n  {src}\n  {' ' * self.pos}^"

    def _located(self, source: str, pos: int | None) -> ExprError:
        """This error placed in ``source`` (when it has no place yet)."""
        if self.source is not None:
            return self
        return ExprError(self.message, source, pos if self.pos is None else self.pos)


def _one_line(text: str) -> str:
    # Keep the column arithmetic valid: one character in, one character out.
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
