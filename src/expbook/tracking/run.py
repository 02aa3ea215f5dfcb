"""A live run: ``log``, ``config``, ``summary``, ``finish``, and the run as a context manager."""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from ..errors import MetricError, UsageError
from ..store.base import PointBatch
from . import state
from . import writer as _writer

if TYPE_CHECKING:
    from .writer import Writer

_time = time.time

try:
    if os.environ.get("EXPBOOK_PURE_PYTHON"):
        raise ImportError
    from .._speedups import Logger as _Logger

    if not hasattr(_Logger, "max_points"):  # built from older sources: no bounded buffer
        raise ImportError
except ImportError:  # not compiled here: the pure-Python Run.log does the same work
    _Logger = None
_FAST = frozenset((float,))  # ints go through normalize(): a huge int must fail at the call
_RESERVED = frozenset(("_step", "_timestamp", "_runtime", "_time"))


def _as_float(key: str, v: Any) -> float:
    """The float a logged value stands for, or a MetricError naming the key."""
    t = type(v)
    if t is float or t is int or t is bool or isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            raise MetricError(f"cannot log {key!r}: {_short(v)} is too large for a float") from None
    mod = t.__module__
    if mod == "numpy":
        shape = getattr(v, "shape", ())
        if shape == () and getattr(v, "dtype", None) is not None and v.dtype.kind in "biuf":
            return float(v)
        raise MetricError(
            f"cannot log {key!r}: a numpy array of shape {shape} is not a scalar metric"
        )
    if mod.startswith("torch"):
        numel = getattr(v, "numel", None)
        if numel is not None and numel() == 1 and not getattr(v, "is_complex", lambda: False)():
            return float(v.item())
        shape = tuple(getattr(v, "shape", ()))
        raise MetricError(f"cannot log {key!r}: a tensor of shape {shape} is not a scalar metric")
    if hasattr(v, "__float__") and not isinstance(v, (str, bytes)):
        try:
            return float(v)
        except (TypeError, ValueError):
            pass
    raise MetricError(f"cannot log {key!r}: {type(v).__name__} value {_short(v)} is not a number")


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def normalize(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Validate and convert a logged mapping; nested mappings become ``outer/inner`` keys."""
    if not isinstance(data, Mapping):
        raise MetricError(f"log() takes a dict of metrics, not {type(data).__name__}")
    out: dict[str, float] = {}
    for k, v in data.items():
        if not isinstance(k, str):
            raise MetricError(f"cannot log key {k!r}: metric names must be strings")
        if not k:
            raise MetricError("cannot log an empty metric name")
        key = prefix + k
        if isinstance(v, Mapping):
            out.update(normalize(v, key + "/"))
            continue
        if key in _RESERVED:
            continue  # wandb-internal names some scripts pass through; the store has its own
        out[key] = _as_float(key, v)
    return out


def _to_plain(obj: Any) -> Any:
    """Config values as JSON-friendly Python objects (nested dicts kept nested)."""
    if isinstance(obj, Mapping):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return _to_plain(item())
        except (TypeError, ValueError):
            pass
    if hasattr(obj, "__fspath__"):
        return os.fspath(obj)
    return str(obj)


def config_dict(config: Any) -> dict[str, Any]:
    """What ``init(config=...)`` accepts: a mapping, an argparse.Namespace, or an object."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(_to_plain(config))
    if hasattr(config, "__dict__"):
        return dict(_to_plain({k: v for k, v in vars(config).items() if not k.startswith("_")}))
    raise UsageError(
        f"config must be a mapping or an object with attributes, not {type(config).__name__}"
    )


class _Section(MutableMapping[str, Any]):
    """A dict-like view of (part of) a run's config with attribute access."""

    __slots__ = ("_data", "_touch")

    def __init__(self, data: dict[str, Any], touch: Any) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_touch", touch)

    def __getitem__(self, key: str) -> Any:
        v = self._data[key]
        return _Section(v, self._touch) if isinstance(v, dict) else v

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = _to_plain(value)
        self._touch()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._touch()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def update(self, *args: Any, allow_val_change: bool = True, **kwargs: Any) -> None:
        """Merge keys in (wandb's ``allow_val_change`` is accepted and ignored)."""
        other = (
            dict(*args, **kwargs)
            if (args and isinstance(args[0], Mapping)) or kwargs
            else (config_dict(args[0]) if args else {})
        )
        for k, v in other.items():
            self._data[str(k)] = _to_plain(v)
        self._touch()

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            self._data.setdefault(str(k), _to_plain(v))
        self._touch()

    def as_dict(self) -> dict[str, Any]:
        import copy

        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Section):
            return self._data == other._data
        return isinstance(other, Mapping) and self._data == dict(other)

    __hash__ = None  # type: ignore[assignment]


class Config(_Section):
    """``run.config``: item and attribute access, nested sections, ``update()``."""

    __slots__ = ()


class Summary(MutableMapping[str, Any]):
    """``run.summary``: the last logged value of each key, unless set explicitly."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def _merged(self) -> dict[str, Any]:
        run = self._run
        run._sync()
        merged: dict[str, Any] = dict(run._last)
        merged.update(run._summary)
        return merged

    def __getitem__(self, key: str) -> Any:
        return self._merged()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._run._summary[str(key)] = _to_plain(value)
        self._run._meta_dirty = True

    def __delitem__(self, key: str) -> None:
        del self._run._summary[key]
        self._run._meta_dirty = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __repr__(self) -> str:
        return f"Summary({self._merged()!r})"


def _on_full(run: Run) -> Any:
    """The C buffer's callback when it is full. It holds the run weakly: the run holds the
    buffer, and a cycle through the buffer (not tracked by the garbage collector) would keep
    every run alive."""
    ref = weakref.ref(run)

    def on_full() -> None:
        r = ref()
        if r is not None:
            r._on_full()

    return on_full


class Run:
    """A run being logged from this process. Create it with :func:`expbook.init`."""

    def __init__(
        self,
        *,
        id: str,
        name: str,
        project: str,
        writer: Writer,
        config: dict[str, Any],
        summary: dict[str, Any] | None = None,
        step: int = 0,
        tags: list[str] | None = None,
        group: str | None = None,
        notes: str | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.project = project
        self.group = group
        self.notes = notes
        self.tags = list(tags or [])
        self._writer = writer
        self._store = writer.store
        self._buf: list[tuple[int, float, dict[str, float]]] = []
        self._append = self._buf.append
        self._max_rows = 1 << 62  # pure-Python buffer bound, in rows (set by the writer)
        self._width = 1.0  # points a row, as last taken
        if _Logger is not None:
            # the C hot path: same behaviour as Run.log below, about 3x cheaper per call
            self._logger = _Logger(normalize, self._check_step, step, on_full=_on_full(self))
            self.log = self._logger.log  # type: ignore[method-assign]
        else:
            self._logger = None
        # points taken from the buffer that the store has not accepted yet (kept for retry)
        self._pending: list[Any] = []
        self._pending_points = 0
        self._retry_at = 0.0
        self._last_error: Exception | None = None
        self._unwritten = 0  # points of this run this process could not write
        self._waited_s = 0.0  # time log() spent waiting for the writer (backpressure)
        self._waits = 0
        self._step = step
        self._pid = os.getpid()
        self._config_data = config
        self._summary: dict[str, Any] = dict(summary or {})
        self._last: dict[str, float] = {}
        self._last_step: dict[str, int] = {}
        self._meta_dirty = False
        self._meta: dict[str, Any] | None = None  # process facts; git added by the writer
        self._git_pending = False
        self._finished = False
        self.config = Config(self._config_data, self._touch)
        self.summary = Summary(self)
        self.start_time = _time()

    # -- the hot path ------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Log metrics at ``step`` (wandb semantics: without ``step``, the run's step is used
        and then advanced; ``commit=False`` keeps adding to the same step)."""
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    data = normalize(data)
                    break
            else:
                data = data.copy()  # type: ignore[attr-defined]
        except AttributeError:
            if not isinstance(data, Mapping):
                raise MetricError(
                    f"log() takes a dict of metrics, not {type(data).__name__}"
                ) from None
            data = normalize(data)
        if step is None:
            step = self._step
        elif step.__class__ is not int:
            step = self._check_step(step)
        if commit:
            if step >= self._step:
                self._step = step + 1
        elif step > self._step:
            self._step = step
        self._append((step, _time(), data))  # type: ignore[arg-type]
        if len(self._buf) >= self._max_rows:
            self._on_full()

    @staticmethod
    def _check_step(step: Any) -> int:
        try:
            if isinstance(step, bool):
                raise TypeError
            s = int(step)
            if s != step:
                raise ValueError
            return s
        except (TypeError, ValueError):
            raise MetricError(f"step must be an integer, not {step!r}") from None

    # -- the buffer, for the writer ---------------------------------------------------------
    def _on_full(self) -> None:
        self._writer.make_room(self)

    def _full(self) -> bool:
        logger = self._logger
        if logger is not None:
            return bool(logger.full)
        return len(self._buf) >= self._max_rows

    def _buffered(self) -> float:
        """About how many points are buffered."""
        logger = self._logger
        if logger is not None:
            return float(logger.points)
        return len(self._buf) * self._width

    def _set_bound(self, points: int, nbytes: int) -> None:
        logger = self._logger
        if logger is not None:
            logger.max_points = points
            logger.max_bytes = nbytes
        else:
            w = max(self._width, 1.0)
            rows = min(points / w, nbytes / (_writer.PY_ROW_BYTES + w * _writer.PY_POINT_BYTES))
            self._max_rows = max(1, int(rows))

    def _take(self) -> tuple[dict[str, Any], int]:
        """Empty the buffer: ``({key: PointBatch}, number of points)``."""
        logger = self._logger
        if logger is not None:
            n = logger.points
            if not n:
                return {}, 0
            arr = _writer._array
            return {
                k: PointBatch(arr("q", s), arr("d", w), arr("d", v))
                for k, (s, w, v) in logger.take().items()
            }, n
        buf = self._buf
        rows = len(buf)
        if not rows:
            return {}, 0
        taken = buf[:rows]
        del buf[:rows]  # appends made meanwhile stay for the next cycle
        batch = _writer.columns(taken)
        n = sum(len(b.values) for b in batch.values())
        width = n / rows
        if abs(width - self._width) > 0.5:
            self._width = width
            self._set_bound(self._writer.max_points, _writer.MAX_BYTES)
        return batch, n

    def _discard(self) -> None:
        """Drop what is buffered (a forked child holding its parent's run)."""
        if self._logger is not None:
            self._logger.take()
        else:
            del self._buf[:]

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` goes to."""
        return self._logger.step if self._logger is not None else self._step

    # -- state -------------------------------------------------------------------------
    def _touch(self) -> None:
        self._meta_dirty = True

    def _meta_fields(self) -> dict[str, Any]:
        fields = {
            "config": self._config_data,
            "summary": self._summary,
            "tags": self.tags,
            "notes": self.notes,
        }
        if self._meta is not None:
            fields["meta"] = self._meta
        return fields

    def _sync(self) -> None:
        """Write everything buffered now and refresh the last value of each key."""
        self._writer.drain(self)
        sums = self._store.metric_summaries([self.id]).get(self.id, {})
        self._last = {k: s.last_value for k, s in sums.items() if s.last_value is not None}

    def _finish(self, status: str, exit_code: int | None) -> None:
        if self._finished or os.getpid() != self._pid:
            return
        self._finished = True
        self.log = self._log_after_finish  # type: ignore[method-assign]
        writer = self._writer
        recorded = True
        with writer.lock:
            unwritten = writer.finish(self)
            writer.remove(self)
            try:
                self._store.update_run(
                    self.id,
                    status=status,
                    exit_code=exit_code,
                    finished_at=_time(),
                    **self._meta_fields(),
                )
            except Exception as e:  # never crash the training script at its very end
                recorded = False
                self._last_error = self._last_error or e
                if not unwritten:
                    writer._warn(e)
        if unwritten:
            import warnings

            warnings.warn(
                f"expbook: {unwritten:,} points of run {self.name!r} ({self.id}) were not "
                f"written to {self._store.location} ({self._last_error}); "
                + (
                    f"the run is marked {status}, with meta.unwritten_points "
                    f"{(self._meta or {}).get('unwritten_points', unwritten):,}"
                    if recorded
                    else "its end could not be recorded either (readers will show it crashed)"
                ),
                RuntimeWarning,
                stacklevel=3,
            )

    def _log_after_finish(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(f"run {self.name!r} ({self.id}) is finished: call expbook.init() again")

    def finish(self, exit_code: int = 0, quiet: bool | None = None) -> None:
        """Write every buffered point and mark the run finished (``failed`` if exit_code != 0)."""
        self._finish("finished" if not exit_code else "failed", exit_code)
        state.forget(self)

    @property
    def finished(self) -> bool:
        return self._finished

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self._finish("finished", 0)
        elif issubclass(exc_type, KeyboardInterrupt):
            self._finish("killed", 130)
        else:
            self._finish("failed", 1)
        state.forget(self)

    def __repr__(self) -> str:
        return f"<Run {self.name!r} id={self.id} project={self.project!r}>"
