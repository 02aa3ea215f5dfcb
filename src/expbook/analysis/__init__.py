"""Answers over runs: selection, derived metrics, leaderboards, sweeps, comparisons, eval.

Everything here computes over :class:`RunView` objects (the store's runs, or
:class:`MemoryRun`) in plain Python and returns a :class:`Table`/:class:`TableSet`; pandas is
imported only by the ``*_df`` functions and ``to_df()``.
"""

from .compare import compare, compare_df, metric_mode
from .derive import RUN_FUNCTIONS, Derived, DerivedRun, apply_derived, parse_derive
from .evaluate import EvalError, eval_file, eval_summary, eval_table
from .keys import getter
from .leaderboard import leaderboard, leaderboard_df
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
