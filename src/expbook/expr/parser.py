"""The expression language's tokenizer, syntax tree and recursive-descent parser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import _MAX_PARSE_FRAMES, MAX_DEPTH, MAX_LENGTH, ExprError

if TYPE_CHECKING:
    from .evaluator import Function


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
