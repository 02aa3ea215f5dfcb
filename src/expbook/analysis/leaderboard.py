"""``expbook leaderboard``: one row per run for one metric, best first.

Per run: the best value and its step, the last value and its step, optionally the value at
step N, the number of points, the status and chosen param columns. Best and last come from the
store's per-key summaries, so ranking 10,000 runs scans no points; only ``at_step`` reads a
series, and only when N lies strictly between a run's first and last step.

The metric may be a logged key, a summary-only value (``test_mse`` from a summary file: best
and last are that value, steps are null, ``points`` is 0, ``source`` is ``"summary"``) or a
derived column: a point-wise expression of logged keys is a series (``source`` is ``"derived
series"``: best, best step, last and the value at a step are those of the derived points),
any other is one value per run (``source`` is ``"derived"``). The JSON's ``derived`` maps each
derived column to ``"series"`` or ``"value"`` (present only with ``derive``). Runs without the
metric are listed last with a note, never dropped.

JSON shape (``kind: "leaderboard"``)::

    {"kind": "leaderboard", "metric": "val_loss", "mode": "min", "sort": "best",
     "at_step": 15000 | null, "top": null,
     "columns": ["rank", "run", "id", "status", "best", "best_step", "last", "last_step",
                 "at_value", "points", "source", "note", ...params, ...extra],
     "rows": [{"rank": 1, "run": "w3_25m_screen_vanilla_25m", "id": "3f2a9c1b",
               "status": "finished", "best": 4.552412, "best_step": 13500,
               "last": 4.555377, "last_step": 15000, "at_value": 4.555377, "points": 30,
               "source": "series", "note": null, "lr": 0.0003, "ppl": 95.14}],
     "notes": ["1 run has no 'val_loss' (listed last)"]}

``at_value`` is present only with ``at_step``; ``rank`` is null for runs without the metric;
``note`` says ``"no 'val_loss'"`` or ``"no point at step 15000"`` where that applies.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .keys import getter, require_keys
from .table import Table
from .view import RunView

if TYPE_CHECKING:
    from .derive import Derived

__all__ = ["leaderboard", "leaderboard_df"]

SORTS = ("best", "last", "at")


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def leaderboard(
    runs: Sequence[RunView],
    metric: str,
    mode: str = "min",
    at_step: int | None = None,
    top: int | None = None,
    params: Iterable[str] = (),
    columns: Iterable[str] = (),
    sort: str = "best",
    derive: Iterable[str | Derived] = (),
) -> Table:
    """Rank ``runs`` by ``metric``.

    ``mode`` is ``min`` or ``max``; ``sort`` is ``best`` (default), ``last`` or ``at`` (the
    value at ``at_step``: seed 002's fixed-step comparison); ``top`` keeps the first K rows;
    ``params`` adds param columns (config first); ``columns`` adds metric/summary columns;
    ``derive`` (``NAME=EXPR``) computes derived columns first, which are shown too.
    """
    return _leaderboard(runs, metric, mode, at_step, top, params, columns, sort, derive)


def _leaderboard(
    runs: Sequence[RunView],
    metric: str,
    mode: str = "min",
    at_step: int | None = None,
    top: int | None = None,
    params: Iterable[str] = (),
    columns: Iterable[str] = (),
    sort: str = "best",
    derive: Iterable[str | Derived] = (),
    more_missing: int = 0,
    more_unscored: int = 0,
    present: Iterable[str] = (),
) -> Table:
    """:func:`leaderboard`; ``more_missing`` and ``more_unscored`` count runs left out of
    ``runs`` that would have been listed after the ranked ones (without the metric, without
    a value to sort by): the store ranked them, and only the notes count them; ``present``
    names param and column keys that some run left out has (the store said so)."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if sort == "at" and at_step is None:
        raise ValueError("sort='at' needs at_step")
    if top is not None and top < 0:
        raise ValueError("top must be >= 0")
    derived = list(derive)
    if derived:
        from .derive import apply_derived

        runs = apply_derived(runs, derived)
    # derived runs exist only once the derive module is loaded: without it, none to check
    derive_mod = sys.modules.get(__package__ + ".derive")
    kinds = derive_mod.derived_kinds(runs) if derive_mod else {}
    derived_cls = derive_mod.DerivedRun if derive_mod else ()
    if at_step is not None:
        from .derive import value_at
    series_names = {k for k, v in kinds.items() if v == "series"}
    derived_names = [c for c in _derived_names(runs, derived_cls) if c != metric]
    params = list(params)
    columns = list(columns)
    require_keys(runs, [metric], "metric", extra=kinds)
    known = {**kinds, **dict.fromkeys(present, "")}
    require_keys(runs, params, "param", prefer="param", extra=known)
    require_keys(runs, columns, "column", extra=known)
    extra = [c for c in [*columns, *derived_names] if c != metric and c not in params]
    extra = list(dict.fromkeys(extra))
    pget = [getter(p, "param") for p in params]
    xget = [getter(c, "metric") for c in extra]

    use_max = mode == "max"
    has_at = at_step is not None
    getters = [*pget, *xget]
    sort_col = {"best": 4, "last": 6, "at": 8}[sort]
    scored: list[tuple[Any, int, list[Any]]] = []
    unscored: list[list[Any]] = []  # has the metric, but no value to sort by (NaN, no point)
    missing: list[list[Any]] = []  # has no such metric: always last
    n_no_point = 0
    # The loop reads only the store's per-key summaries (one dict lookup per run); a series
    # is read only for at_step strictly inside a run's step range.
    for idx, run in enumerate(runs):
        m = run.metrics.get(metric)
        at_value = None
        note = None
        if m is not None and m.count:
            if use_max:
                row = [None, run.name, run.id, run.status, m.max_value, m.max_step]
            else:
                row = [None, run.name, run.id, run.status, m.min_value, m.min_step]
            row += (m.last_value, m.last_step)
            source = (
                "derived series"
                if metric in series_names and metric in run.derived_series  # type: ignore[attr-defined]
                else "series"
            )
            if has_at:
                at_value = value_at(run, metric, at_step)  # type: ignore[arg-type]
                if at_value is None:
                    note = f"no point at step {at_step}"
                    n_no_point += 1
                row.append(at_value)
            if row[4] is None:
                note = note or "every value is NaN"
            row += (m.count, source, note)
        else:
            v = run.summary.get(metric)
            if _num(v):
                is_derived = isinstance(run, derived_cls) and metric in run.derived
                source = "derived" if is_derived else "summary"
                if has_at:
                    note = f"no point at step {at_step} ({source} value only)"
                    n_no_point += 1
            else:
                v = None
                source = None
                note = f"no '{metric}'"
            row = [None, run.name, run.id, run.status, v, None, v, None]
            if has_at:
                row.append(None)
            row += (0, source, note)
        if getters:
            row += [g(run) for g in getters]
        key: Any = row[sort_col]
        if key is not None and key == key and _num(key):
            scored.append((-key if use_max else key, idx, row))
        elif source is None:
            missing.append(row)
        else:
            unscored.append(row)
    scored.sort()  # by value, then input order (idx is unique: rows are never compared)
    rows = [r for _, _, r in scored]
    for rank, r in enumerate(rows, 1):
        r[0] = rank
    rows.extend(unscored)
    rows.extend(missing)
    if top is not None:
        rows = rows[:top]

    cols = ["rank", "run", "id", "status", "best", "best_step", "last", "last_step"]
    if has_at:
        cols.append("at_value")
    cols += ["points", "source", "note", *params, *extra]
    notes = []
    n_missing = len(missing) + more_missing
    n_unscored = len(unscored) + more_unscored
    if n_missing:
        notes.append(f"{_runs(n_missing)} no '{metric}' (listed last)")
    if n_no_point:
        notes.append(f"{_runs(n_no_point)} no point at step {at_step}")
    if sort != "best" and n_unscored:
        notes.append(f"{_runs(n_unscored)} no value to sort by (listed last)")
    if kinds:
        notes.append(
            "derived: "
            + "; ".join(
                f"{k} is a series (point-wise on the steps its keys share; as a column, its "
                "last value)"
                if v == "series"
                else f"{k} is one value per run"
                for k, v in kinds.items()
            )
        )
    labels = {"best": f"best {metric}", "last": f"last {metric}"}
    if has_at:
        labels["at_value"] = f"{metric} @{at_step}"
    return Table(
        cols,
        rows,
        kind="leaderboard",
        title=f"{metric} ({mode}, sorted by {sort})",
        notes=notes,
        meta={
            "metric": metric,
            "mode": mode,
            "sort": sort,
            "at_step": at_step,
            "top": top,
            **({"derived": kinds} if kinds else {}),
        },
        labels=labels,
    )


def _runs(n: int) -> str:
    return "1 run has" if n == 1 else f"{n} runs have"


def _derived_names(runs: Sequence[RunView], derived_cls: Any) -> list[str]:
    for r in runs:
        if isinstance(r, derived_cls):
            return list(r.derived)
        return []
    return []


def leaderboard_df(runs: Sequence[RunView], metric: str, **kwargs: Any):
    """:func:`leaderboard` as a pandas DataFrame (same arguments)."""
    return leaderboard(runs, metric, **kwargs).to_df()
