"""Evaluating a parsed expression: values and operators, the function table, and the
compiler that turns a syntax tree into a Python closure."""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .errors import ExprError
from .parser import (
    _CMP_OPS,
    Binary,
    BoolOp,
    Call,
    Const,
    ListExpr,
    Name,
    Node,
    Not,
    Pattern,
    Unary,
    parse,
)

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
