"""Answers over runs: selection, derived metrics, leaderboards, sweeps, comparisons, eval.

Everything here computes over :class:`RunView` objects (the store's runs, or
:class:`MemoryRun`) in plain Python and returns a :class:`Table`/:class:`TableSet`; pandas is
imported only by the ``*_df`` functions and ``to_df()``.
"""

from typing import TYPE_CHECKING, Any

# Each name is imported from its module on first use (PEP 562): a command that ranks runs
# through the store does not pay for comparisons, evaluation or derived-column parsing.
_WHERE = {
    "compare": "compare",
    "compare_df": "compare",
    "metric_mode": "compare",
    "RUN_FUNCTIONS": "derive",
    "Derived": "derive",
    "DerivedRun": "derive",
    "apply_derived": "derive",
    "parse_derive": "derive",
    "EvalError": "evaluate",
    "eval_file": "evaluate",
    "eval_summary": "evaluate",
    "eval_table": "evaluate",
    "getter": "keys",
    "compile_filter": "select",
    "select_runs": "select",
    "AGGS": "sweep",
    "DEFAULT_IGNORE": "sweep",
    "pivot": "sweep",
    "pivot_df": "sweep",
    "seed_groups": "sweep",
    "seed_groups_df": "sweep",
    "winners": "sweep",
    "winners_df": "sweep",
    "Table": "table",
    "TableSet": "table",
    "MemoryRun": "view",
    "MetricSummary": "view",
    "RunView": "view",
    "points": "view",
}


# ``leaderboard`` is also its module's name, which any import of that module binds here:
# imported now, so the function stays bound
from .leaderboard import leaderboard, leaderboard_df  # noqa: E402


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    mod = importlib.import_module(f"{__name__}.{module}")
    # every name of that module at once: importing a submodule binds its name here (the
    # module ``compare`` over the function ``compare``), which this puts right
    globals().update({n: getattr(mod, n) for n, m in _WHERE.items() if m == module})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:
    from .compare import compare, compare_df, metric_mode
    from .derive import RUN_FUNCTIONS, Derived, DerivedRun, apply_derived, parse_derive
    from .evaluate import EvalError, eval_file, eval_summary, eval_table
    from .keys import getter
    from .select import compile_filter, select_runs
    from .sweep import (
        AGGS,
        DEFAULT_IGNORE,
        pivot,
        pivot_df,
        seed_groups,
        seed_groups_df,
        winners,
        winners_df,
    )
    from .table import Table, TableSet
    from .view import MemoryRun, MetricSummary, RunView, points

__all__ = [
    "AGGS",
    "DEFAULT_IGNORE",
    "RUN_FUNCTIONS",
    "Derived",
    "DerivedRun",
    "EvalError",
    "MemoryRun",
    "MetricSummary",
    "RunView",
    "Table",
    "TableSet",
    "apply_derived",
    "compare",
    "compare_df",
    "compile_filter",
    "eval_file",
    "eval_summary",
    "eval_table",
    "getter",
    "leaderboard",
    "leaderboard_df",
    "metric_mode",
    "parse_derive",
    "pivot",
    "pivot_df",
    "points",
    "seed_groups",
    "seed_groups_df",
    "select_runs",
    "winners",
    "winners_df",
]
