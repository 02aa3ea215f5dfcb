"""Journal expressions: inline values (``{{ EXPR | fmt }}``) and checkable claims.

A journal expression uses the grammar of :mod:`expbook.expr` with functions that take *run
names* (or ids, or globs) and metric keys as arguments::

    final(run, metric)            last logged value (the summary value when nothing is logged)
    best(run, metric, mode="min") smallest (or largest) logged value
    first(run, metric)            first logged value
    at(run, metric, step)         value at exactly ``step`` (null if none)
    factor(a, b, metric)          final(a) / final(b): improvement of b over a (>1: b is better)
    ratio(a, b, metric)           final(a) / final(b) (same as factor, reads better for times)
    first_below(run, metric, t)   first step whose value is strictly below t; null if never
    first_above(run, metric, t)   first step whose value is strictly above t; null if never
    passes(run, metric, t)        final(run) < t
    steady(run, metric, warmup=2) median of the values after the first ``warmup`` points
    mean(run, metric, warmup=0)   mean of the values after the first ``warmup`` points
    last_step(run, metric?)       last step of the metric (of any metric when omitted)
    elapsed(run, key?)            run time in seconds: the last value of an elapsed-time metric
                                  (``elapsed_s``, ``elapsed``, ``time_s``, ...), else the
                                  wall time between creation and finish
    time_ratio(b, a)              elapsed(b) / elapsed(a)
    params(run)                   parameter count from the config (``n_params``, ...)
    params_ratio(a, b)            params(a) / params(b)
    config(run, key)              a config value (dotted keys)
    summary(run, key)             a summary value
    count(xs)                     how many items of a list are true (``count(passes(exp20_*, loss,
                                  1e-6))``: a glob in place of a run gives one result per run)
    argmin(f(metric), a, b, ...)  name of the run with the smallest f(run, metric)
    argmax(f(metric), a, b, ...)  name of the run with the largest f(run, metric)

plus the number functions of :data:`expbook.expr.BASE_FUNCTIONS` (``round exp log min max
abs ...``). A run argument is a run reference: a bare name may hold ``-`` and ``.`` and start
with a digit (``final(mlp-h4-lr3, val_loss)``, ``final(5vbxlcek, loss)``); other names go in
backquotes. A run that does not exist, or a metric a run does not have, makes the expression
*unevaluable* (:class:`JournalError`), never silently null.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analysis.derive import (
    _first_above,
    _first_below,
    _mean,
    _steady,
    best_value,
    last_value,
    value_at,
)
from ..analysis.keys import config_get
from ..expr import (
    BASE_FUNCTIONS,
    Arg,
    Binary,
    Call,
    CompiledExpr,
    ExprError,
    Function,
    Glob,
    Name,
    compile_expr,
    truthy,
)

__all__ = [
    "JOURNAL_FUNCTIONS",
    "ClaimResult",
    "JournalEnv",
    "JournalError",
    "compile_journal",
    "evaluate_claim",
    "format_value",
]

ELAPSED_KEYS = (
    "elapsed_s",
    "elapsed",
    "elapsed_time",
    "time_s",
    "wall_time",
    "train_runtime",
    "runtime",
    "_runtime",
)
PARAM_KEYS = ("n_params", "num_params", "n_parameters", "num_parameters", "params", "param_count")


class JournalError(ExprError):
    """An expression that cannot be evaluated against the store (run or metric missing)."""


class RunList(list):
    """Results of a function applied to every run matching a glob; ``names`` in order."""

    names: list[str]


@dataclass
class JournalEnv:
    """The runs a journal expression sees, by name and by id."""

    runs: Sequence[Any]
    by_name: dict[str, list[Any]] = field(init=False)
    by_id: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {}
        self.by_id = {}
        for r in self.runs:
            self.by_name.setdefault(r.name, []).append(r)
            self.by_id[r.id] = r

    def run(self, ref: str) -> Any:
        got = self.by_name.get(ref)
        if got:
            if len(got) > 1:
                ids = ", ".join(r.id for r in got)
                raise JournalError(f"run name {ref!r} is ambiguous (ids {ids}): use an id")
            return got[0]
        r = self.by_id.get(ref)
        if r is not None:
            return r
        import difflib

        close = difflib.get_close_matches(ref, list(self.by_name), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise JournalError(f"no run named {ref!r}{hint}")

    def glob(self, pattern: str) -> list[Any]:
        found = sorted((r for r in self.runs if fnmatch.fnmatchcase(r.name, pattern)), key=_name)
        if not found:
            raise JournalError(f"no run matches {pattern!r}")
        return found


def _name(r: Any) -> str:
    return r.name


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need_metric(run: Any, key: str) -> None:
    if key not in run.metrics and key not in run.summary:
        import difflib

        keys = sorted({*run.metrics, *run.summary})
        close = difflib.get_close_matches(key, keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise JournalError(f"run {run.name!r} has no metric {key!r}{hint}")


def _per_run(fn: Any) -> Any:
    """Lift ``fn(run, *args)`` to take a run reference; a glob maps over matching runs."""

    def impl(env: JournalEnv, ref: str, *args: Any) -> Any:
        if not isinstance(env, JournalEnv):
            raise JournalError("journal functions need a store")
        if isinstance(ref, Glob):
            runs = env.glob(ref)
            out = RunList(fn(r, *args) for r in runs)
            out.names = [r.name for r in runs]
            return out
        return fn(env.run(ref), *args)

    return impl


def _final(run: Any, key: str) -> Any:
    _need_metric(run, key)
    return last_value(run, key)


def _best(run: Any, key: str, mode: Any = "min") -> Any:
    if mode not in ("min", "max"):
        raise ExprError(f'mode must be "min" or "max", not {mode!r}')
    _need_metric(run, key)
    return best_value(run, key, mode)


def _first(run: Any, key: str) -> Any:
    _need_metric(run, key)
    m = run.metrics.get(key)
    return m.first_value if m is not None else run.summary.get(key)


def _at(run: Any, key: str, step: Any) -> Any:
    _need_metric(run, key)
    if not _num(step) or step != int(step):
        return None
    return value_at(run, key, int(step))


def _fb(run: Any, key: str, t: Any) -> Any:
    _need_metric(run, key)
    return _first_below(run, key, t)


def _fa(run: Any, key: str, t: Any) -> Any:
    _need_metric(run, key)
    return _first_above(run, key, t)


def _steady_of(run: Any, key: str, warmup: Any = 2) -> Any:
    _need_metric(run, key)
    return _steady(run, key, warmup)


def _mean_of(run: Any, key: str, warmup: Any = 0) -> Any:
    _need_metric(run, key)
    return _mean(run, key, warmup)


def _passes(run: Any, key: str, t: Any) -> Any:
    v = _final(run, key)
    if not _num(v) or not _num(t):
        return None
    return bool(v < t)


def _last_step(run: Any, key: str | None = None) -> Any:
    if key is not None:
        _need_metric(run, key)
        m = run.metrics.get(key)
        return None if m is None else m.last_step
    steps = [m.last_step for m in run.metrics.values() if m.last_step is not None]
    if not steps:
        raise JournalError(f"run {run.name!r} has no logged points")
    return max(steps)


def _elapsed(run: Any, key: str | None = None) -> Any:
    if key is not None:
        return _final(run, key)
    for k in ELAPSED_KEYS:
        if k in run.metrics or _num(run.summary.get(k)):
            return last_value(run, k)
    if run.created_at is not None and run.finished_at is not None:
        return run.finished_at - run.created_at
    raise JournalError(f"run {run.name!r} has no elapsed time (no {ELAPSED_KEYS[0]} metric)")


def _params(run: Any) -> Any:
    for k in PARAM_KEYS:
        v = config_get(run.config, k)
        if v is None:
            v = run.summary.get(k)
        if _num(v):
            return v
    raise JournalError(f"run {run.name!r} has no parameter count (config n_params)")


def _config(run: Any, key: str) -> Any:
    v = config_get(run.config, key)
    if v is None:
        raise JournalError(f"run {run.name!r} has no config {key!r}")
    return v


def _summary(run: Any, key: str) -> Any:
    if key not in run.summary:
        _need_metric(run, key)
    return run.summary.get(key)


def _div(a: Any, b: Any) -> Any:
    if isinstance(a, RunList) or isinstance(b, RunList):
        raise JournalError("a glob cannot be used in a ratio")
    if not _num(a) or not _num(b) or b == 0:
        return None
    return a / b


def _two_runs(fn: Any) -> Any:
    def impl(env: JournalEnv, a: str, b: str, *args: Any) -> Any:
        return _div(_per_run(fn)(env, a, *args), _per_run(fn)(env, b, *args))

    return impl


def _count(xs: Any) -> Any:
    if not isinstance(xs, (list, tuple)):
        raise JournalError("count() takes a list, e.g. count(passes(exp20_*, loss, 1e-6))")
    return sum(1 for x in xs if truthy(x))


def _arg_extreme(pick_max: bool) -> Any:
    def impl(env: JournalEnv, args: list[Arg]) -> Any:
        if len(args) < 2:
            raise ExprError("argmin/argmax take a template and at least one run")
        tmpl = args[0].node
        if not isinstance(tmpl, Call) or tmpl.func not in _RUN_FUNCS:
            raise ExprError("the first argument must be a function of a run, e.g. final(loss)")
        best_name, best_v = None, None
        for a in args[1:]:
            ref = a.key()
            runs = env.glob(ref) if isinstance(ref, Glob) else [env.run(ref)]
            for run in runs:
                call = Call(tmpl.pos, tmpl.func, (Name(a.node.pos, run.name), *tmpl.args))
                v = compile_expr(call, functions=JOURNAL_FUNCTIONS, names=_bind)(env)
                if not _num(v) or v != v:
                    continue
                if best_v is None or (v > best_v if pick_max else v < best_v):
                    best_name, best_v = run.name, v
        return best_name

    return impl


def _bind(name: str) -> Any:
    def get(env: Any) -> Any:
        raise JournalError(
            f"bare name {name!r}: refer to a run's value with a function, e.g. final(run, {name})"
        )

    return get


def _fn(impl: Any, params: tuple[str, ...], required: int, keys: tuple[int, ...], doc: str):
    runs = tuple(i for i, p in enumerate(params) if p in ("run", "a", "b"))
    return Function(
        impl, params, required, key_params=keys, pass_env=True, doc=doc, run_params=runs
    )


_RUN_FUNCS: dict[str, Function] = {
    "final": _fn(_per_run(_final), ("run", "metric"), 2, (0, 1), "last value"),
    "last": _fn(_per_run(_final), ("run", "metric"), 2, (0, 1), "last value"),
    "best": _fn(_per_run(_best), ("run", "metric", "mode"), 2, (0, 1), "best value"),
    "first": _fn(_per_run(_first), ("run", "metric"), 2, (0, 1), "first value"),
    "at": _fn(_per_run(_at), ("run", "metric", "step"), 3, (0, 1), "value at a step"),
    "first_below": _fn(_per_run(_fb), ("run", "metric", "t"), 3, (0, 1), "first step below t"),
    "first_above": _fn(_per_run(_fa), ("run", "metric", "t"), 3, (0, 1), "first step above t"),
    "passes": _fn(_per_run(_passes), ("run", "metric", "t"), 3, (0, 1), "final < t"),
    "steady": _fn(
        _per_run(_steady_of), ("run", "metric", "warmup"), 2, (0, 1), "median after warm-up"
    ),
    "mean": _fn(_per_run(_mean_of), ("run", "metric", "warmup"), 2, (0, 1), "mean after warm-up"),
    "last_step": _fn(_per_run(_last_step), ("run", "metric"), 1, (0, 1), "last step"),
    "elapsed": _fn(_per_run(_elapsed), ("run", "key"), 1, (0, 1), "run time in seconds"),
    "params": _fn(_per_run(_params), ("run",), 1, (0,), "parameter count"),
    "config": _fn(_per_run(_config), ("run", "key"), 2, (0, 1), "config value"),
    "summary": _fn(_per_run(_summary), ("run", "key"), 2, (0, 1), "summary value"),
}

JOURNAL_FUNCTIONS: dict[str, Function] = {
    **BASE_FUNCTIONS,
    **_RUN_FUNCS,
    "factor": _fn(_two_runs(_final), ("a", "b", "metric"), 3, (0, 1, 2), "final(a) / final(b)"),
    "ratio": _fn(_two_runs(_final), ("a", "b", "metric"), 3, (0, 1, 2), "final(a) / final(b)"),
    "time_ratio": _fn(_two_runs(_elapsed), ("b", "a"), 2, (0, 1), "elapsed(b) / elapsed(a)"),
    "params_ratio": _fn(_two_runs(_params), ("a", "b"), 2, (0, 1), "params(a) / params(b)"),
    "count": Function(_count, ("xs",), 1, doc="number of true items"),
    "argmin": Function(
        _arg_extreme(False), ("f", "run"), 2, True, raw=True, pass_env=False, run_params=(1,)
    ),
    "argmax": Function(
        _arg_extreme(True), ("f", "run"), 2, True, raw=True, pass_env=False, run_params=(1,)
    ),
}


def compile_journal(text: str) -> CompiledExpr:
    """Compile a journal expression (raises :class:`ExprError` for a bad text)."""
    return compile_expr(text, functions=JOURNAL_FUNCTIONS, names=_bind)


# ---------------------------------------------------------------------------------------------
# Formatting

_FMT_RE = re.compile(r"^[\s\w.,+%#<>^=-]*$")


def split_format(inner: str) -> tuple[str, str | None]:
    """``"final(a, loss) | .2e"`` -> ``("final(a, loss)", ".2e")``."""
    expr, bar, fmt = inner.rpartition("|")
    if bar and _FMT_RE.match(fmt) and expr.strip():
        expr = expr.rstrip()
        if expr.endswith("\\"):  # `\|` inside a Markdown table cell
            expr = expr[:-1]
        return expr.strip(), fmt.strip() or None
    return inner.strip(), None


def format_value(v: Any, fmt: str | None = None) -> str:
    """A value for prose: ``fmt`` is a Python format spec (``.2e``, ``.4f``, ``+.1%``) or
    ``int``; null is ``none``; without ``fmt`` numbers keep 5 significant digits."""
    from .._output import fmt_number

    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ", ".join(format_value(x, fmt) for x in v)
    if fmt and _num(v):
        if fmt == "int":
            return str(round(v)) if math.isfinite(v) else fmt_number(v)
        try:
            return format(v, fmt)
        except (ValueError, TypeError) as e:
            raise ExprError(f"bad format {fmt!r}: {e}") from None
    if fmt and fmt != "int":
        try:
            return format(v, fmt)
        except (ValueError, TypeError) as e:
            raise ExprError(f"bad format {fmt!r}: {e}") from None
    return fmt_number(v)


# ---------------------------------------------------------------------------------------------
# Claims


@dataclass
class ClaimResult:
    """One evaluated claim.

    ``status`` is ``holds`` or ``fails`` (a comparison, or a ``passes()`` threshold), ``value``
    (an expression to report) or
    ``error`` (cannot be evaluated: ``message`` says why). ``value`` is the claim's main
    quantity: the left side of a comparison (inside ``round()``), the final value for
    ``passes()``, else the expression's value; ``result`` is the expression's own value.
    """

    id: str
    expr: str
    status: str
    value: Any = None
    result: Any = None
    holds: bool | None = None
    message: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    def to_jsonable(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "expr": self.expr,
            "status": self.status,
            "value": self.value,
            "result": self.result,
            "holds": self.holds,
            "message": self.message,
            "line": self.line,
        }
        out.update(self.detail)
        return out

    def summary_text(self) -> str:
        """A short status for a rendered document."""
        if self.status == "error":
            return f"⚠ cannot evaluate: {self.message}"
        shown = format_value(self.value)
        if "rounded" in self.detail:
            shown += f", rounded {format_value(self.detail['rounded'])}"
        if "threshold" in self.detail and self.status in ("holds", "fails"):
            t = self.detail["threshold"]
            t_text = format(t, "g") if _num(t) else format_value(t)
            if self.status == "holds":
                return f"✅ holds ({shown} < {t_text})"
            return f"❌ fails ({shown}, not < {t_text})"
        if self.status == "holds":
            return f"✅ holds ({shown})"
        if self.status == "fails":
            return f"❌ fails ({shown})"
        return shown if self.result is self.value else f"{format_value(self.result)} ({shown})"


_CMP = {"==", "!=", "<", "<=", ">", ">="}


def _sub(text: str, node: Any, env: JournalEnv) -> Any:
    return compile_expr(node, functions=JOURNAL_FUNCTIONS, names=_bind, text=text)(env)


def evaluate_claim(cid: str, text: str, env: JournalEnv, line: int | None = None) -> ClaimResult:
    """Evaluate the claim ``text`` (see :class:`ClaimResult`)."""
    try:
        compiled = compile_journal(text)
        node = compiled.ast
        result = compiled(env)
        detail: dict[str, Any] = {}
        value = result
        holds: bool | None = None
        status = "value"
        if isinstance(node, Binary) and node.op in _CMP:
            left = node.left
            if isinstance(left, Call) and left.func == "round" and left.args:
                detail["rounded"] = _sub(text, left, env)
                left = left.args[0]
            value = _sub(text, left, env)
            right = _sub(text, node.right, env)
            if value is None or right is None:
                what = "left" if value is None else "right"
                raise JournalError(f"the {what} side of the comparison has no value")
            holds = bool(result)
            status = "holds" if holds else "fails"
        elif isinstance(node, Call) and node.func == "passes":
            value = _sub(text, Call(node.pos, "final", node.args[:2]), env)
            detail["threshold"] = _sub(text, node.args[2], env) if len(node.args) > 2 else None
            # a threshold claim holds or fails (over a glob: holds when every run passes)
            items = list(result) if isinstance(result, RunList) else [result]
            if not items or not all(isinstance(x, bool) for x in items):
                raise JournalError("passes() needs a numeric final value and threshold")
            holds = all(items)
            status = "holds" if holds else "fails"
        elif isinstance(node, Call) and node.func == "count" and node.args:
            inner = _sub(text, node.args[0], env)
            if isinstance(inner, RunList):
                detail["runs"] = [n for n, x in zip(inner.names, inner) if truthy(x)]
                detail["total"] = len(inner)
        if isinstance(value, RunList):
            value = list(value)
        if isinstance(result, RunList):
            result = list(result)
        return ClaimResult(cid, text, status, value, result, holds, None, detail, line)
    except ExprError as e:
        return ClaimResult(cid, text, "error", message=str(e), line=line)


def claims_table(results: Iterable[ClaimResult]) -> Any:
    """A :class:`~expbook.analysis.Table` of claim results."""
    from ..analysis import Table

    rows = [[r.id, r.status, r.value, r.holds, r.expr, r.message] for r in results]
    return Table(
        ["id", "status", "value", "holds", "expr", "message"],
        rows,
        kind="claims",
    )
