"""A live run: ``log``, ``config``, ``summary``, ``finish``, and the run as a context manager."""

from __future__ import annotations

import json
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

    if not hasattr(_Logger, "set_step_metrics"):  # built from older sources
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


def normalize(
    data: Mapping[str, Any], prefix: str = "", sink: list[tuple[str, Any]] | None = None
) -> dict[str, float]:
    """Validate and convert a logged mapping; nested mappings become ``outer/inner`` keys.

    Values that are not numbers raise :class:`MetricError`, unless ``sink`` is given: then
    they are appended to it as ``(key, value)`` and left out of the result. An int too large
    for a float raises either way."""
    if not isinstance(data, Mapping):
        raise MetricError(f"log() takes a dict of metrics, not {type(data).__name__}")
    out: dict[str, float] = {}
    for k, v in data.items():
        if k.__class__ is not str and not isinstance(k, str):
            raise MetricError(f"cannot log key {k!r}: metric names must be strings")
        if not k:
            raise MetricError("cannot log an empty metric name")
        key = prefix + k if prefix else k
        t = v.__class__
        if t is float:  # the common case first: no ABC checks
            if key not in _RESERVED:
                out[key] = v
            continue
        if t is str or v is None:
            if key in _RESERVED:
                continue
            if sink is None:
                _as_float(key, v)  # raises, naming the key
            else:
                sink.append((key, v))
            continue
        if t is dict or (
            t is not int and isinstance(v, Mapping) and not getattr(t, "_expbook_media", False)
        ):
            out.update(normalize(v, key + "/", sink))
            continue
        if key in _RESERVED:
            continue  # wandb-internal names some scripts pass through; the store has its own
        if sink is None or t is int or t is bool:
            out[key] = _as_float(key, v)
            continue
        if t is list or t is tuple or getattr(t, "_expbook_media", False):
            sink.append((key, v))  # media, or a list: never a number (and no repr to build)
            continue
        try:
            out[key] = _as_float(key, v)
        except MetricError:
            sink.append((key, v))
    return out


def is_media(v: Any) -> bool:
    """Whether a logged value is a media object (or a list of them): see expbook.media."""
    if getattr(type(v), "_expbook_media", False):
        return True
    return (
        isinstance(v, (list, tuple))
        and len(v) > 0
        and all(getattr(type(x), "_expbook_media", False) for x in v)
    )


MAX_VALUE_BYTES = 64 << 10  # a non-numeric value is kept up to this size (JSON)


def value_json(v: Any) -> str | None:
    """A non-numeric logged value as JSON text, or None when it cannot be kept.

    Strings, None, lists and dicts are kept as they are (numbers inside stay numbers); numpy
    arrays and tensors become nested lists; a value whose JSON is larger than
    :data:`MAX_VALUE_BYTES` is kept as a description (type, shape, size)."""
    plain = _jsonable(v)
    if plain is _UNSTORABLE:
        return None
    text = _encode(plain)
    if len(text) > MAX_VALUE_BYTES:
        shape = getattr(v, "shape", None)
        desc = {
            "_truncated": True,
            "type": type(v).__name__,
            "bytes": len(text),
            "shape": list(shape) if shape is not None else None,
            "len": len(v) if hasattr(v, "__len__") else None,
        }
        text = json.dumps(desc)
    return text


_UNSTORABLE = object()
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode


def _jsonable(v: Any, depth: int = 0) -> Any:
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if depth > 20:
        return _UNSTORABLE
    if isinstance(v, Mapping):
        out = {}
        for k, x in v.items():
            j = _jsonable(x, depth + 1)
            if j is _UNSTORABLE:
                return _UNSTORABLE
            out[str(k)] = j
        return out
    if isinstance(v, (list, tuple, set, frozenset)):
        items = [_jsonable(x, depth + 1) for x in v]
        return _UNSTORABLE if any(x is _UNSTORABLE for x in items) else items
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    mod = type(v).__module__ or ""
    if mod.startswith("torch"):
        try:
            v = v.detach().cpu().numpy()
        except Exception:
            return _UNSTORABLE
        mod = "numpy"
    tolist = getattr(v, "tolist", None)
    if callable(tolist) and mod.startswith(("numpy", "pandas", "jax")):
        try:
            return _jsonable(tolist(), depth + 1)
        except Exception:
            return _UNSTORABLE
    if hasattr(v, "__fspath__"):
        return os.fspath(v)
    if isinstance(v, (type, type(len))) or callable(v):
        return _UNSTORABLE
    import dataclasses
    import enum

    if isinstance(v, enum.Enum):
        return _jsonable(v.value, depth + 1)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _jsonable(dataclasses.asdict(v), depth + 1)
    return _UNSTORABLE


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
        self._run._explicit.add(str(key))
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


def _weak(run: Run, method: str, default: Any = None) -> Any:
    """``run.<method>`` for the C buffer, holding the run weakly: the run holds the buffer,
    and a cycle through the buffer (not tracked by the garbage collector) would keep every
    run alive."""
    ref = weakref.ref(run)

    def call(*args: Any) -> Any:
        r = ref()
        return default if r is None else getattr(r, method)(*args)

    return call


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, UserWarning, stacklevel=4)


SUMMARY_MODES = frozenset(("min", "max", "mean", "last", "first", "best", "none", "copy"))


class MetricRule:
    """One ``define_metric`` call: which keys (a name, or a glob such as ``train/*``) and what
    to do with them."""

    __slots__ = ("goal", "hidden", "name", "step_metric", "step_sync", "summary")

    def __init__(
        self,
        name: str,
        step_metric: str | None,
        summary: tuple[str, ...],
        goal: str | None,
        hidden: bool,
        step_sync: bool | None,
    ) -> None:
        self.name = name
        self.step_metric = step_metric
        self.summary = summary
        self.goal = goal
        self.hidden = hidden
        self.step_sync = step_sync

    def matches(self, key: str) -> bool:
        if "*" not in self.name and "?" not in self.name and "[" not in self.name:
            return key == self.name
        from fnmatch import fnmatchcase

        return fnmatchcase(key, self.name)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.step_metric:
            d["step_metric"] = self.step_metric
        if self.summary:
            d["summary"] = ",".join(self.summary)
        if self.goal:
            d["goal"] = self.goal
        if self.hidden:
            d["hidden"] = True
        return d

    def __repr__(self) -> str:
        return f"<Metric {self.as_dict()}>"


class Run:
    """A run being logged from this process. Create it with :func:`expbook.init`."""

    _recorder: Any = None  # what the run records by itself (tracking.recording), if anything

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
        self._name = name
        self._notes = notes
        self._tags = list(tags or [])
        self.project = project
        self.group = group
        self._writer = writer
        self._store = writer.store
        self._buf: list[tuple[int, float, dict[str, float]]] = []
        self._append = self._buf.append
        self._max_rows = 1 << 62  # pure-Python buffer bound, in rows (set by the writer)
        self._width = 1.0  # points a row, as last taken
        # values that are not numbers, kept aside by _normalize: (key, step, wall, json text)
        self._values: list[tuple[str, int, float, str]] = []
        # media objects (see expbook.media): (key, step, wall, object or list of objects)
        self._media: list[tuple[str, int, float, Any]] = []
        self._unstorable: set[str] = set()  # keys warned about once
        self._explicit: set[str] = set()  # summary keys set by hand (rules leave them)
        self._strict = False
        # define_metric: the rules, the step metric of each key seen, last step metric values
        self._rules: list[MetricRule] = []
        self._step_of: dict[str, str | None] = {}
        self._sm_last: dict[str, float] = {}
        self._warned_back = False
        self._watches: list[Any] = []
        if _Logger is not None:
            # the C hot path: same behaviour as Run.log below, about 3x cheaper per call
            self._logger = _Logger(
                _weak(self, "_normalize", {}),
                self._check_step,
                step,
                on_full=_weak(self, "_on_full"),
                on_back=_weak(self, "_on_back"),
            )
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
        self._name = name
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
    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Log metrics at ``step``, with wandb's step rules: without ``step`` the row goes to
        the run's step, which then advances (unless ``commit=False``); with ``step=N`` the row
        goes to N and stays open, so a later ``log()`` without ``step`` adds to N (unless
        ``commit=True``). A step lower than the current one is kept, with one warning.

        Values that are not numbers (strings, None, lists, arrays...) are kept as the
        non-numeric values of that step, media objects (``expbook.Image``...) as media; only
        a value that cannot be stored at all is left out, with one warning per key."""
        if step is None:
            s = self._step
        elif step.__class__ is not int:
            s = self._check_step(step)
        else:
            s = step
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    data = self._normalize(data, s)
                    break
            else:
                data = data.copy()  # type: ignore[attr-defined]
        except AttributeError:
            if not isinstance(data, Mapping):
                raise MetricError(
                    f"log() takes a dict of metrics, not {type(data).__name__}"
                ) from None
            data = self._normalize(data, s)
        if commit is None:
            commit = step is None
        if step is not None and s < self._step and not self._warned_back:
            self._warned_back = True
            self._on_back(data, s, self._step)
        if data:
            self._append((s, _time(), data))  # type: ignore[arg-type]
        if commit:
            if s >= self._step:
                self._step = s + 1
        elif s > self._step:
            self._step = s
        if len(self._buf) >= self._max_rows:
            self._on_full()

    def _normalize(self, data: Mapping[str, Any], step: int) -> dict[str, float]:
        """The numeric part of a logged row; the rest is kept aside for the writer."""
        if self._strict:
            return normalize(data)
        extras: list[tuple[str, Any]] = []
        out = normalize(data, sink=extras)
        if extras:
            wall = _time()
            for key, v in extras:
                at = self._extra_step(key, step, data)
                if v.__class__ is str and len(v) < 8192:
                    self._values.append((key, at, wall, _encode(v)))
                    continue
                if is_media(v):
                    self._media.append((key, at, wall, v))
                    continue
                text = value_json(v)
                if text is None:
                    if key not in self._unstorable:
                        self._unstorable.add(key)
                        _warn(
                            f"expbook: cannot store {key!r} ({type(v).__name__}): left out "
                            "(said once per key)"
                        )
                    continue
                self._values.append((key, at, wall, text))
        return out

    def _extra_step(self, key: str, step: int, row: Mapping[str, Any]) -> int:
        """The step a non-numeric value goes to: its step metric's value when it has one."""
        if not self._rules:
            return step
        metric = self._step_of.get(key, "")
        if metric == "":
            metric = self._step_of[key] = self._resolve(key)
        if metric is None:
            return step
        x = row.get(metric, self._sm_last.get(metric))
        try:
            f = float(x)
        except (TypeError, ValueError):
            return step
        return int(f) if f == f and f == int(f) else step

    def _on_back(self, data: Any, step: int, current: int) -> None:
        keys = list(data)[:1] if isinstance(data, Mapping) else []
        what = f"{keys[0]!r}" if keys else "a row"
        _warn(
            f"expbook: {what} logged at step {step}, below the run's current step {current}: "
            "kept (points at a step already stored replace them); said once per run"
        )

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
        batch = _writer.columns(
            taken, (self._step_of, self._resolve, self._sm_last) if self._rules else None
        )
        n = sum(len(b.values) for b in batch.values())
        width = n / rows
        if abs(width - self._width) > 0.5:
            self._width = width
            self._set_bound(self._writer.max_points, _writer.MAX_BYTES)
        return batch, n

    def _take_extras(self) -> tuple[list[Any], list[Any]]:
        """Empty the non-numeric values and media kept aside: ``(values, media)``."""
        values, media = self._values, self._media
        if values:
            self._values = []
        if media:
            self._media = []
        return values, media

    def _discard(self) -> None:
        """Drop what is buffered (a forked child holding its parent's run)."""
        if self._logger is not None:
            self._logger.take()
        else:
            del self._buf[:]
        self._take_extras()

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` goes to."""
        return self._logger.step if self._logger is not None else self._step

    # -- define_metric -----------------------------------------------------------------
    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
        **kwargs: Any,
    ) -> MetricRule:
        """Say how the keys ``name`` (a key, or a glob such as ``"train/*"`` or ``"*"``) are
        stepped and summarised, as wandb's ``define_metric``:

        * ``step_metric="train/global_step"``: their points are stored at the value of that
          key (the value logged in the same row, else the last one logged before); the step
          metric itself keeps the run's step. ``step_sync`` is accepted (the last value is
          always used).
        * ``summary="min"`` (``max``, ``mean``, ``last``, ``first``, ``best``, ``none``, or
          several joined by commas): the run's summary of each such key, set at ``finish``;
          ``best`` follows ``goal`` (``"minimize"``/``"maximize"``).

        Rules apply to rows logged after the call; the rules are kept in the run's metadata.
        """
        if not isinstance(name, str) or not name:
            raise UsageError("define_metric() needs a metric name or glob")
        if step_metric is not None and not isinstance(step_metric, str):
            step_metric = getattr(step_metric, "name", None)  # wandb passes Metric handles too
            if not isinstance(step_metric, str):
                raise UsageError("define_metric(step_metric=) takes a metric name")
        modes: tuple[str, ...] = ()
        if summary:
            modes = tuple(m.strip().lower() for m in str(summary).split(",") if m.strip())
            bad = [m for m in modes if m not in SUMMARY_MODES]
            if bad:
                raise UsageError(
                    f"define_metric(summary=) takes {', '.join(sorted(SUMMARY_MODES))}, "
                    f"not {bad[0]!r}"
                )
        if goal is not None:
            g = str(goal).lower()
            goal = {"min": "minimize", "max": "maximize"}.get(g, g)
            if goal not in ("minimize", "maximize"):
                raise UsageError(f"define_metric(goal=) takes 'minimize' or 'maximize', not {g!r}")
        rule = MetricRule(name, step_metric, modes, goal, bool(hidden), step_sync)
        if step_metric:
            self._writer.drain(self)  # the rows logged so far keep their steps
            self._sm_last.setdefault(step_metric, float("nan"))
        self._rules = [r for r in self._rules if r.name != name]  # a rule is redefined
        self._rules.append(rule)
        self._step_of.clear()
        if any(r.step_metric for r in self._rules) and self._logger is not None:
            self._logger.set_step_metrics(self._step_of, _weak(self, "_resolve"), self._sm_last)
        if self._meta is not None:
            self._meta["metrics"] = [r.as_dict() for r in self._rules]
        self._meta_dirty = True
        return rule

    def _resolve(self, key: str) -> str | None:
        """The step metric of ``key`` (an exact rule first, else the newest matching glob).
        Called by the writer thread (``take``), so it must not raise."""
        try:
            return self._find_step_metric(key)
        except Exception:
            return None

    def _find_step_metric(self, key: str) -> str | None:
        if key in self._sm_last:
            return None  # a step metric is stepped by the run
        rules = [r for r in self._rules if r.step_metric]
        for r in reversed(rules):
            if r.name == key:
                return r.step_metric
        for r in reversed(rules):
            if r.matches(key) and r.step_metric != key:
                return r.step_metric
        return None

    def _rule_summaries(self) -> None:
        """Set the summary of every key a ``define_metric(summary=)`` rule covers."""
        rules = [r for r in self._rules if r.summary]
        if not rules:
            return
        sums = self._store.metric_summaries([self.id]).get(self.id, {})
        for key, ms in sums.items():
            rule = next(
                (r for r in reversed(rules) if r.name == key),
                next((r for r in reversed(rules) if r.matches(key)), None),
            )
            if rule is None or key in self._explicit:
                continue
            got: dict[str, Any] = {}
            for mode in rule.summary:
                if mode == "none":
                    continue
                if mode == "best":
                    mode = "max" if rule.goal == "maximize" else "min"
                if mode == "mean":
                    series = self._store.read_series_lists(self.id, [key]).get(key)
                    vals = [v for v in (series.values if series else []) if v == v]
                    got["mean"] = sum(vals) / len(vals) if vals else None
                else:
                    attr = {"copy": "last"}.get(mode, mode)
                    got[mode] = getattr(ms, f"{attr}_value", None)
            if "none" in rule.summary and not got:
                self._summary.pop(key, None)
            elif len(got) == 1:
                self._summary[key] = next(iter(got.values()))
            elif got:
                self._summary[key] = got

    # -- watch -------------------------------------------------------------------------
    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> None:
        """Log per-layer gradient and/or parameter norms of PyTorch models every ``log_freq``
        forward passes (``log="gradients"``, ``"parameters"``, ``"all"``), as metrics
        ``gradients/norm/<layer>`` and ``parameters/norm/<layer>`` (and ``.../_total``) at the
        run's current step. Steps that do not log add no GPU synchronisation. The hooks come
        off at :meth:`unwatch` or :meth:`finish`. ``criterion`` and ``log_graph`` are accepted
        and ignored."""
        from .watch import watch

        self._watches.extend(watch(self, models, criterion, log, log_freq, idx, log_graph))

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks of :meth:`watch` (of ``models``, or of every watched model)."""
        if models is None:
            chosen = list(self._watches)
        else:
            ms = models if isinstance(models, (list, tuple)) else [models]
            chosen = [w for w in self._watches if any(w.model is m for m in ms)]
        for w in chosen:
            w.remove()
            self._watches.remove(w)

    # -- identity, wandb-style ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._meta_dirty = True

    @property
    def tags(self) -> list[str]:
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._tags = [str(t) for t in (value or ())]
        self._meta_dirty = True

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value
        self._meta_dirty = True

    @property
    def display_name(self) -> str:
        return self._name

    @property
    def entity(self) -> str:
        """wandb's entity: expbook has none; the store's folder stands for it."""
        return os.path.basename(self._store.location.rstrip(os.sep)) or "local"

    @property
    def path(self) -> str:
        """``entity/project/id``, as wandb's ``run.path``."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def url(self) -> str:
        """The run's page in the dashboard (``expbook ui``, default address)."""
        from urllib.parse import quote

        base = os.environ.get("EXPBOOK_UI_URL", "http://127.0.0.1:8765").rstrip("/")
        return f"{base}/runs/{quote(self.id)}"

    def get_url(self) -> str:
        return self.url

    def get_project_url(self) -> str:
        from urllib.parse import quote

        return self.url.rsplit("/runs/", 1)[0] + f"/?project={quote(self.project)}"

    def project_name(self) -> str:
        return self.project

    @property
    def resumed(self) -> bool:
        return bool((self._meta or {}).get("resumed"))

    @property
    def offline(self) -> bool:
        return True  # always local-first: every point is written to the local store

    @property
    def disabled(self) -> bool:
        return False

    @property
    def sweep_id(self) -> str | None:
        return (self._meta or {}).get("sweep") or os.environ.get("EXPBOOK_SWEEP")

    @property
    def job_type(self) -> str | None:
        return ((self._meta or {}).get("init_kwargs") or {}).get("job_type")

    @property
    def start_time_s(self) -> float:
        return self.start_time

    def mark_preempting(self) -> None:
        """Record that the run expects to be preempted (it ends ``killed`` if it stops now)."""
        if self._meta is not None:
            self._meta["preempting"] = True
            self._meta_dirty = True

    # -- the run's folder, alerts, its failure (tracking.recording) -----------------------
    @property
    def dir(self) -> str:
        """The run's own folder in the store (``<store>/files/runs/<id>``), created on first
        use; its console is ``output.log`` there."""
        path = os.path.join(getattr(self._store, "files_dir", ".expbook-files"), "runs", self.id)
        os.makedirs(path, exist_ok=True)
        return path

    def alert(
        self, title: str, text: str, level: Any = None, wait_duration: Any = None
    ) -> None:
        """Record an alert (``level`` INFO, WARN or ERROR) as an event of the run, shown by
        ``expbook show`` and on the run's page, with a one-line notice on stderr."""
        from .recording import alert

        alert(self, title, text, level, wait_duration)

    def _record_error(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from .recording import record_error

        record_error(self, exc_type, exc, tb)

    # -- state -------------------------------------------------------------------------
    def _touch(self) -> None:
        self._meta_dirty = True

    def _meta_fields(self) -> dict[str, Any]:
        fields = {
            "name": self._name,
            "config": self._config_data,
            "summary": self._summary,
            "tags": self._tags,
            "notes": self._notes,
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
        for w in self._watches:
            w.remove()
        self._watches = []
        writer = self._writer
        recorded = True
        with writer.lock:
            unwritten = writer.finish(self)
            writer.remove(self)
            if self._recorder is not None:
                self._recorder.close(self)
            try:
                self._rule_summaries()
            except Exception as e:  # a summary is not worth failing the end of a run
                self._last_error = self._last_error or e
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
        if exc_type is not None:
            self._record_error(exc_type, exc, tb)
        if exc_type is None:
            self._finish("finished", 0)
        elif issubclass(exc_type, KeyboardInterrupt):
            self._finish("killed", 130)
        else:
            self._finish("failed", 1)
        state.forget(self)

    def __repr__(self) -> str:
        return f"<Run {self.name!r} id={self.id} project={self.project!r}>"

    # -- files and artifacts (expbook.media) ----------------------------------------------
    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
    ) -> Any:
        """Keep an :class:`expbook.Artifact` (or a file or folder) as a new version of its
        name, logged by this run; the same content as the newest version adds none. Returns
        the :class:`~expbook.media.ArtifactVersion`."""
        from ..media import artifacts

        return artifacts.log_artifact(
            self._store, self.project, self.id, artifact_or_path, name, type, aliases
        )

    def use_artifact(self, artifact_or_name: Any, type: str | None = None) -> Any:
        """Record that this run uses an artifact version (``"name"``, ``"name:v1"``,
        ``"name:alias"`` or an Artifact); returns it (``.download()``, ``.file()``)."""
        from ..media import artifacts

        return artifacts.use_artifact(self._store, self.project, self.id, artifact_or_name)

    def save(self, glob_str: Any, base_path: Any = None, policy: str = "live") -> list[str]:
        """Copy the files matching ``glob_str`` into this run's files (the artifact
        ``run-<id>-files``); returns their names."""
        from ..media import artifacts

        return artifacts.save(self._store, self.project, self.id, glob_str, base_path, policy)
