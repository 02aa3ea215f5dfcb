"""The run ``init(mode="disabled")`` returns: it takes every call and writes nothing."""

from __future__ import annotations

from typing import Any

from .run import Config, config_dict


class _Nothing:
    """What any attribute of a disabled run is: callable, returning itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> _Nothing:
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<disabled>"


class DisabledRun:
    """A run that logs nothing: ``log``, ``finish``, ``define_metric``, ``watch``... are
    accepted and do nothing; ``config`` and ``summary`` hold what is put in them, in memory.
    Nothing is written to any store."""

    disabled = True
    offline = True
    resumed = False
    id = "disabled"
    project = "disabled"
    entity = "disabled"
    path = "disabled/disabled/disabled"
    url = ""
    dir = ""
    sweep_id = None
    job_type = None
    group = None
    step = 0
    finished = False

    def __init__(self, config: Any = None, name: str | None = None) -> None:
        self.name = name or "disabled"
        self.tags: list[str] = []
        self.notes: str | None = None
        self.config = Config(config_dict(config), lambda: None)
        self.summary: dict[str, Any] = {}

    def log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def finish(self, *args: Any, **kwargs: Any) -> None:
        from . import state

        self.finished = True
        state.forget(self)  # type: ignore[arg-type]

    def _finish(self, *args: Any, **kwargs: Any) -> None:
        self.finished = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Nothing()

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "<Run disabled>"
