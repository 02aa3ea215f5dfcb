"""``ExpbookLogger``: log a Lightning ``Trainer`` to expbook.

::

    from expbook.integrations.lightning import ExpbookLogger
    trainer = lightning.pytorch.Trainer(logger=ExpbookLogger(project="mnist"), ...)

``log_hyperparams`` (``self.save_hyperparameters()`` in the module) goes to the run's config,
``log_metrics`` to the run at the step the trainer gives (its global step), under the names
given to ``self.log``. ``finalize`` follows the trainer: ``"success"`` finishes the run,
``"failed"`` (an exception in ``fit``) marks it failed; a later ``trainer.test()`` logs to the
same run again. ``version`` is the run id, ``experiment`` the :class:`expbook.Run`. Only rank
zero logs.

``ExpbookLogger`` is a ``lightning.pytorch`` logger; with only the older ``pytorch_lightning``
package installed it is one of that package's, and ``PLExpbookLogger`` always is.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping
from typing import Any

from ._runs import RunHandle

__all__ = ["ExpbookLogger"]  # and PLExpbookLogger, made when first asked for


def _make(package: str) -> type:
    """The logger class on the ``Logger`` base of ``package`` (``lightning.pytorch`` or
    ``pytorch_lightning``): the two packages have separate class trees."""
    loggers = importlib.import_module(f"{package}.loggers")
    rank_zero = importlib.import_module(f"{package}.utilities.rank_zero")
    logger_mod = importlib.import_module(f"{package}.loggers.logger")
    rank_zero_only = rank_zero.rank_zero_only
    rank_zero_experiment = logger_mod.rank_zero_experiment

    class ExpbookLogger(loggers.Logger):  # type: ignore[name-defined]
        """A Lightning logger that writes to an expbook run.

        ``project``, ``name``, ``store`` and any other keyword are passed to
        :func:`expbook.init` when the trainer first needs the run (not used when a run is
        current already: then that run is logged to, and left open).
        """

        def __init__(
            self,
            project: str | None = None,
            name: str | None = None,
            store: Any = None,
            **init_kwargs: Any,
        ) -> None:
            super().__init__()
            self._handle = RunHandle(project, name, store, init_kwargs)

        @property
        @rank_zero_experiment
        def experiment(self) -> Any:
            """The :class:`expbook.Run` (started on first use; after ``finalize`` the finished
            run, opened again by the next ``log_metrics``)."""
            return self._handle.get()

        @property
        def name(self) -> str | None:
            run = self._handle.run
            if run is not None:
                return str(run.name)
            return self._handle.name or self._handle.project

        @property
        def version(self) -> str | None:
            """The run id (the run is started to know it)."""
            run = self.experiment
            return None if run is None else str(run.id)

        @property
        def save_dir(self) -> str | None:
            """The store the run is written to."""
            from expbook.store import resolve_location

            return self._handle.location or resolve_location(self._handle.store)

        @rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(params, argparse.Namespace):
                params = vars(params)
            elif not isinstance(params, Mapping):
                params = dict(params or {})
            handle = self._handle
            run = handle.ensure()
            handle.call("config", lambda: run.config.update(dict(params)))

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            self._handle.log(metrics, step=step)

        @rank_zero_only
        def finalize(self, status: str) -> None:
            self._handle.finish(failed=status not in ("success", "finished"))

    ExpbookLogger.__module__ = __name__
    ExpbookLogger.__qualname__ = ExpbookLogger.__name__
    return ExpbookLogger


try:
    ExpbookLogger: Any = _make("lightning.pytorch")
except ImportError:
    ExpbookLogger = _make("pytorch_lightning")


def __getattr__(name: str) -> Any:
    # the pytorch_lightning class is made only when asked for: that package is large
    if name != "PLExpbookLogger":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = _make("pytorch_lightning")
    cls.__name__ = cls.__qualname__ = name
    globals()[name] = cls
    return cls
