"""Derived metrics: ``NAME=EXPR`` columns computed per run (``--derive``).

An expression (see :mod:`expbook.expr` for the grammar) is evaluated per run, in one of two
ways:

* **Point-wise** (:func:`pointwise_keys`: numbers, keys, ``config.X``, arithmetic, ``exp log
  log10 log2 sqrt abs``, ``min``/``max`` of several values): on a run that logs every key it
  reads, it is a *series*, evaluated with numpy on the steps all its keys share (an inner
  join on step). ``--derive 'ppl=exp(val_loss)'`` is then a perplexity curve with its own
  best value, best step and value at any step; its value as a column is its last point.
* Otherwise (``best(...)``, ``throughput(...)``, a key that is only a summary value) it is one
  value per run; a bare key means its value in the run's summary (explicit summary values
  over each key's last logged value).

Derived values join the run's summary under ``NAME`` and derived series its metrics (see
:class:`DerivedRun`), so they work wherever a metric does: ``--metric``, ``--value``,
``--filter``, sorting, pivots, winners, plots, and later ``--derive`` expressions.

Functions (besides ``exp log log10 log2 sqrt abs floor ceil round min max coalesce matches
isnan`` of :data:`expbook.expr.BASE_FUNCTIONS`); ``key`` arguments are keys, not values:
``best(val_loss)``, ```best(`operator/loss`)```, ``best("operator/loss")``:

==================================  ===========================================================
``last(key)``                       last logged value (the summary value when nothing is logged)
``first(key)``                      first logged value
``best(key, mode="min")``           smallest logged value, or largest with ``"max"`` (NaN
                                    ignored); the summary value when nothing is logged
``best_step(key, mode="min")``      step of ``best`` (first on ties)
``last_step(key)``                  step of the last point
``count(key)``                      number of logged points (0 when none)
``at(key, step)``                   value logged at exactly ``step``; null if none
``mean(key, warmup=0)``             mean of the values after the first ``warmup`` points
``steady(key, warmup=2)``           median of the values after the first ``warmup`` points
                                    (steady-state epoch time without JIT/compile warm-up)
``throughput(elapsed_key,           steps per second between two steps:
from_step, to_step)``               ``(to - from) / (elapsed@to - elapsed@from)``, from an
                                    elapsed-seconds metric, or from the points' wall-clock time
                                    when ``elapsed_key`` is ``_time``; steps default to the
                                    first and last step of the elapsed series
``first_below(key, threshold)``     first step whose value is strictly below ``threshold``;
                                    null if none
``first_above(key, threshold)``     first step whose value is strictly above ``threshold``
``passes(key, threshold)``          ``last(key) < threshold`` (null when there is no value)
==================================  ===========================================================

NaN points are skipped by ``best``, ``mean``, ``steady`` and the crossing functions; ``last``
returns a NaN last value as it is (a diverged run).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..expr import (
    BASE_FUNCTIONS,
    Binary,
    Call,
    CompiledExpr,
    Const,
    ExprError,
    Function,
    Name,
    Node,
    Unary,
    compile_expr,
    iter_nodes,
)
from ..store.base import Series
from .keys import RUN_FIELDS, check_names, config_get, getter
from .view import MetricSummary, RunView, points

__all__ = [
    "RUN_FUNCTIONS",
    "Derived",
    "DerivedRun",
    "apply_derived",
    "compile_run_expr",
    "derive_series",
    "derived_kinds",
    "parse_derive",
    "pointwise_keys",
]


# ---------------------------------------------------------------------------------------------
# Per-run values


def _finite(v: Any) -> bool:
    """A number that is not NaN (infinity allowed: a threshold may be inf)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def _as_step(v: Any) -> int | None:
    """A step argument as an int; None for anything that is not a whole finite number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float):
        if not math.isfinite(v) or v != int(v):
            return None
        return int(v)
    return v


def _summary_number(run: RunView, key: str) -> Any:
    v = run.summary.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _check_mode(mode: Any) -> str:
    if mode not in ("min", "max"):
        raise ExprError(f'mode must be "min" or "max", not {mode!r}')
    return mode


def last_value(run: RunView, key: str) -> Any:
    """Last logged value of ``key``; the summary value when nothing is logged."""
    m = run.metrics.get(key)
    if m is not None:
        return m.last_value
    return run.summary.get(key)


def best_value(run: RunView, key: str, mode: str = "min") -> Any:
    """Smallest (or largest) logged value; the numeric summary value when nothing is logged."""
    m = run.metrics.get(key)
    if m is not None:
        return m.min_value if mode == "min" else m.max_value
    return _summary_number(run, key)


_NOT_READ = object()


def value_at(run: RunView, key: str, step: int) -> float | None:
    """The value logged at exactly ``step``, or None."""
    m: MetricSummary | None = run.metrics.get(key)
    if m is None or m.count == 0:
        return None
    if step == m.last_step:
        return m.last_value
    if step == m.first_step:
        return m.first_value
    if m.first_step is None or m.last_step is None or not m.first_step < step < m.last_step:
        return None
    known = getattr(run, "prefetched_values", None)  # the store's runs: read ahead in one query
    if known:
        hit = known.get((key, step), _NOT_READ)
        if hit is not _NOT_READ:
            return hit
    steps, values, _ = points(run, key)
    i = bisect.bisect_left(steps, step)
    if i < len(steps) and steps[i] == step:
        return float(values[i])
    return None


def _first(run: RunView, key: str) -> Any:
    m = run.metrics.get(key)
    return m.first_value if m is not None else run.summary.get(key)


def _best(run: RunView, key: str, mode: Any = "min") -> Any:
    return best_value(run, key, _check_mode(mode))


def _best_step(run: RunView, key: str, mode: Any = "min") -> Any:
    m = run.metrics.get(key)
    if m is None:
        return None
    return m.min_step if _check_mode(mode) == "min" else m.max_step


def _last_step(run: RunView, key: str) -> Any:
    m = run.metrics.get(key)
    return None if m is None else m.last_step


def _count(run: RunView, key: str) -> int:
    m = run.metrics.get(key)
    return 0 if m is None else m.count


def _at(run: RunView, key: str, step: Any) -> Any:
    s = _as_step(step)
    return None if s is None else value_at(run, key, s)


def _tail(run: RunView, key: str, warmup: Any) -> list[float] | None:
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ExprError(f"warmup must be a whole number of points >= 0, not {warmup!r}")
    if key not in run.metrics:
        return None
    _, values, _ = points(run, key)
    return [float(v) for v in values[warmup:] if v == v]


def _steady(run: RunView, key: str, warmup: Any = 2) -> Any:
    vals = _tail(run, key, warmup)
    if not vals:
        return None
    vals.sort()
    n = len(vals)
    mid = n // 2
    return vals[mid] if n % 2 else (vals[mid - 1] + vals[mid]) / 2.0


def _mean(run: RunView, key: str, warmup: Any = 0) -> Any:
    vals = _tail(run, key, warmup)
    if not vals:
        return None
    return math.fsum(vals) / len(vals)


def _crossing(run: RunView, key: str, threshold: Any, below: bool) -> Any:
    if not _finite(threshold):
        return None
    m = run.metrics.get(key)
    if m is None:
        return None
    # Summary fast path: no point can cross if the extreme value does not.
    if below and (m.min_value is None or not m.min_value < threshold):
        return None
    if not below and (m.max_value is None or not m.max_value > threshold):
        return None
    steps, values, _ = points(run, key)
    for s, v in zip(steps, values):
        if (v < threshold) if below else (v > threshold):
            return int(s)
    return None  # pragma: no cover - guarded by the fast path


def _first_below(run: RunView, key: str, threshold: Any) -> Any:
    return _crossing(run, key, threshold, True)


def _first_above(run: RunView, key: str, threshold: Any) -> Any:
    return _crossing(run, key, threshold, False)


def _passes(run: RunView, key: str, threshold: Any) -> Any:
    v = last_value(run, key)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not _finite(threshold):
        return None
    return bool(v < threshold)


def _index_of(steps: Sequence[int], step: int) -> int | None:
    i = bisect.bisect_left(steps, step)
    return i if i < len(steps) and steps[i] == step else None


def _throughput(run: RunView, elapsed_key: str, from_step: Any = None, to_step: Any = None) -> Any:
    a_step = None if from_step is None else _as_step(from_step)
    b_step = None if to_step is None else _as_step(to_step)
    if (from_step is not None and a_step is None) or (to_step is not None and b_step is None):
        return None
    if elapsed_key == "_time":
        return _throughput_wall(run, a_step, b_step)
    if elapsed_key not in run.metrics:
        return None
    steps, values, _ = points(run, elapsed_key)
    if not len(steps):
        return None
    a = int(steps[0]) if a_step is None else a_step
    b = int(steps[-1]) if b_step is None else b_step
    ia, ib = _index_of(steps, a), _index_of(steps, b)
    if ia is None or ib is None:
        return None
    return _rate(a, b, float(values[ia]), float(values[ib]))


def _throughput_wall(run: RunView, from_step: int | None, to_step: int | None) -> Any:
    # Wall-clock time of the points logged at those steps, from the first key (most points
    # first) that has a point with a wall time at both.
    cands = sorted(run.metrics.items(), key=lambda kv: -kv[1].count)
    for key, m in cands:
        if m.first_wall is None and m.last_wall is None:
            continue
        a = m.first_step if from_step is None else from_step
        b = m.last_step if to_step is None else to_step
        if a is None or b is None or m.first_step is None or m.last_step is None:
            continue
        if not (m.first_step <= a <= m.last_step and m.first_step <= b <= m.last_step):
            continue
        steps, _, walls = points(run, key)
        ia, ib = _index_of(steps, a), _index_of(steps, b)
        if ia is None or ib is None:
            continue
        wa, wb = walls[ia], walls[ib]
        if wa is None or wb is None or wa != wa or wb != wb:
            continue
        return _rate(a, b, float(wa), float(wb))
    return None


def _rate(a: int, b: int, ea: float, eb: float) -> float | None:
    dt = eb - ea
    if b == a or not dt > 0:
        return None
    return (b - a) / dt


def _key_fn(impl: Any, params: tuple[str, ...], required: int, doc: str) -> Function:
    return Function(impl, params, required, key_params=(0,), pass_env=True, doc=doc)


RUN_FUNCTIONS: dict[str, Function] = {
    **BASE_FUNCTIONS,
    "last": _key_fn(last_value, ("key",), 1, "last logged value"),
    "first": _key_fn(_first, ("key",), 1, "first logged value"),
    "best": _key_fn(_best, ("key", "mode"), 1, "min (or max) logged value"),
    "best_step": _key_fn(_best_step, ("key", "mode"), 1, "step of the best value"),
    "last_step": _key_fn(_last_step, ("key",), 1, "step of the last point"),
    "count": _key_fn(_count, ("key",), 1, "number of logged points"),
    "at": _key_fn(_at, ("key", "step"), 2, "value at exactly a step"),
    "mean": _key_fn(_mean, ("key", "warmup"), 1, "mean after warm-up points"),
    "steady": _key_fn(_steady, ("key", "warmup"), 1, "median after warm-up points"),
    "throughput": _key_fn(
        _throughput, ("elapsed_key", "from_step", "to_step"), 1, "steps per second"
    ),
    "first_below": _key_fn(_first_below, ("key", "threshold"), 2, "first step below"),
    "first_above": _key_fn(_first_above, ("key", "threshold"), 2, "first step above"),
    "passes": _key_fn(_passes, ("key", "threshold"), 2, "last value below threshold"),
}


def _bind(name: str):
    return getter(name, "metric")


def compile_run_expr(
    text: str, runs: Sequence[RunView] | None = None, extra: Iterable[str] = ()
) -> CompiledExpr:
    """Compile an expression evaluated against one run at a time.

    With ``runs``, names and key arguments that no run has raise :class:`ExprError` with a
    suggestion (``extra``: names known to exist anyway, e.g. earlier derived columns).
    """
    compiled = compile_expr(text, functions=RUN_FUNCTIONS, names=_bind)
    if runs is not None:
        keys: list[tuple[str, int]] = []
        for node in _calls(compiled):
            spec = RUN_FUNCTIONS[node.func]
            for i in spec.key_params:
                arg = node.args[i] if i < len(node.args) else None
                if isinstance(arg, Name):
                    k = arg.name
                elif isinstance(arg, Const) and isinstance(arg.value, str):
                    k = arg.value
                else:
                    continue
                if k != "_time":
                    keys.append((k, arg.pos))
        check_names(compiled, runs, extra=extra, keys=keys)
    return compiled


def _calls(compiled: CompiledExpr) -> list[Call]:
    return [n for n in iter_nodes(compiled.ast) if isinstance(n, Call)]


# ---------------------------------------------------------------------------------------------
# Derived columns

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Derived:
    """One ``NAME=EXPR`` column."""

    name: str
    expr: str

    def __str__(self) -> str:
        return f"{self.name}={self.expr}"


def parse_derive(spec: str | Derived | tuple[str, str]) -> Derived:
    """``"ppl=exp(val_loss)"`` -> ``Derived("ppl", "exp(val_loss)")``."""
    if isinstance(spec, Derived):
        return spec
    if isinstance(spec, tuple):
        name, expr = spec
    else:
        eq = spec.find("=")
        if eq <= 0 or spec[eq : eq + 2] == "==":
            raise ExprError(f"expected NAME=EXPR, e.g. ppl=exp(val_loss), not {spec!r}")
        name, expr = spec[:eq].strip(), spec[eq + 1 :].strip()
    if not _NAME_RE.match(name):
        raise ExprError(
            f"derived name {name!r} must start with a letter or '_' and contain only "
            "letters, digits, '_' and '.'"
        )
    if not expr:
        raise ExprError(f"derived column {name!r} has no expression after '='")
    return Derived(name, expr)


# ---------------------------------------------------------------------------------------------
# Point-wise expressions: derived series

_ARITH_OPS = frozenset({"+", "-", "*", "/", "%", "**"})
_UNARY_FUNCS = frozenset({"exp", "log10", "log2", "sqrt", "abs"})


def pointwise_keys(node: Node) -> list[str] | None:
    """The keys a point-wise expression reads, in order, or None when it is not point-wise.

    Point-wise: numbers, keys (bare or backquoted), ``config.X`` values, ``+ - * / % **``,
    unary minus, ``exp log log10 log2 sqrt abs``, and ``min``/``max`` of two or more values;
    at least one key. Anything else (``best(...)``, ``throughput(...)``, comparisons, run
    fields, strings) reduces a run to one value.
    """
    keys: list[str] = []
    if not _pointwise(node, keys) or not keys:
        return None
    return list(dict.fromkeys(keys))


def _pointwise(node: Node, keys: list[str]) -> bool:
    if isinstance(node, Const):
        v = node.value
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if isinstance(node, Name):
        name = node.name
        if not node.quoted and (name.startswith("config.") or name.startswith("run.")):
            return name.startswith("config.")
        if not node.quoted and name in RUN_FIELDS:
            return False
        if name.startswith("summary."):
            return False
        keys.append(name)
        return True
    if isinstance(node, Unary):
        return _pointwise(node.operand, keys)
    if isinstance(node, Binary):
        return (
            node.op in _ARITH_OPS and _pointwise(node.left, keys) and _pointwise(node.right, keys)
        )
    if isinstance(node, Call):
        if node.kwargs:
            return False
        n = len(node.args)
        ok = (
            (node.func in _UNARY_FUNCS and n == 1)
            or (node.func == "log" and n in (1, 2))
            or (node.func in ("min", "max") and n >= 2)
        )
        return ok and all(_pointwise(a, keys) for a in node.args)
    return False


def _np_eval(node: Node, run: RunView, arrays: dict[str, Any]) -> Any:
    """``node`` over numpy arrays (one value per aligned step); NaN where the scalar
    evaluation gives null (division by zero, log of a number <= 0, a missing config value)."""
    import numpy as np

    if isinstance(node, Const):
        return float(node.value)
    if isinstance(node, Name):
        if node.name in arrays:
            return arrays[node.name]
        v = config_get(run.config, node.name[7:])
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
    if isinstance(node, Unary):
        x = _np_eval(node.operand, run, arrays)
        return -x if node.op == "-" else x
    if isinstance(node, Binary):
        a = _np_eval(node.left, run, arrays)
        b = _np_eval(node.right, run, arrays)
        op = node.op
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "**":
            return np.power(a, b)
        zero = np.equal(b, 0)
        r = np.true_divide(a, b) if op == "/" else np.mod(a, b)
        return np.where(zero, np.nan, r)
    assert isinstance(node, Call)
    args = [_np_eval(a, run, arrays) for a in node.args]
    f = node.func
    if f == "exp":
        return np.exp(args[0])
    if f in ("log", "log10", "log2"):
        x = args[0]
        fn = {"log": np.log, "log10": np.log10, "log2": np.log2}[f]
        r = np.where(np.greater(x, 0), fn(np.where(np.greater(x, 0), x, 1.0)), np.nan)
        if len(args) == 2:
            base = args[1]
            ok = np.greater(base, 0) & np.not_equal(base, 1)
            r = np.where(ok, r / np.log(np.where(ok, base, 2.0)), np.nan)
        return r
    if f == "sqrt":
        return np.sqrt(args[0])
    if f == "abs":
        return np.abs(args[0])
    pick = np.fmin if f == "min" else np.fmax  # NaN-ignoring, as min/max skip nulls
    out = args[0]
    for a in args[1:]:
        out = pick(out, a)
    return out


def _key_points(run: RunView, key: str) -> Any:
    derived = getattr(run, "derived_series", None)
    if derived and key in derived:
        s = derived[key]
        return s.steps, s.values, s.walls
    peek = getattr(run, "peek_series", None)  # the store's runs: read without caching
    if peek is not None:
        s = peek(key)
        return s.steps, s.values, s.walls
    return points(run, key)


def derive_series(node: Node, run: RunView, keys: Sequence[str]) -> Series | None:
    """The derived series of a point-wise expression on the steps all its ``keys`` share
    (an inner join on step); None when ``run`` lacks one of the keys as a series or the keys
    share no step. A point's wall time is the latest of its keys' wall times."""
    import numpy as np

    metrics = run.metrics
    for k in keys:
        m = metrics.get(k)
        if m is None or not m.count:
            return None
    got = [_key_points(run, k) for k in keys]
    arrays: dict[str, Any] = {}
    if len(got) == 1:  # one key: its own steps, nothing to align
        s0, v0, w0 = got[0]
        steps = np.asarray(s0, dtype=np.int64)
        if not len(steps):
            return None
        arrays[keys[0]] = np.asarray(v0, dtype=float)
        walls = np.asarray(w0, dtype=float) if len(w0) else np.full(len(steps), np.nan)
    else:
        steps = np.asarray(got[0][0], dtype=np.int64)
        for s, _, _ in got[1:]:
            steps = np.intersect1d(steps, np.asarray(s, dtype=np.int64), assume_unique=True)
        if not len(steps):
            return None
        walls = np.full(len(steps), np.nan)
        for k, (ks, v, w) in zip(keys, got):
            idx = np.searchsorted(np.asarray(ks, dtype=np.int64), steps)
            arrays[k] = np.asarray(v, dtype=float)[idx]
            if len(w):
                walls = np.fmax(walls, np.asarray(w, dtype=float)[idx])
    with np.errstate(all="ignore"):
        values = _np_eval(node, run, arrays)
    if not (isinstance(values, np.ndarray) and values.shape == steps.shape):
        values = np.array(np.broadcast_to(values, steps.shape), dtype=float)
    elif values.dtype != np.float64:
        values = values.astype(np.float64)
    return Series(steps, walls, values)


class _Metrics(Mapping[str, MetricSummary]):
    """A run's metric summaries with those of its derived series on top."""

    __slots__ = ("_base", "_extra")

    def __init__(self, base: Mapping[str, MetricSummary], extra: dict[str, MetricSummary]):
        self._base = base
        self._extra = extra

    def __getitem__(self, key: str) -> MetricSummary:
        m = self._extra.get(key)
        return m if m is not None else self._base[key]

    def get(self, key: str, default: Any = None) -> Any:
        m = self._extra.get(key)
        return m if m is not None else self._base.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._extra or key in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from (k for k in self._extra if k not in self._base)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class DerivedRun:
    """A run with derived values added to its summary; everything else is the run's own.

    ``derived`` holds the computed values by name; ``base`` is the wrapped run. A point-wise
    expression evaluated on a run that logs its keys is a series: it is in
    ``derived_series``, its summary joins ``metrics`` and ``series(name)`` returns it, so
    best values, best steps and values at a step work on it as on a logged key.
    """

    __slots__ = ("base", "derived", "derived_series", "metrics", "summary")

    def __init__(
        self,
        base: RunView,
        derived: dict[str, Any],
        summary: dict[str, Any],
        derived_series: dict[str, Series] | None = None,
    ):
        self.base = base
        self.derived = derived
        self.summary = summary
        self.derived_series: dict[str, Series] = derived_series or {}
        self.metrics: Mapping[str, MetricSummary] = base.metrics
        if self.derived_series:
            self._refresh_metrics()

    def _refresh_metrics(self) -> None:
        from ..store.sqlite_write import _summarize

        extra = {k: _summarize(s.steps, s.walls, s.values) for k, s in self.derived_series.items()}
        self.metrics = _Metrics(self.base.metrics, extra)

    def add_series(self, name: str, series: Series) -> None:
        """Record ``name`` as a derived series of this run."""
        self.derived_series[name] = series
        self._refresh_metrics()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def series(self, key: str) -> Any:
        s = self.derived_series.get(key)
        return s if s is not None else self.base.series(key)

    def __repr__(self) -> str:
        return f"DerivedRun({self.base!r}, derived={self.derived!r})"


def apply_derived(
    runs: Sequence[RunView],
    specs: Iterable[str | Derived | tuple[str, str]],
    *,
    strict: bool = True,
) -> list[RunView]:
    """Runs with each ``NAME=EXPR`` evaluated and added to their summary, in order.

    A later expression may use an earlier name. With ``strict``, a name or key no run has
    raises :class:`ExprError` (with a suggestion) instead of giving null everywhere.
    """
    derived = [parse_derive(s) for s in specs]
    if not derived:
        return list(runs)
    names: list[str] = []
    compiled: list[tuple[str, CompiledExpr]] = []
    for d in derived:
        try:
            c = compile_run_expr(d.expr, runs if strict else None, extra=names)
        except ExprError as e:
            raise ExprError(f"--derive {d.name}: {e.message}", e.source, e.pos) from None
        compiled.append((d.name, c))
        names.append(d.name)
    plans = [(name, c, pointwise_keys(c.ast)) for name, c in compiled]
    out: list[Any] = []
    for run in runs:
        if isinstance(run, DerivedRun):
            wrapped = DerivedRun(
                run.base, dict(run.derived), dict(run.summary), dict(run.derived_series)
            )
        else:
            wrapped = DerivedRun(run, {}, dict(run.summary))
        values = wrapped.derived
        for name, c, keys in plans:
            s = None if keys is None else derive_series(c.ast, wrapped, keys)
            if s is not None:
                wrapped.add_series(name, s)
                v: Any = float(s.values[-1])
            else:
                if name in wrapped.derived_series:  # re-derived as a value: drop the old series
                    del wrapped.derived_series[name]
                    wrapped._refresh_metrics()
                v = c(wrapped)
            values[name] = v
            wrapped.summary[name] = v
        out.append(wrapped)
    return out


def derived_kinds(runs: Sequence[RunView]) -> dict[str, str]:
    """Each derived column of ``runs`` -> ``"series"`` (a point-wise expression, a series in at
    least one run) or ``"value"`` (one value per run)."""
    kinds: dict[str, str] = {}
    if not runs or not isinstance(runs[0], DerivedRun):  # apply_derived wraps every run
        return kinds
    for r in runs:
        if isinstance(r, DerivedRun):
            for name in r.derived:
                if name in r.derived_series:
                    kinds[name] = "series"
                else:
                    kinds.setdefault(name, "value")
    return kinds
