"""Run selection shared by every command: ``--project``, run names or globs, ``--filter``.

A filter is an expression (grammar in :mod:`expbook.expr`) that must be a condition::

    config.framework == "jax" and test_mse < 2
    "baseline" in tags and status == "finished"
    best(val_loss) < 4.7 or matches(name, gen_*)

Names resolve as described in :mod:`expbook.analysis.keys`: ``config.x`` (or a bare param
name), summary keys (a logged key's last value unless a summary value was set), the run
fields ``id name project status tags created_at finished_at``, and derived columns. The
functions of :mod:`expbook.analysis.derive` work too. A missing key is null, and every
comparison with null is false (``x == null`` tests for a missing key).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from ..errors import RunNotFound
from ..expr import Binary, BoolOp, Call, CompiledExpr, Const, ExprError, Not, truthy
from .derive import compile_run_expr
from .view import RunView

__all__ = ["compile_filter", "in_named_order", "match_names", "select_runs"]

_CONDITION_OPS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}


def compile_filter(
    text: str, runs: Sequence[RunView] | None = None, extra: Iterable[str] = ()
) -> CompiledExpr:
    """Compile a ``--filter`` expression; with ``runs``, names no run has are an error."""
    compiled = compile_run_expr(text, runs, extra)
    node = compiled.ast
    is_condition = (
        isinstance(node, (BoolOp, Not, Call))
        or (isinstance(node, Binary) and node.op in _CONDITION_OPS)
        or (isinstance(node, Const) and isinstance(node.value, bool))
    )
    if not is_condition:
        raise ExprError("a filter must be a condition, e.g. test_mse < 2", text, node.pos)
    return compiled


def _is_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def match_names(runs: Sequence[RunView], names: Iterable[str]) -> list[RunView]:
    """Runs whose name or id equals one of ``names``, or whose name matches a glob in it.

    Order is the order of ``runs``. A plain name (no ``* ? [``) that matches no run raises
    :class:`~expbook.errors.RunNotFound`.
    """
    wanted = list(names)
    exact = {n for n in wanted if not _is_glob(n)}
    globs = [n for n in wanted if _is_glob(n)]
    found: set[str] = set()
    out = []
    for run in runs:
        hit = None
        if run.name in exact:
            hit = run.name
        elif run.id in exact:
            hit = run.id
        if hit is not None:
            found.add(hit)
            out.append(run)
        elif any(fnmatch.fnmatchcase(run.name, g) for g in globs):
            out.append(run)
    missing = [n for n in wanted if n in exact and n not in found]
    if missing:
        raise RunNotFound(f"no run named {', '.join(repr(m) for m in missing)}")
    return out


def in_named_order(runs: Sequence[RunView], names: Iterable[str]) -> list[RunView]:
    """``runs`` in the order ``names`` names them: a name's or id's run, a glob's matches by
    name; each run once. Runs no name selects come last, in their order."""
    out: list[RunView] = []
    seen: set[int] = set()

    def add(run: RunView) -> None:
        if id(run) not in seen:
            seen.add(id(run))
            out.append(run)

    runs = list(runs)
    for n in names:
        if _is_glob(n):
            for run in sorted(
                (r for r in runs if fnmatch.fnmatchcase(r.name, n)), key=lambda r: r.name
            ):
                add(run)
        else:
            for run in runs:
                if run.name == n or run.id == n:
                    add(run)
    for run in runs:
        add(run)
    return out


def select_runs(
    runs: Iterable[RunView],
    filter: str | CompiledExpr | None = None,
    names: Iterable[str] | None = None,
    project: str | None = None,
    *,
    strict: bool = True,
) -> list[RunView]:
    """The runs in ``project``, named by ``names`` (names, ids or globs), passing ``filter``.

    Input order is kept. With ``strict`` a filter that reads a key no run has raises
    :class:`~expbook.expr.ExprError` (``no run has 'test_mes' (did you mean 'test_mse'?)``)
    instead of silently selecting nothing.
    """
    out = list(runs)
    if project is not None:
        out = [r for r in out if r.project == project]
    if names:
        out = match_names(out, names)
    if filter is not None:
        if isinstance(filter, CompiledExpr):
            pred = filter
        else:
            try:
                pred = compile_filter(filter, out if strict else None)
            except ExprError as e:
                raise ExprError(f"--filter: {e.message}", e.source, e.pos) from None
        out = [r for r in out if truthy(pred(r))]
    return out
