"""A small, safe expression language for filters, derived metrics and journal claims.

Expressions are tokenized, parsed by recursive descent into an AST and compiled to Python
closures. Nothing is ever handed to Python's ``eval``: the only names an expression can reach
are the ones a *name binder* gives it, and the only functions are those in the function table
passed to :func:`compile_expr`.

Grammar (lowest precedence first)::

    expr           := or_expr
    or_expr        := and_expr ( "or" and_expr )*
    and_expr       := not_expr ( "and" not_expr )*
    not_expr       := "not" not_expr | comparison
    comparison     := additive [ comp_op additive ]      # not chained: write a < b and b < c
    comp_op        := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
    additive       := multiplicative ( ("+" | "-") multiplicative )*
    multiplicative := unary ( ("*" | "/" | "%") unary )*
    unary          := ("-" | "+") unary | power
    power          := primary [ "**" unary ]             # right-assoc; -2**2 == -4
    primary        := NUMBER | STRING | "true" | "false" | "null"
                    | NAME | QUOTED_NAME | PATTERN
                    | IDENT "(" [ arg ( "," arg )* [","] ] ")"
                    | "(" expr ")"
                    | "[" [ expr ( "," expr )* [","] ] "]"
    arg            := expr | IDENT "=" expr

Tokens:

* NUMBER: ``12``, ``1.5``, ``.5``, ``1e-6``, ``2.5E+3``. Integer literals stay integers.
* STRING: ``'...'`` or ``"..."``; backslash escapes ``\\\\ \\' \\" \\n \\t``.
* NAME: ``[A-Za-z_][A-Za-z0-9_]*`` segments joined by dots: ``test_mse``,
  ``config.model.latent_dim``, ``config.layers.0``.
* QUOTED_NAME: any key in backquotes, for keys with other characters:
  ```operator/loss```, ```Test F1 (non-diag)```. ``/`` outside backquotes is always division.
  A literal backquote inside is written twice.
* PATTERN: a glob over names (run names, keys): a word with ``?`` in it, a word that starts
  with ``*`` (``*_airy``), or a word that ends with ``*`` when no operand follows
  (``exp20_*`` in ``count(passes(exp20_*, loss, 1e-6))``). ``a*b`` is multiplication, so a
  glob with a ``*`` in the middle goes in backquotes: ```exp20_*_airy```. A backquoted name
  containing ``*`` or ``?`` is a pattern. Patterns evaluate to :class:`Glob` strings.
* Keywords: ``and or not in true false null`` (``True False None`` are accepted too).
* RUN: in a run position of a function (:attr:`Function.run_params`, e.g. the first argument
  of the journal's ``final(run, metric)``) a bare word of letters, digits and ``_ - . * ?``
  followed by ``,`` or ``)`` is one run reference, not arithmetic: ``final(mlp-h4-lr3, loss)``,
  ``final(5vbxlcek, loss)``, ``passes(gen-*, loss, 1e-6)``. Anywhere else ``a-b`` subtracts.

Semantics:

* A name the binder does not know evaluates to ``null``.
* Arithmetic with ``null`` gives ``null``; so do type mismatches (``"a" * 2``), division or
  ``%`` by zero, ``log``/``sqrt`` outside their domain and powers that would be complex.
  Overflow gives ``inf``. Booleans count as 0/1. ``+`` also concatenates two strings.
* Comparisons: when a side is null (a missing key, a null result) every comparison is
  false, ``!=`` included. The one exception is a comparison with the literal ``null``:
  ``x == null`` tests for a missing value and ``x != null`` for a present one. Ordering a
  string against a number is false.
* ``a in b``: membership when ``b`` is a list (e.g. ``"jax" in tags``), substring when both are
  strings, key membership for a mapping; false otherwise (``null`` included).
* ``and``/``or``/``not`` use truthiness (``null``, ``false``, ``0``, ``NaN``, ``""`` and ``[]``
  are false) and return booleans; ``and``/``or`` short-circuit.

Errors: anything wrong in the text (syntax, unknown function, wrong number of arguments, a
metric function given something other than a key) raises :class:`ExprError` when the
expression is compiled, with a one-line message and the column; :meth:`ExprError.pretty` adds
the source line with a caret under the problem.

Reuse: :func:`compile_expr` takes a function table (name -> :class:`Function`) and a name
binder (name -> getter of an environment), so the same parser serves run filters, derived
metrics (:mod:`expbook.analysis.derive`) and journal claims.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "BASE_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Arg",
    "Binary",
    "BoolOp",
    "Call",
    "CompiledExpr",
    "Const",
    "ExprError",
    "Function",
    "Glob",
    "ListExpr",
    "Name",
    "Node",
    "Not",
    "Pattern",
    "Unary",
    "compile_expr",
    "evaluate",
    "iter_nodes",
    "parse",
    "truthy",
]

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


# ---------------------------------------------------------------------------------------------
# Tokens

_KEYWORDS = {
    "and": "AND",
    "or": "OR",
    "not": "NOT",
    "in": "IN",
    "true": "TRUE",
    "false": "FALSE",
    "null": "NULL",
    "True": "TRUE",
    "False": "FALSE",
    "None": "NULL",
}
_OPERAND_END = {"NUM", "STR", "NAME", "PATTERN", "RPAREN", "RBRACK", "TRUE", "FALSE", "NULL"}
_IDENT_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | set("0123456789")
_DIGITS = set("0123456789")
_RUN_CHARS = _IDENT_CHARS | set(".-*?")  # a bare run reference in a run position
_SIMPLE = {
    "(": "LPAREN",
    ")": "RPAREN",
    "[": "LBRACK",
    "]": "RBRACK",
    ",": "COMMA",
    "+": "PLUS",
    "-": "MINUS",
    "/": "SLASH",
    "%": "PERCENT",
}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


class _Token(NamedTuple):
    kind: str
    text: str
    pos: int
    value: Any = None


def _tokenize(src: str) -> list[_Token]:
    """Every token of ``src``, the last one ``EOF``."""
    toks: list[_Token] = []
    i = 0
    while True:
        tok, i, joined = _next_token(src, i, toks[-1] if toks else None)
        if joined:
            toks.pop()
        toks.append(tok)
        if tok.kind == "EOF":
            return toks


def _next_token(src: str, i: int, prev: _Token | None) -> tuple[_Token, int, bool]:
    """The token starting at or after offset ``i`` (after ``prev``, the token before it), the
    offset after it, and whether it replaces ``prev`` (a dotted name continued)."""
    n = len(src)

    def err(msg: str, pos: int) -> ExprError:
        return ExprError(msg, src, pos)

    while i < n and src[i] in " \t\r\n":
        i += 1
    if i >= n:
        return _Token("EOF", "", n), n, False
    c = src[i]
    operand_expected = prev is None or prev.kind not in _OPERAND_END
    if c in _DIGITS or (c == "." and i + 1 < n and src[i + 1] in _DIGITS):
        j = i
        while j < n and src[j] in _DIGITS:
            j += 1
        is_float = False
        if j < n and src[j] == ".":
            is_float = True
            j += 1
            while j < n and src[j] in _DIGITS:
                j += 1
        if j < n and src[j] in "eE":
            k = j + 1
            if k < n and src[k] in "+-":
                k += 1
            if k < n and src[k] in _DIGITS:
                while k < n and src[k] in _DIGITS:
                    k += 1
                j = k
                is_float = True
            else:
                raise err("malformed number exponent", i)
        if j < n and (src[j] in _IDENT_START):
            raise err(f"malformed number {src[i : j + 1]!r}", i)
        text = src[i:j]
        value: Any = float(text) if is_float or len(text) > 300 else int(text)
        return _Token("NUM", text, i, value), j, False
    if c in "'\"":
        j = i + 1
        out: list[str] = []
        while True:
            if j >= n:
                raise err("unterminated string", i)
            d = src[j]
            if d == c:
                break
            if d == "\\":
                if j + 1 >= n:
                    raise err("unterminated string", i)
                e = src[j + 1]
                if e not in _ESCAPES:
                    raise err(f"unknown escape '\\{e}' in string", j)
                out.append(_ESCAPES[e])
                j += 2
                continue
            out.append(d)
            j += 1
        return _Token("STR", src[i : j + 1], i, "".join(out)), j + 1, False
    if c == "." and prev is not None and prev.kind == "NAME" and _joins(src, prev, i):
        # a dotted name continued by a backquoted segment, or a backquoted name continued
        # by a plain one: config.`odd/key`, `my model`.layers
        if src[i + 1] == "`":
            seg, j = _read_backquoted(src, i + 1)
        else:
            j, is_glob = _scan_word(src, i + 1)
            seg = src[i + 1 : j]
            if is_glob or not seg:
                raise err("unexpected character '.'", i)
        return _Token("NAME", src[prev.pos : j], prev.pos, f"{prev.value}.{seg}"), j, True
    if c == "`":
        name, j = _read_backquoted(src, i)
        kind = "PATTERN" if ("*" in name or "?" in name) else "NAME"
        return _Token(kind, src[i:j], i, name), j, False
    if c in _IDENT_START or c == "?" or (c == "*" and operand_expected):
        j, is_glob = _scan_word(src, i)
        if j > i:
            word = src[i:j]
            if is_glob:
                return _Token("PATTERN", word, i, word), j, False
            if word in _KEYWORDS:
                return _Token(_KEYWORDS[word], word, i, word), j, False
            return _Token("NAME", word, i, word), j, False
    two = src[i : i + 2]
    if two in ("==", "!=", "<=", ">=", "**"):
        kind = {"==": "EQ", "!=": "NE", "<=": "LE", ">=": "GE", "**": "POW"}[two]
        return _Token(kind, two, i), i + 2, False
    if two == "&&" or c == "&":
        raise err("use 'and' instead of '&&'", i)
    if two == "||" or c == "|":
        raise err("use 'or' instead of '||'", i)
    if c == "!":
        raise err("use 'not' instead of '!'", i)
    if c == "<":
        return _Token("LT", c, i), i + 1, False
    if c == ">":
        return _Token("GT", c, i), i + 1, False
    if c == "=":
        return _Token("ASSIGN", c, i), i + 1, False
    if c == "*":
        return _Token("STAR", c, i), i + 1, False
    if c in _SIMPLE:
        return _Token(_SIMPLE[c], c, i), i + 1, False
    raise err(f"unexpected character {c!r}", i)


def _joins(src: str, prev: _Token, i: int) -> bool:
    """Whether the '.' at ``i`` continues the name token ``prev`` (no space between)."""
    if prev.pos + len(prev.text) != i or i + 1 >= len(src):
        return False
    nxt = src[i + 1]
    return nxt == "`" or (prev.text.endswith("`") and nxt in _IDENT_START)


def _read_backquoted(src: str, i: int) -> tuple[str, int]:
    """The name in backquotes starting at ``i`` and the offset after the closing quote."""
    n = len(src)
    j = i + 1
    out: list[str] = []
    while True:
        if j >= n:
            raise ExprError("unterminated backquoted name", src, i)
        if src[j] == "`":
            if j + 1 < n and src[j + 1] == "`":
                out.append("`")
                j += 2
                continue
            break
        out.append(src[j])
        j += 1
    if not out:
        raise ExprError("empty backquoted name", src, i)
    return "".join(out), j + 1


def _scan_word(src: str, i: int) -> tuple[int, bool]:
    """End of the name or pattern starting at ``i`` and whether it is a glob pattern."""
    n = len(src)
    j = i
    glob = False
    if src[j] == "*":
        glob = True
        j += 1
    while True:
        while j < n and src[j] in _IDENT_CHARS:
            j += 1
        if j >= n:
            break
        c = src[j]
        if c == "?":
            glob = True
            j += 1
            continue
        if c == "." and j > i and j + 1 < n and (src[j + 1] in _IDENT_CHARS or src[j + 1] in "*?"):
            j += 1
            continue
        if c == "*" and j > i and not src.startswith("**", j):
            nxt = j + 1
            if nxt < n and (src[nxt] in _IDENT_CHARS or src[nxt] == "?"):
                # glued on both sides: a*b is multiplication unless the word is already a glob
                if glob:
                    j += 1
                    continue
                if src[j - 1] == "_" or src[nxt] == "_":
                    raise ExprError(
                        "ambiguous '*': put a glob such as `exp20_*_airy` in backquotes, "
                        "or spaces around '*' for multiplication",
                        src,
                        j,
                    )
                break
            k = nxt
            while k < n and src[k] in " \t\r\n":
                k += 1
            if k >= n or src[k] in ",)]":
                glob = True
                j = nxt
                continue
            break
        break
    return j, glob


# ---------------------------------------------------------------------------------------------
# AST


class Node:
    """Base of the syntax tree; ``pos`` is the 0-based offset where the node starts.

    Nodes are immutable records compared by value (plain classes: dataclasses would cost
    milliseconds at import, on every CLI start).
    """

    __slots__ = ("pos",)
    _fields: tuple[str, ...] = ("pos",)
    _defaults: tuple[Any, ...] = ()
    pos: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        values = list(args) + [_UNSET] * (len(fields) - len(args))
        for k, v in kwargs.items():
            values[fields.index(k)] = v
        nd = len(self._defaults)
        for i, v in enumerate(values):
            if v is _UNSET:
                j = i - (len(fields) - nd)
                if j < 0:
                    raise TypeError(f"{type(self).__name__} needs {fields[i]}")
                v = self._defaults[j]
            object.__setattr__(self, fields[i], v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Node)
            and type(self) is type(other)
            and (self._values() == other._values())
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({inner})"


_UNSET: Any = object()


class Const(Node):
    """A literal: number, string, true/false or null."""

    __slots__ = ("value",)
    _fields = ("pos", "value")
    value: Any


class Name(Node):
    """A name (``test_mse``, ``config.lr``) or a backquoted key (``quoted=True``)."""

    __slots__ = ("name", "quoted")
    _fields = ("pos", "name", "quoted")
    _defaults = (False,)
    name: str
    quoted: bool


class Pattern(Node):
    """A glob over names: ``exp20_*``."""

    __slots__ = ("pattern",)
    _fields = ("pos", "pattern")
    pattern: str


class ListExpr(Node):
    """``[a, b, c]``."""

    __slots__ = ("items",)
    _fields = ("pos", "items")
    items: tuple[Node, ...]


class Unary(Node):
    """``-x`` or ``+x``."""

    __slots__ = ("op", "operand")
    _fields = ("pos", "op", "operand")
    op: str
    operand: Node


class Binary(Node):
    """Arithmetic (``+ - * / % **``) and comparisons (``== != < <= > >= in``, ``not in``)."""

    __slots__ = ("left", "op", "op_pos", "right")
    _fields = ("pos", "op", "left", "right", "op_pos")
    _defaults = (-1,)
    op: str
    left: Node
    right: Node
    op_pos: int


class BoolOp(Node):
    """``a and b``, ``a or b``."""

    __slots__ = ("left", "op", "right")
    _fields = ("pos", "op", "left", "right")
    op: str
    left: Node
    right: Node


class Not(Node):
    """``not x``."""

    __slots__ = ("operand",)
    _fields = ("pos", "operand")
    operand: Node


class Call(Node):
    """``func(args..., name=value...)``; ``kwargs`` holds (name, value, position of name)."""

    __slots__ = ("args", "func", "kwargs")
    _fields = ("pos", "func", "args", "kwargs")
    _defaults = ((),)
    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node, int], ...]


def iter_nodes(node: Node):
    """Every node of a tree, depth first (the node itself first)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        if isinstance(cur, (Binary, BoolOp)):
            stack.extend((cur.right, cur.left))
        elif isinstance(cur, (Unary, Not)):
            stack.append(cur.operand)
        elif isinstance(cur, ListExpr):
            stack.extend(reversed(cur.items))
        elif isinstance(cur, Call):
            stack.extend(v for _, v, _ in reversed(cur.kwargs))
            stack.extend(reversed(cur.args))


_COMPARE_KINDS = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "IN": "in"}
_TOKEN_DESC = {
    "EOF": "end of expression",
    "RPAREN": "')'",
    "LPAREN": "'('",
    "RBRACK": "']'",
    "COMMA": "','",
}


class _Parser:
    """Recursive descent over tokens read lazily: in a run position of a call (see
    :attr:`Function.run_params`) the raw text is read as a run reference instead."""

    def __init__(self, src: str, functions: Mapping[str, Function] | None = None):
        self.src = src
        self.functions = functions or {}
        self.toks: list[_Token] = []
        self.ends: list[int] = []  # offset after each token of self.toks
        self.i = 0
        self.depth = 0

    # helpers
    def _lex(self) -> None:
        prev = self.toks[-1] if self.toks else None
        if prev is not None and prev.kind == "EOF":
            self.toks.append(prev)
            self.ends.append(self.ends[-1])
            return
        tok, end, joined = _next_token(self.src, self.ends[-1] if self.ends else 0, prev)
        if joined:  # only ever the token just read (see below), never a consumed one
            self.toks.pop()
            self.ends.pop()
        self.toks.append(tok)
        self.ends.append(end)

    def peek(self, k: int = 0) -> _Token:
        j = self.i + k
        # a name is complete once the token after it is read (it may continue the name)
        while len(self.toks) <= j or (self.toks[j].kind == "NAME" and len(self.toks) <= j + 1):
            self._lex()
        return self.toks[j]

    @property
    def tok(self) -> _Token:
        return self.peek()

    def advance(self) -> _Token:
        t = self.peek()
        self.i += 1
        return t

    def run_ref(self) -> None:
        """At a run position: a bare run name or glob (letters, digits, ``_ - . * ?``, not
        starting with ``-`` or ``.``) followed by ``,`` or ``)`` becomes one token."""
        del self.toks[self.i :]
        del self.ends[self.i :]
        src, n = self.src, len(self.src)
        j = self.ends[-1] if self.ends else 0
        while j < n and src[j] in " \t\r\n":
            j += 1
        k = j
        while k < n and src[k] in _RUN_CHARS:
            k += 1
        if k == j or src[j] in ".-":
            return
        m = k
        while m < n and src[m] in " \t\r\n":
            m += 1
        if m < n and src[m] in ",)":
            word = src[j:k]
            kind = "PATTERN" if ("*" in word or "?" in word) else "NAME"
            self.toks.append(_Token(kind, word, j, word))
            self.ends.append(k)

    def is_run_position(self, func: str, index: int) -> bool:
        spec = self.functions.get(func)
        if spec is None or not spec.run_params:
            return False
        if index in spec.run_params:
            return True
        last = len(spec.params) - 1
        return spec.variadic and index > last and last in spec.run_params

    def error(self, msg: str, pos: int | None = None) -> ExprError:
        return ExprError(msg, self.src, self.tok.pos if pos is None else pos)

    def describe(self, t: _Token) -> str:
        return _TOKEN_DESC.get(t.kind) or repr(t.text)

    def expect(self, kind: str, what: str) -> _Token:
        if self.tok.kind != kind:
            raise self.error(f"expected {what}, found {self.describe(self.tok)}")
        return self.advance()

    def enter(self, cost: int) -> None:
        self.depth += cost
        if self.depth > _MAX_PARSE_FRAMES:
            raise self.error("expression is nested too deeply")

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise self.error("empty expression")
        node = self.expr()
        if self.tok.kind != "EOF":
            t = self.tok
            if t.kind == "ASSIGN":
                raise self.error("use '==' to compare ('=' only names a function argument)")
            if t.kind in _COMPARE_KINDS and isinstance(node, Binary) and node.op in _CMP_OPS:
                raise self.error("comparisons cannot be chained; write 'a < b and b < c'")
            if t.kind in ("NAME", "NUM", "STR", "PATTERN", "LPAREN"):
                raise self.error(f"expected an operator before {self.describe(t)}")
            raise self.error(f"unexpected {self.describe(t)}")
        _check_depth(node, self.src)
        return node

    def expr(self) -> Node:
        self.enter(10)
        try:
            return self.or_expr()
        finally:
            self.depth -= 10

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.tok.kind == "OR":
            self.advance()
            right = self.and_expr()
            left = BoolOp(left.pos, "or", left, right)
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.tok.kind == "AND":
            self.advance()
            right = self.not_expr()
            left = BoolOp(left.pos, "and", left, right)
        return left

    def not_expr(self) -> Node:
        if self.tok.kind == "NOT":
            t = self.advance()
            self.enter(2)
            try:
                return Not(t.pos, self.not_expr())
            finally:
                self.depth -= 2
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        t = self.tok
        op: str | None = None
        if t.kind in _COMPARE_KINDS:
            op = _COMPARE_KINDS[t.kind]
            self.advance()
        elif t.kind == "NOT" and self.peek(1).kind == "IN":
            op = "not in"
            self.advance()
            self.advance()
        if op is None:
            return left
        if self.tok.kind == "EOF":
            raise self.error(f"expected a value after '{op}'")
        right = self.additive()
        return Binary(left.pos, op, left, right, t.pos)

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.tok.kind in ("PLUS", "MINUS"):
            t = self.advance()
            right = self.multiplicative()
            left = Binary(left.pos, t.text, left, right, t.pos)
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.tok.kind in ("STAR", "SLASH", "PERCENT"):
            t = self.advance()
            right = self.unary()
            left = Binary(left.pos, t.text, left, right, t.pos)
        return left

    def unary(self) -> Node:
        if self.tok.kind in ("MINUS", "PLUS"):
            t = self.advance()
            self.enter(2)
            try:
                operand = self.unary()
            finally:
                self.depth -= 2
            return Unary(t.pos, t.text, operand)
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.tok.kind == "POW":
            t = self.advance()
            self.enter(2)
            try:
                exponent = self.unary()
            finally:
                self.depth -= 2
            return Binary(base.pos, "**", base, exponent, t.pos)
        return base

    def primary(self) -> Node:
        t = self.tok
        k = t.kind
        if k in ("NUM", "STR"):
            self.advance()
            return Const(t.pos, t.value)
        if k == "TRUE":
            self.advance()
            return Const(t.pos, True)
        if k == "FALSE":
            self.advance()
            return Const(t.pos, False)
        if k == "NULL":
            self.advance()
            return Const(t.pos, None)
        if k == "PATTERN":
            self.advance()
            return Pattern(t.pos, t.value)
        if k == "NAME":
            self.advance()
            quoted = t.text.startswith("`")
            if self.tok.kind == "LPAREN" and not quoted:
                return self.call(t)
            return Name(t.pos, t.value, quoted)
        if k == "LPAREN":
            self.advance()
            if self.tok.kind == "RPAREN":
                raise self.error("expected an expression inside '( )'")
            inner = self.expr()
            self.expect("RPAREN", "')' to close the '(' at column " + str(t.pos + 1))
            return inner
        if k == "LBRACK":
            self.advance()
            items: list[Node] = []
            while self.tok.kind != "RBRACK":
                items.append(self.expr())
                if self.tok.kind == "COMMA":
                    self.advance()
                    continue
                if self.tok.kind != "RBRACK":
                    raise self.error(
                        f"expected ',' or ']' in list, found {self.describe(self.tok)}"
                    )
            self.advance()
            return ListExpr(t.pos, tuple(items))
        if k == "EOF":
            raise self.error("expression ends too early: expected a value")
        if k == "ASSIGN":
            raise self.error("use '==' to compare ('=' only names a function argument)")
        if k in ("AND", "OR", "IN"):
            raise self.error(f"expected a value before '{t.text}'")
        raise self.error(f"expected a value, found {self.describe(t)}")

    def call(self, name_tok: _Token) -> Node:
        lparen = self.advance()
        args: list[Node] = []
        kwargs: list[tuple[str, Node, int]] = []
        while True:
            if not kwargs and self.is_run_position(name_tok.value, len(args)):
                self.run_ref()
            if self.tok.kind == "RPAREN":
                break
            if self.tok.kind == "EOF":
                raise self.error(
                    f"expected ')' to close the call to {name_tok.value}() at column "
                    f"{lparen.pos + 1}"
                )
            if (
                self.tok.kind == "NAME"
                and self.peek(1).kind == "ASSIGN"
                and "." not in self.tok.value
                and not self.tok.text.startswith("`")
            ):
                kw = self.advance()
                self.advance()
                spec = self.functions.get(name_tok.value)
                at = spec.params.index(kw.value) if spec and kw.value in spec.params else -1
                if at >= 0 and self.is_run_position(name_tok.value, at):
                    self.run_ref()
                if any(kw.value == existing for existing, _, _ in kwargs):
                    raise self.error(f"argument '{kw.value}' given twice", kw.pos)
                kwargs.append((kw.value, self.expr(), kw.pos))
            else:
                if kwargs:
                    raise self.error("positional argument after a named one")
                args.append(self.expr())
            if self.tok.kind == "COMMA":
                self.advance()
                continue
            if self.tok.kind != "RPAREN":
                raise self.error(
                    f"expected ',' or ')' in the call to {name_tok.value}(), "
                    f"found {self.describe(self.tok)}"
                )
        self.advance()
        return Call(name_tok.pos, name_tok.value, tuple(args), tuple(kwargs))


_CMP_OPS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}


def _check_depth(root: Node, src: str) -> None:
    # Left-leaning chains such as 1+1+1+... are built by loops, not recursion, so the parser's
    # own depth counter does not see them; measure the finished tree iteratively.
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH:
            raise ExprError("expression is nested too deeply", src, node.pos)
        if isinstance(node, (Binary, BoolOp)):
            stack.append((node.left, d + 1))
            stack.append((node.right, d + 1))
        elif isinstance(node, (Unary, Not)):
            stack.append((node.operand, d + 1))
        elif isinstance(node, ListExpr):
            stack.extend((x, d + 1) for x in node.items)
        elif isinstance(node, Call):
            stack.extend((x, d + 1) for x in node.args)
            stack.extend((v, d + 1) for _, v, _ in node.kwargs)


def parse(source: str, functions: Mapping[str, Function] | None = None) -> Node:
    """Parse ``source`` into a syntax tree, or raise :class:`ExprError`.

    ``functions`` (a function table) only matters for the run positions of its functions
    (:attr:`Function.run_params`), where a bare run name such as ``mlp-h4-lr3`` is one name.
    """
    if not isinstance(source, str):
        raise ExprError(f"an expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters")
    return _Parser(source, functions).parse()


# ---------------------------------------------------------------------------------------------
# Values and operators


class Glob(str):
    """The value of a pattern such as ``exp20_*``: a string that knows it is a glob."""

    __slots__ = ()

    def matches(self, text: str) -> bool:
        return fnmatch.fnmatchcase(text, self)


def truthy(v: Any) -> bool:
    """Truthiness used by ``and``/``or``/``not`` and filters (null and NaN are false)."""
    if v is None or v is False:
        return False
    if v is True:
        return True
    if isinstance(v, float):
        return v == v and v != 0.0
    if isinstance(v, (int, str, list, tuple, dict)):
        return bool(v)
    return True


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float))


def _arith(op: str) -> Callable[[Any, Any], Any]:
    def add(a: Any, b: Any) -> Any:
        if _is_num(a) and _is_num(b):
            return a + b
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        return None

    def sub(a: Any, b: Any) -> Any:
        return a - b if _is_num(a) and _is_num(b) else None

    def mul(a: Any, b: Any) -> Any:
        if _is_num(a) and _is_num(b):
            try:
                return a * b
            except OverflowError:
                return math.inf
        return None

    def div(a: Any, b: Any) -> Any:
        if not (_is_num(a) and _is_num(b)) or b == 0:
            return None
        try:
            return a / b
        except OverflowError:
            return math.copysign(math.inf, a) * math.copysign(1.0, b)

    def mod(a: Any, b: Any) -> Any:
        if not (_is_num(a) and _is_num(b)) or b == 0:
            return None
        try:
            return a % b
        except (OverflowError, ValueError):
            return None

    def pow_(a: Any, b: Any) -> Any:
        if not (_is_num(a) and _is_num(b)):
            return None
        if (
            isinstance(a, int)
            and isinstance(b, int)
            and b >= 0
            and max(abs(a).bit_length(), 1) * b <= 4096
        ):
            return a**b
        try:
            r = float(a) ** float(b)
        except ZeroDivisionError:
            return None
        except OverflowError:
            return math.inf if a > 0 or float(b) % 2 == 0 else -math.inf
        return None if isinstance(r, complex) else r

    return {"+": add, "-": sub, "*": mul, "/": div, "%": mod, "**": pow_}[op]


def _compare(op: str) -> Callable[[Any, Any], bool]:
    def eq(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        if isinstance(a, str) != isinstance(b, str):
            return False
        try:
            return bool(a == b)
        except Exception:
            return False

    def ne(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        return not eq(a, b)

    def ordered(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        def cmp(a: Any, b: Any) -> bool:
            if a is None or b is None:
                return False
            if (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
                return fn(a, b)
            return False

        return cmp

    def contains(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        if isinstance(b, str):
            return isinstance(a, str) and a in b
        if isinstance(b, (list, tuple, set, frozenset)):
            return any(eq(a, x) for x in b)
        if isinstance(b, Mapping):
            try:
                return a in b
            except TypeError:
                return False
        return False

    def not_contains(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        return not contains(a, b)

    table: dict[str, Callable[[Any, Any], bool]] = {
        "==": eq,
        "!=": ne,
        "<": ordered(lambda a, b: a < b),
        "<=": ordered(lambda a, b: a <= b),
        ">": ordered(lambda a, b: a > b),
        ">=": ordered(lambda a, b: a >= b),
        "in": contains,
        "not in": not_contains,
    }
    return table[op]


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    **{op: _arith(op) for op in ("+", "-", "*", "/", "%", "**")},
    **{op: _compare(op) for op in _CMP_OPS},
}


# ---------------------------------------------------------------------------------------------
# Functions


class Function(NamedTuple):
    """An entry of a function table.

    ``impl`` is called with the evaluated arguments in order (``params`` names them, for
    keyword arguments and messages; the first ``required`` are required, the rest take the
    defaults of ``impl``). With ``variadic`` any number of extra positional arguments is
    accepted. Arguments at ``key_params`` positions are not evaluated: the key text is passed
    (``best(val_loss)`` gives ``"val_loss"``; a string literal, a backquoted name or a pattern
    work too). With ``pass_env`` the evaluation environment comes first. With ``raw`` the
    function receives ``(env, args)`` where ``args`` is a list of :class:`Arg`, unevaluated,
    for functions that decide themselves what to evaluate (``argmin(final(loss), a, b)``).
    At ``run_params`` positions (and, for a variadic function whose last parameter is one, at
    every extra position) the argument is a run reference: a bare word of letters, digits,
    ``_ - . * ?`` up to the next ``,`` or ``)`` is one name (``final(mlp-h4-lr3, loss)``,
    ``final(5vbxlcek, loss)``), or a pattern when it holds ``*`` or ``?``.
    """

    impl: Callable[..., Any]
    params: tuple[str, ...] = ()
    required: int = 0
    variadic: bool = False
    key_params: tuple[int, ...] = ()
    pass_env: bool = False
    raw: bool = False
    doc: str = ""
    run_params: tuple[int, ...] = ()

    def signature(self, name: str) -> str:
        parts = [p if i < self.required else f"{p}?" for i, p in enumerate(self.params)]
        if self.variadic:
            parts.append("...")
        return f"{name}({', '.join(parts)})"


class Arg:
    """One unevaluated argument handed to a ``raw`` function.

    It is compiled only when :meth:`value` is first called, so a raw function may give its
    arguments a meaning of its own (``argmin(final(loss), a, b)``: ``final(loss)`` is not a
    valid call by itself).
    """

    __slots__ = ("_compile", "_fn", "node", "source")

    def __init__(
        self,
        node: Node,
        compile: Callable[[Node], Callable[[Any], Any]],
        source: str = "",
    ):
        self.node = node
        self.source = source
        self._compile = compile
        self._fn: Callable[[Any], Any] | None = None

    def __repr__(self) -> str:
        return f"Arg({self.node!r})"

    def value(self, env: Any) -> Any:
        """Evaluate the argument in ``env`` (compiled with the same function table)."""
        if self._fn is None:
            self._fn = self._compile(self.node)
        return self._fn(env)

    def key(self) -> str:
        """The argument as a key or name (``loss``, ```op/loss```, ``"loss"``, ``exp20_*``)."""
        k = _key_text(self.node)
        if k is None:
            raise ExprError("expected a key or a run name here", self.source, self.node.pos)
        return k

    @property
    def is_pattern(self) -> bool:
        return isinstance(self.node, Pattern)


def _key_text(node: Node) -> str | None:
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Pattern):
        return Glob(node.pattern)
    if isinstance(node, Const) and isinstance(node.value, str):
        return node.value
    return None


def _num_fn(f: Callable[[float], float], domain: Callable[[float], bool] | None = None):
    def impl(x: Any) -> Any:
        if not _is_num(x):
            return None
        if domain is not None and not domain(x):
            return None
        try:
            return f(x)
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError):
            return None

    return impl


def _log(x: Any, base: Any = None) -> Any:
    if not _is_num(x) or x <= 0:
        return None
    if base is None:
        return math.log(x)
    if not _is_num(base) or base <= 0 or base == 1:
        return None
    return math.log(x, base)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def impl(*args: Any) -> Any:
        vals = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        nums = [v for v in vals if _is_num(v) and v == v]
        return pick(nums) if nums else None

    return impl


def _round(x: Any, ndigits: Any = None) -> Any:
    if not _is_num(x):
        return None
    if isinstance(x, float) and not math.isfinite(x):
        return x
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int) or isinstance(ndigits, bool):
        return None
    return round(x, ndigits)


def _coalesce(*args: Any) -> Any:
    for a in args:
        if a is not None:
            return a
    return None


def _matches(value: Any, pattern: Any) -> Any:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    return fnmatch.fnmatchcase(value, pattern)


def _isnan(x: Any) -> bool:
    return isinstance(x, float) and x != x


BASE_FUNCTIONS: dict[str, Function] = {
    "exp": Function(_num_fn(math.exp), ("x",), 1, doc="e to the power x"),
    "log": Function(_log, ("x", "base"), 1, doc="natural log (or log to a base); null if x <= 0"),
    "log10": Function(_num_fn(math.log10, lambda x: x > 0), ("x",), 1, doc="base-10 log"),
    "log2": Function(_num_fn(math.log2, lambda x: x > 0), ("x",), 1, doc="base-2 log"),
    "sqrt": Function(_num_fn(math.sqrt, lambda x: x >= 0), ("x",), 1, doc="square root"),
    "abs": Function(_num_fn(abs), ("x",), 1, doc="absolute value"),
    "floor": Function(_num_fn(math.floor, math.isfinite), ("x",), 1, doc="round down"),
    "ceil": Function(_num_fn(math.ceil, math.isfinite), ("x",), 1, doc="round up"),
    "round": Function(_round, ("x", "ndigits"), 1, doc="Python rounding (half to even)"),
    "min": Function(_extreme(min), ("a",), 1, variadic=True, doc="smallest non-null argument"),
    "max": Function(_extreme(max), ("a",), 1, variadic=True, doc="largest non-null argument"),
    "coalesce": Function(_coalesce, ("a",), 1, variadic=True, doc="first non-null argument"),
    "matches": Function(_matches, ("value", "pattern"), 2, doc="glob match: matches(name, gen_*)"),
    "isnan": Function(_isnan, ("x",), 1, doc="true if x is NaN"),
}


# ---------------------------------------------------------------------------------------------
# Compilation

Binder = Callable[[str], Callable[[Any], Any]]


def _default_binder(name: str) -> Callable[[Any], Any]:
    def get(env: Any) -> Any:
        if isinstance(env, Mapping):
            return env.get(name)
        return None

    return get


class CompiledExpr:
    """A compiled expression: call it with an environment to get its value."""

    __slots__ = ("_fn", "ast", "names", "source")

    def __init__(self, source: str, ast: Node, fn: Callable[[Any], Any], names: tuple[str, ...]):
        self.source = source
        self.ast = ast
        self._fn = fn
        self.names = names  # names the expression reads through the binder, in order

    def __call__(self, env: Any = None) -> Any:
        return self._fn(env)

    def __repr__(self) -> str:
        return f"CompiledExpr({self.source!r})"


def compile_expr(
    source: str | Node,
    *,
    functions: Mapping[str, Function] | None = None,
    names: Binder | None = None,
    text: str | None = None,
) -> CompiledExpr:
    """Parse (if needed) and compile an expression.

    ``functions`` is the function table (default :data:`BASE_FUNCTIONS`); ``names`` binds a
    name to a getter ``env -> value`` once, at compile time (default: ``env.get(name)`` for a
    mapping). Raises :class:`ExprError` for every problem visible in the text.
    """
    table = BASE_FUNCTIONS if functions is None else functions
    if isinstance(source, Node):
        ast = source
        src = text or ""
    else:
        src = source
        ast = parse(source, table)
    binder = names or _default_binder
    used: list[str] = []
    fn = _Compiler(src, table, binder, used).compile(ast)
    return CompiledExpr(src, ast, fn, tuple(dict.fromkeys(used)))


def evaluate(
    source: str,
    env: Any = None,
    *,
    functions: Mapping[str, Function] | None = None,
    names: Binder | None = None,
) -> Any:
    """Compile and evaluate in one call (compile once with :func:`compile_expr` for loops)."""
    return compile_expr(source, functions=functions, names=names)(env)


class _Compiler:
    def __init__(self, src: str, table: Mapping[str, Function], binder: Binder, used: list[str]):
        self.src = src
        self.table = table
        self.binder = binder
        self.used = used

    def error(self, msg: str, pos: int) -> ExprError:
        return ExprError(msg, self.src, pos)

    def compile(self, node: Node) -> Callable[[Any], Any]:
        if isinstance(node, Const):
            v = node.value
            return lambda env: v
        if isinstance(node, Name):
            self.used.append(node.name)
            return self.binder(node.name)
        if isinstance(node, Pattern):
            g = Glob(node.pattern)
            return lambda env: g
        if isinstance(node, ListExpr):
            items = [self.compile(x) for x in node.items]
            return lambda env: [f(env) for f in items]
        if isinstance(node, Unary):
            f = self.compile(node.operand)
            if node.op == "-":

                def neg(env: Any) -> Any:
                    v = f(env)
                    return -v if _is_num(v) else None

                return neg

            def pos(env: Any) -> Any:
                v = f(env)
                return +v if _is_num(v) else None

            return pos
        if isinstance(node, Not):
            f = self.compile(node.operand)
            return lambda env: not truthy(f(env))
        if isinstance(node, BoolOp):
            lf = self.compile(node.left)
            rf = self.compile(node.right)
            if node.op == "and":
                return lambda env: truthy(lf(env)) and truthy(rf(env))
            return lambda env: truthy(lf(env)) or truthy(rf(env))
        if isinstance(node, Binary):
            if node.op in ("==", "!=") and (_is_null(node.left) or _is_null(node.right)):
                # "x == null" / "x != null" test for a missing value
                other = node.right if _is_null(node.left) else node.left
                of = self.compile(other)
                if node.op == "==":
                    return lambda env: of(env) is None
                return lambda env: of(env) is not None
            lf = self.compile(node.left)
            rf = self.compile(node.right)
            op = _OPERATORS[node.op]
            return lambda env: op(lf(env), rf(env))
        if isinstance(node, Call):
            return self.call(node)
        raise self.error(f"cannot compile {type(node).__name__}", node.pos)  # pragma: no cover

    def call(self, node: Call) -> Callable[[Any], Any]:
        spec = self.table.get(node.func)
        if spec is None:
            import difflib

            close = difflib.get_close_matches(node.func, list(self.table), n=1)
            hint = f" (did you mean {close[0]}()?)" if close else ""
            known = ", ".join(sorted(self.table))
            raise self.error(f"unknown function {node.func}(){hint}; known: {known}", node.pos)
        args: list[Node] = list(node.args)
        for kw, value, kpos in node.kwargs:
            if kw not in spec.params:
                raise self.error(
                    f"{node.func}() has no argument '{kw}'; it is {spec.signature(node.func)}",
                    kpos,
                )
            idx = spec.params.index(kw)
            if idx < len(args):
                raise self.error(f"argument '{kw}' of {node.func}() given twice", kpos)
            while len(args) < idx:
                if len(args) < spec.required:
                    raise self.error(
                        f"{node.func}() needs '{spec.params[len(args)]}' before '{kw}'", kpos
                    )
                # a skipped optional argument takes the default of the implementation
                args.append(Const(-1, _default_of(spec, len(args))))
            args.append(value)
        n = len(args)
        if n < spec.required or (not spec.variadic and n > len(spec.params)):
            if spec.variadic:
                want = f"at least {spec.required}"
            elif spec.required == len(spec.params):
                want = str(spec.required)
            else:
                want = f"{spec.required} to {len(spec.params)}"
            plural = "" if want == "1" else "s"
            raise self.error(
                f"{node.func}() takes {want} argument{plural} ({n} given): "
                f"{spec.signature(node.func)}",
                node.pos,
            )
        src = self.src
        name = node.func
        if spec.raw:
            raw_args = [Arg(a, self.compile, src) for a in args]
            impl = spec.impl

            def call_raw(env: Any) -> Any:
                try:
                    return impl(env, raw_args)
                except ExprError as e:
                    raise e._located(src, node.pos) from None

            return call_raw
        fns: list[Callable[[Any], Any]] = []
        for i, a in enumerate(args):
            if i in spec.key_params and not (isinstance(a, Const) and a.pos == -1):
                k = _key_text(a)
                if k is None and i in spec.run_params:
                    raise self.error(
                        f"argument '{spec.params[i]}' of {name}() must be a run name or glob "
                        "(letters, digits and _ - . * ?, or any name in backquotes)",
                        a.pos,
                    )
                if k is None:
                    pname = spec.params[i] if i < len(spec.params) else "key"
                    raise self.error(
                        f"argument '{pname}' of {name}() must be a key, e.g. {name}(val_loss) "
                        "(backquote keys with other characters: `op/loss`)",
                        a.pos,
                    )
                fns.append(_constant(k))
            else:
                fns.append(self.compile(a))
        impl = spec.impl
        pass_env = spec.pass_env

        def call(env: Any) -> Any:
            vals = [f(env) for f in fns]
            try:
                return impl(env, *vals) if pass_env else impl(*vals)
            except ExprError as e:
                raise e._located(src, node.pos) from None

        return call


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda env: value


def _is_null(node: Node) -> bool:
    return isinstance(node, Const) and node.value is None


def _default_of(spec: Function, index: int) -> Any:
    import inspect

    params = list(inspect.signature(spec.impl).parameters.values())
    if spec.pass_env:
        params = params[1:]
    if index >= len(params) or params[index].default is inspect.Parameter.empty:
        return None
    return params[index].default
