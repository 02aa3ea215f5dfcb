"""What the integrations share: the run a training loop logs to.

A :class:`RunHandle` starts a run when training starts, or uses the run the user already
made current with ``expbook.init`` (and then leaves finishing it to the user). It writes to
the run without ever raising into the training loop: a failure becomes one warning per kind.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import expbook
from expbook.store import resolve_location

# the "step below the run's current step" warning: expected when metrics arrive after the
# run ended with the trainer and it is opened again (they belong at the trainer's last step)
_BELOW = r".*below the run's current step"


class RunHandle:
    """The run an integration writes to (see the module docstring)."""

    def __init__(
        self,
        project: str | None,
        name: str | None,
        store: Any,
        init_kwargs: Mapping[str, Any],
    ) -> None:
        self.init_kwargs = dict(init_kwargs)
        if store is None:  # init(dir=) names a store as init(store=) does
            store = self.init_kwargs.pop("dir", None)
        self.project = project
        self.name = name
        self.store = store
        self.run: Any = None  # expbook.Run (or the run mode="disabled" gives)
        self.owned = False  # started here, so finished here
        self.location: str | None = None
        self._warned: set[str] = set()

    def start(self, config: Mapping[str, Any] | None = None) -> Any:
        """Start a run (or take the current one) and record ``config`` in it; a key the user
        set already (in the current run's config, or ``config=`` given to the integration)
        keeps the user's value."""
        current = expbook.run
        if current is not None and not getattr(current, "finished", False):
            self.run, self.owned = current, False
            if config:
                self.call("config", lambda: current.config.setdefaults(dict(config)))
            return current
        self.location = resolve_location(self.store)
        kwargs = dict(self.init_kwargs)
        if config:
            cfg = dict(config)
            cfg.update(kwargs.pop("config", None) or {})  # what the user passed wins
            kwargs["config"] = cfg
        self.run = expbook.init(project=self.project, name=self.name, store=self.location, **kwargs)
        self.owned = True
        return self.run

    @property
    def live(self) -> bool:
        return self.run is not None and not getattr(self.run, "finished", False)

    def get(self) -> Any:
        """The run: started here if none was yet; a finished one is not opened again."""
        return self.start() if self.run is None else self.run

    def ensure(self) -> Any:
        """A run to write to: the one started, opened again if it ended with the trainer
        (a ``trainer.test()`` after ``fit()``), or a new one if none was started yet."""
        if self.run is None:
            return self.start()
        if self.live or not self.owned:
            return self.run
        self.run = expbook.init(
            project=self.run.project,
            id=self.run.id,
            resume="allow",
            store=self.location,
            reinit="create_new",  # leave any other current run alone
        )
        return self.run

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """``run.log(data, step=step)`` on :meth:`ensure`'s run; never raises."""
        if not data:
            return

        def write() -> None:
            run = self.ensure()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_BELOW)
                run.log(dict(data), step=step)

        self.call("log", write)

    def set_summary(self, values: Mapping[str, Any]) -> None:
        """Set summary values (never raises)."""

        def write() -> None:
            run = self.ensure()
            for k, v in values.items():
                run.summary[k] = v

        if values:
            self.call("summary", write)

    def finish(self, failed: bool = False) -> None:
        """Finish the run if it was started here (``failed`` marks it failed)."""
        if self.owned and self.live:
            self.call("finish", lambda: self.run.finish(exit_code=1 if failed else 0))

    def call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as e:  # logging must never stop training
            if what not in self._warned:
                self._warned.add(what)
                warnings.warn(
                    f"expbook: {what} failed ({type(e).__name__}: {e}); training goes on "
                    "(said once)",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return None
