"""What a run records by itself: its console, the traceback of a failure, system metrics and
its environment; and the run's alerts.

Each part is on by default and switched off in ``init`` (``capture_console=False``,
``system_metrics=False``, ``record_env=False``, ``record_traceback=False``), or all at once
with ``EXPBOOK_CAPTURE=0``. A :class:`Recorder` is attached to the run at ``init``; the writer
thread calls :meth:`Recorder.tick` after each drain (the console is written, a system sample
taken when one is due, the environment gathered once) and ``finish`` calls
:meth:`Recorder.close`. Nothing here raises into the training script.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from . import capture
from .system import DEFAULT_INTERVAL_S, SystemSampler

if TYPE_CHECKING:
    from .run import Run

ENV_CAPTURE = "EXPBOOK_CAPTURE"
MAX_MESSAGE = 10_000  # characters of an exception's message kept
MAX_TRACEBACK = 64 << 10  # characters of a traceback kept (its start and its end)
_OFF = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Options:
    """Which parts a run records (see the module docstring)."""

    console: bool = True
    system: bool = True
    env: bool = True
    traceback: bool = True
    interval: float = DEFAULT_INTERVAL_S

    @property
    def any(self) -> bool:
        return self.console or self.system or self.env or self.traceback


def options(kwargs: MutableMapping[str, Any]) -> Options:
    """Take the recording keywords out of ``init``'s ``kwargs``: ``capture_console``,
    ``system_metrics``, ``record_env``, ``record_traceback`` (bools) and
    ``system_metrics_interval`` (seconds). ``EXPBOOK_CAPTURE=0`` turns every part off; a
    wandb ``settings`` object with ``console="off"`` or ``x_disable_stats=True`` turns that
    part off."""
    console = _flag(kwargs.pop("capture_console", True), "capture_console")
    system = _flag(kwargs.pop("system_metrics", True), "system_metrics")
    env = _flag(kwargs.pop("record_env", True), "record_env")
    tb = _flag(kwargs.pop("record_traceback", True), "record_traceback")
    interval = kwargs.pop("system_metrics_interval", None)
    if interval is None:
        interval = DEFAULT_INTERVAL_S
    elif (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not (interval > 0 and interval < float("inf"))
    ):
        raise UsageError(
            f"system_metrics_interval must be a positive number of seconds, not {interval!r}"
        )
    settings = kwargs.get("settings")
    if settings is not None:
        if str(getattr(settings, "console", "") or "").lower() == "off":
            console = False
        if getattr(settings, "x_disable_stats", None) is True:
            system = False
    if os.environ.get(ENV_CAPTURE, "").strip().lower() in _OFF:
        return Options(False, False, False, False, float(interval))
    return Options(console, system, env, tb, float(interval))


def _flag(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    if v is None or v in (0, 1):
        return bool(v) if v is not None else True
    raise UsageError(f"{name} must be True or False, not {v!r}")


class Recorder:
    """The parts one run records, attached to it as ``run._recorder``."""

    def __init__(self, run: Run, opts: Options) -> None:
        self.opts = opts
        store = run._store
        self.dir = run_dir(store, run.id)
        self.console: capture.ConsoleLog | None = None
        if opts.console and self.dir is not None:
            self.console = capture.start(os.path.join(self.dir, capture.FILE_NAME))
        self.sampler: SystemSampler | None = None
        if opts.system:
            self.sampler = SystemSampler(opts.interval, getattr(store, "location", "."))
            if run._meta is not None:
                run._meta["system_metrics"] = {"interval_s": self.sampler.interval}
        self._first_step: int | None = None
        self.env_pending = opts.env
        self.closed = False
        self.cwd = os.getcwd()

    def tick(self, run: Run, background: bool) -> None:
        """After a drain: write the console; in the writer thread, take a system sample when
        one is due and gather the environment once."""
        try:
            if self.console is not None:
                self.console.flush()
            if background and not self.closed:
                sampler = self.sampler
                if sampler is not None:
                    sampler.prime()  # CPU counters start now, so the first sample means it
                    if sampler.due(time.monotonic()):
                        self._sample(run)
                if self.env_pending:
                    self._record_env(run)
        except Exception:  # recording is never worth an error in the training script
            pass

    def close(self, run: Run) -> None:
        """At ``finish``: the console's last lines, the environment if the run was too
        short for the writer thread to gather it, and what was recorded, in the meta."""
        if self.closed:
            return
        self.closed = True
        meta = run._meta if run._meta is not None else {}
        try:
            if self.console is not None:
                capture.stop(self.console)
                self.console.flush(final=True)
                if self.console.written:
                    meta["console"] = {
                        "file": capture.FILE_NAME,
                        "bytes": self.console.written,
                        "truncated": self.console.truncated,
                    }
        except Exception:
            pass
        try:
            if self.env_pending:
                self._record_env(run)
        except Exception:
            pass
        if self.sampler is not None:
            self.sampler.close()
            meta["system_metrics"] = {
                "interval_s": self.sampler.interval,
                "samples": self.sampler.index,
            }
        run._meta_dirty = True

    # -- system metrics ------------------------------------------------------------------
    def _sample(self, run: Run) -> None:
        from ..store.base import PointBatch

        sampler = self.sampler
        assert sampler is not None
        store = run._store
        if self._first_step is None:
            # a resumed run goes on after the samples of its earlier sessions
            sums = store.metric_summaries([run.id]).get(run.id, {})
            self._first_step = 1 + max(
                (
                    s.last_step
                    for k, s in sums.items()
                    if k.startswith("system/") and s.last_step is not None
                ),
                default=-1,
            )
        step = self._first_step + sampler.index
        values = sampler.sample()
        if not values:
            return
        wall = time.time()
        try:
            store.append_points(
                run.id, {k: PointBatch([step], [wall], [v]) for k, v in values.items()}
            )
        except Exception:  # a busy or full store: this sample is lost, the next may not be
            pass

    # -- environment ---------------------------------------------------------------------
    def _record_env(self, run: Run) -> None:
        from .sysinfo import MAX_DIFF_BYTES, environment, git_diff, git_info, packages

        self.env_pending = False
        pkgs = packages()
        data: dict[str, Any] = {"packages": pkgs}
        env = {**environment(), "packages": len(pkgs)}
        git = git_info(self.cwd)
        if git.get("dirty"):
            diff = git_diff(self.cwd)
            raw = diff.encode("utf-8", "replace")
            if raw:
                env["git_diff_bytes"] = len(raw)
                if len(raw) > MAX_DIFF_BYTES and self.dir is not None:
                    path = os.path.join(self.dir, "diff.patch")
                    try:
                        os.makedirs(self.dir, exist_ok=True)
                        with open(path, "wb") as f:
                            f.write(raw)
                        env["git_diff_file"] = "diff.patch"
                    except OSError:
                        pass
                    diff = raw[:MAX_DIFF_BYTES].decode("utf-8", "ignore")
                    data["git_diff_truncated"] = True
                data["git_diff"] = diff
        add = getattr(run._store, "add_event", None)
        if add is not None:
            add(run.id, "env", data=data)
        if run._meta is not None:
            run._meta["env"] = env
            run._meta_dirty = True


def run_dir(store: Any, run_id: str) -> str | None:
    """The folder of a run's files in ``store`` (not created), or None for a store that has
    no folder of its own."""
    f = getattr(store, "run_dir", None)
    return f(run_id) if f is not None else None


def start(run: Run, opts: Options) -> None:
    """Attach a :class:`Recorder` to a new run (nothing when every part is off)."""
    if opts.any:
        try:
            run._recorder = Recorder(run, opts)
        except Exception:  # e.g. a stream that cannot be wrapped: record nothing
            run._recorder = None


# -- the traceback of a failed run ---------------------------------------------------------
def record_error(run: Run, exc_type: Any, exc: Any, tb: Any) -> None:
    """Keep the exception that ends ``run`` in its meta as ``error``: ``type``, ``message``
    and ``traceback`` (bounded), unless ``record_traceback=False``."""
    rec = run._recorder
    if rec is None or not rec.opts.traceback or run._finished or run._meta is None:
        return
    if exc_type is None or issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        return
    try:
        import traceback

        text = "".join(traceback.format_exception(exc_type, exc, tb))
        if len(text) > MAX_TRACEBACK:
            half = MAX_TRACEBACK // 2
            text = text[:half] + "\n[... traceback cut by expbook ...]\n" + text[-half:]
        message = str(exc) if exc is not None else ""
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        name = exc_type.__qualname__
        mod = getattr(exc_type, "__module__", "builtins")
        run._meta["error"] = {
            "type": name if mod in ("builtins", "__main__") else f"{mod}.{name}",
            "message": message,
            "traceback": text,
        }
        run._meta_dirty = True
    except Exception:
        pass


# -- alerts ----------------------------------------------------------------------------------
class AlertLevel(str, enum.Enum):
    """The level of an alert (wandb's ``AlertLevel``)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def _level(level: Any) -> str:
    if level is None:
        return "INFO"
    v = level.value if isinstance(level, enum.Enum) else level
    s = str(v).strip().upper()
    s = {"WARNING": "WARN"}.get(s, s)
    if s not in ("INFO", "WARN", "ERROR"):
        raise UsageError(f"alert level must be INFO, WARN or ERROR, not {level!r}")
    return s


def _seconds(wait: Any) -> float | None:
    if wait is None:
        return None
    if isinstance(wait, timedelta):
        return wait.total_seconds()
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
        raise UsageError(f"alert wait_duration must be seconds or a timedelta, not {wait!r}")
    return float(wait)


def alert(run: Run, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """Store an alert as an event of ``run`` and print a one-line notice to stderr. With
    ``wait_duration`` (seconds or a timedelta), an alert of the same title within that long
    after the last one stored is skipped."""
    lvl = _level(level)
    wait = _seconds(wait_duration)
    title, text = str(title), str(text)
    now = time.time()
    sent: dict[str, float] = run.__dict__.setdefault("_alerts_sent", {})
    last = sent.get(title)
    if wait is not None and last is not None and now - last < wait:
        return
    add = getattr(run._store, "add_event", None)
    if add is None:
        return
    try:
        add(run.id, "alert", level=lvl, title=title, text=text, wall=now)
    except Exception as e:  # never crash the training script over an alert
        import warnings

        warnings.warn(f"expbook: alert {title!r} was not stored: {e}", RuntimeWarning, 3)
        return
    sent[title] = now
    line = " ".join(f"{title}: {text}".split())
    if len(line) > 200:
        line = line[:199] + "…"
    try:
        print(f"expbook: alert ({lvl}) {line}", file=sys.stderr)
    except Exception:
        pass
