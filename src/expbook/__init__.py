"""expbook: turn ML experiments into findings.

Log from a training script (``import expbook as wandb`` works for ordinary scripts)::

    import expbook
    run = expbook.init(project="mnist", config={"lr": 1e-3})
    for step in range(100):
        expbook.log({"loss": 1 / (step + 1)})
    expbook.finish()

and read back with :func:`open_store`, whose :class:`Store` answers the analysis questions
(``book.leaderboard("val_loss")``, ``book.pivot(...)``, ``book.winners(...)``,
``book.compare(a, b)``, ``book.runs(...)``) with results that have ``to_df()`` and
``to_dict()``. The command line is ``expbook --help``.
"""

from typing import TYPE_CHECKING, Any

from ._read import RunList, Store, open_store
from .errors import (
    AmbiguousRun,
    ExpbookError,
    MetricError,
    RunNotFound,
    StoreError,
    UnknownKey,
    UsageError,
)
from .store.base import MetricSummary, RunRecord
from .tracking import Config, Run, Summary, finish, init, log
from .tracking.api import alert, define_metric, mark_preempting, unwatch, watch
from .tracking.compat import (
    Api,
    Settings,
    login,
    require,
    setup,
    teardown,
    termerror,
    termlog,
    termwarn,
)
from .tracking.recording import AlertLevel

if TYPE_CHECKING:
    from .analysis.table import TableSet
    from .media import Artifact, Audio, Histogram, Html, Image, Table, Video, plot
    from .tracking.api import log_artifact, save, use_artifact

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "AmbiguousRun",
    "Api",
    "Artifact",
    "Audio",
    "Config",
    "ExpbookError",
    "Histogram",
    "Html",
    "Image",
    "MetricError",
    "MetricSummary",
    "Run",
    "RunList",
    "RunNotFound",
    "RunRecord",
    "Settings",
    "Store",
    "StoreError",
    "Summary",
    "Table",
    "TableSet",
    "UnknownKey",
    "UsageError",
    "Video",
    "__version__",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "login",
    "mark_preempting",
    "open_store",
    "plot",
    "require",
    "run",
    "save",
    "setup",
    "summary",
    "teardown",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "watch",
]


class _NoRun:
    """Stands for ``expbook.config``/``expbook.summary`` before ``init()``."""

    def __init__(self, what: str) -> None:
        self._what = what

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"no active run: call expbook.init() before using expbook.{self._what}")

    __getitem__ = __setitem__ = __contains__ = __iter__ = __len__ = update = _fail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()

    def __repr__(self) -> str:
        return f"<expbook.{self._what}: no active run>"


_MEDIA = ("Table", "Image", "Histogram", "Audio", "Video", "Html", "plot", "Artifact")


def __getattr__(name: str) -> Any:
    # the analysis result types and the media types are imported on first use (import
    # expbook stays light); expbook.Table is the loggable table, an analysis Table too
    if name == "TableSet":
        from .analysis import table

        return getattr(table, name)
    if name in _MEDIA:
        from . import media

        return getattr(media, name)
    if name in ("save", "log_artifact", "use_artifact"):
        from .tracking import api

        return getattr(api, name)
    # run, config and summary follow the current run
    if name in ("run", "config", "summary"):
        from .tracking import state

        current = state.current()
        if name == "run":
            return current
        if current is None:
            return _NoRun(name)
        return getattr(current, name)
    raise AttributeError(f"module 'expbook' has no attribute {name!r}")
