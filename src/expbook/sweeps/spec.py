"""A sweep's spec (the YAML of ``expbook sweep SPEC.yaml``): parsed and checked before anything
runs. Every problem is one :class:`SpecError` line.

Params: a list is a set of choices (a grid axis), a scalar a constant, and a mapping one of
the distributions ``uniform: [low, high]``, ``log_uniform: [low, high]`` and
``int_uniform: [low, high]`` (both ends included), for ``random`` and ``optuna`` only.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ExpbookError

__all__ = ["DISTRIBUTIONS", "METHODS", "SpecError", "SweepSpec", "load_spec", "parse_spec"]

METHODS = ("grid", "random", "optuna")
EXECUTORS = ("local", "ray")
DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform")
PRUNE_RULES = ("median", "percentile", "hyperband", "successive_halving", "none")
BUILTINS = ("sweep", "trial")  # placeholders a command may use besides its params
MAX_TRIALS = 100_000

KEYS = (
    "name",
    "command",
    "function",
    "params",
    "method",
    "trials",
    "metric",
    "prune",
    "executor",
    "workers",
    "report",
    "project",
    "retries",
    "timeout",
    "devices",
    "resources",
    "ray_address",
    "sampler",
    "seed",
    "env",
    "cwd",
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class SpecError(ExpbookError):
    """A sweep spec that cannot run (one line, naming the field)."""


@dataclass
class Param:
    """One param: ``values`` (a grid axis or a constant) or a distribution ``dist`` over
    ``[low, high]``."""

    name: str
    values: list[Any] | None = None
    dist: str | None = None
    low: float = 0.0
    high: float = 0.0

    @property
    def constant(self) -> bool:
        return self.values is not None and len(self.values) == 1


@dataclass
class SweepSpec:
    """A checked sweep spec. ``raw`` is the mapping it was read from (kept in the store)."""

    name: str
    params: list[Param]
    method: str = "grid"
    command: str | None = None
    function: str | None = None
    trials: int | None = None
    metric: str | None = None
    goal: str = "min"
    prune: dict[str, Any] | None = None
    executor: str = "local"
    workers: int = 1
    report: str | None = None
    project: str | None = None
    retries: int = 0
    timeout: float | None = None
    devices: list[str] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)
    ray_address: str | None = None
    sampler: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "."
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def grid_size(self) -> int:
        n = 1
        for p in self.params:
            n *= len(p.values or [None])
        return n

    @property
    def total(self) -> int:
        """How many trials the sweep runs."""
        return self.grid_size if self.method == "grid" else int(self.trials or 0)

    @property
    def varying(self) -> list[str]:
        """The params that take more than one value."""
        return [p.name for p in self.params if not p.constant]

    def format_command(self, params: Mapping[str, Any], trial: int) -> str:
        """The command of a trial: each ``{name}`` replaced by the param's value, shell-quoted
        (``{{`` and ``}}`` are braces)."""
        import shlex

        values = {"sweep": self.name, "trial": trial, **params}

        def sub(m: re.Match[str]) -> str:
            if m.group(0) in ("{{", "}}"):
                return m.group(0)[0]
            v = values[m.group(1).strip()]
            return shlex.quote(_text(v))

        return _PLACEHOLDER.sub(sub, self.command or "")


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return str(v)


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_spec(path: str) -> SweepSpec:
    """Read and check the spec file at ``path`` (YAML)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SpecError(f"cannot read sweep spec {path}: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{path}: bad YAML{where}: {problem}") from None
    try:
        return parse_spec(data, base_dir=os.path.dirname(os.path.abspath(path)))
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(data: Mapping[str, Any], key: str, default: int | None, low: int) -> int | None:
    v = data.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise SpecError(f"{key} must be a whole number >= {low}, not {v!r}")
    return v


def _param(name: str, v: Any, method: str) -> Param:
    if isinstance(v, list):
        if not v:
            raise SpecError(f"params.{name}: an empty list (an empty grid): give it values")
        for x in v:
            if isinstance(x, (dict, list)):
                raise SpecError(f"params.{name}: choices are plain values, not {x!r}")
        return Param(name, values=list(v))
    if isinstance(v, dict):
        if len(v) != 1:
            raise SpecError(
                f"params.{name}: a distribution is one of {', '.join(DISTRIBUTIONS)}: [low, high]"
            )
        ((dist, bounds),) = v.items()
        dist = str(dist)
        if dist not in DISTRIBUTIONS:
            raise SpecError(
                f"params.{name}: unknown distribution {dist!r}{_suggest(dist, DISTRIBUTIONS)}; "
                f"distributions: {', '.join(DISTRIBUTIONS)}"
            )
        if method == "grid":
            raise SpecError(
                f"params.{name}: a grid takes lists of values, not a {dist} distribution "
                "(use method: random or optuna)"
            )
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(_number, bounds))):
            raise SpecError(f"params.{name}: {dist} takes [low, high] (two numbers)")
        low, high = float(bounds[0]), float(bounds[1])
        if not low < high:
            raise SpecError(f"params.{name}: {dist} needs low < high, not [{low:g}, {high:g}]")
        if dist == "log_uniform" and low <= 0:
            raise SpecError(f"params.{name}: log_uniform needs low > 0")
        if dist == "int_uniform" and not (low.is_integer() and high.is_integer()):
            raise SpecError(f"params.{name}: int_uniform takes whole numbers")
        return Param(name, dist=dist, low=low, high=high)
    return Param(name, values=[v])


def parse_spec(data: Any, base_dir: str = ".") -> SweepSpec:
    """Check a spec mapping (see the module's docstring) and return it as a
    :class:`SweepSpec`; relative paths (``report``, ``cwd``) are taken from ``base_dir``."""
    if not isinstance(data, dict):
        raise SpecError("a sweep spec is a YAML mapping with name, params and command or function")
    data = {str(k): v for k, v in data.items()}
    for k in data:
        if k not in KEYS:
            raise SpecError(f"unknown field {k!r}{_suggest(k, KEYS)}; fields: {', '.join(KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(
            "name must be a word of letters, digits, '_', '-' or '.' (the sweep's id), "
            f"not {name!r}"
        )
    method = str(data.get("method", "grid"))
    if method not in METHODS:
        raise SpecError(
            f"unknown method {method!r}{_suggest(method, METHODS)}; methods: grid, random, optuna"
        )
    command, function = data.get("command"), data.get("function")
    if (command is None) == (function is None):
        raise SpecError("give exactly one of command (a shell command) or function (module:name)")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise SpecError("command must be a shell command (a string)")
    if function is not None and (
        not isinstance(function, str) or not re.fullmatch(r"[\w.]+:[\w.]+", function)
    ):
        raise SpecError(f"function must be 'module:name' (e.g. mypkg.train:main), not {function!r}")
    params_raw = data.get("params")
    if not isinstance(params_raw, dict) or not params_raw:
        raise SpecError("params: an empty grid: give at least one param (name: [values])")
    params = [_param(str(k), v, method) for k, v in params_raw.items()]
    spec = SweepSpec(name=name, params=params, method=method, command=command, function=function)
    if command is not None:
        names = {p.name for p in params}
        for m in _PLACEHOLDER.finditer(command):
            ph = m.group(1)
            if ph is None:
                continue
            ph = ph.strip()
            if ph not in names and ph not in BUILTINS:
                raise SpecError(
                    f"command: placeholder {{{ph}}} names no param{_suggest(ph, sorted(names))}; "
                    f"params: {', '.join(sorted(names))}"
                )
    spec.trials = _int(data, "trials", None, 1)
    if method == "grid":
        if spec.grid_size > MAX_TRIALS:
            raise SpecError(f"the grid has {spec.grid_size:,} points: at most {MAX_TRIALS:,}")
    elif spec.trials is None:
        raise SpecError(f"method {method} needs trials: N (how many trials to run)")
    elif spec.trials > MAX_TRIALS:
        raise SpecError(f"trials: at most {MAX_TRIALS:,}")
    metric = data.get("metric")
    if isinstance(metric, str):
        metric = {"name": metric}
    if metric is not None:
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            raise SpecError("metric is {name: KEY, goal: min|max}")
        extra = set(metric) - {"name", "goal"}
        if extra:
            raise SpecError(f"metric: unknown field {sorted(extra)[0]!r}; fields: name, goal")
        spec.metric = metric["name"]
        spec.goal = str(metric.get("goal", "min"))
        if spec.goal not in ("min", "max"):
            raise SpecError(f"metric.goal must be min or max, not {spec.goal!r}")
    if method == "optuna" and spec.metric is None:
        raise SpecError("method optuna needs metric: {name: KEY, goal: min|max}")
    prune = data.get("prune")
    if prune is not None:
        if not isinstance(prune, dict):
            raise SpecError("prune is {after_step: N, rule: median}")
        extra = set(prune) - {"after_step", "rule", "startup_trials", "percentile"}
        if extra:
            raise SpecError(
                f"prune: unknown field {sorted(extra)[0]!r}; fields: after_step, rule, "
                "startup_trials, percentile"
            )
        rule = str(prune.get("rule", "median"))
        if rule not in PRUNE_RULES:
            raise SpecError(f"prune.rule: unknown rule {rule!r}; rules: {', '.join(PRUNE_RULES)}")
        if spec.metric is None:
            raise SpecError("prune needs metric: {name: KEY, goal: min|max} (the value it watches)")
        spec.prune = {
            "rule": rule,
            "after_step": _int(prune, "after_step", 0, 0),
            "startup_trials": _int(prune, "startup_trials", 5, 0),
            "percentile": float(prune.get("percentile", 50.0)),
        }
    spec.executor = str(data.get("executor", "local"))
    if spec.executor not in EXECUTORS:
        raise SpecError(f"unknown executor {spec.executor!r}; executors: local, ray")
    spec.workers = _int(data, "workers", 1, 1) or 1
    spec.retries = _int(data, "retries", 0, 0) or 0
    spec.seed = _int(data, "seed", 0, 0) or 0
    timeout = data.get("timeout")
    if timeout is not None and (not _number(timeout) or timeout <= 0):
        raise SpecError(f"timeout must be a number of seconds > 0, not {timeout!r}")
    spec.timeout = float(timeout) if timeout is not None else None
    devices = data.get("devices") or []
    if not isinstance(devices, list) or any(isinstance(d, (dict, list)) for d in devices):
        raise SpecError("devices is a list of device ids (one entry per concurrent trial)")
    spec.devices = [str(d) for d in devices]
    resources = data.get("resources") or {}
    if not isinstance(resources, dict) or any(
        k not in ("num_cpus", "num_gpus") or not _number(v) or v < 0 for k, v in resources.items()
    ):
        raise SpecError("resources is {num_cpus: N, num_gpus: N} (per trial, for executor: ray)")
    spec.resources = {str(k): float(v) for k, v in resources.items()}
    sampler = data.get("sampler")
    if sampler is not None:
        if method != "optuna":
            raise SpecError("sampler is for method: optuna")
        if isinstance(sampler, str):
            sampler = {"name": sampler}
        if not isinstance(sampler, dict) or not isinstance(sampler.get("name"), str):
            raise SpecError("sampler is an Optuna sampler's name (e.g. RandomSampler)")
        spec.sampler = dict(sampler)
    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise SpecError("env is a mapping NAME: value")
    spec.env = {str(k): _text(v) for k, v in env.items()}
    for key in ("report", "project", "ray_address", "cwd"):
        v = data.get(key)
        if v is not None and not isinstance(v, str):
            raise SpecError(f"{key} must be a string, not {v!r}")
    report = data.get("report")
    spec.report = os.path.join(base_dir, report) if report else None
    spec.cwd = os.path.join(base_dir, data.get("cwd") or ".")
    spec.project = data.get("project")
    spec.ray_address = data.get("ray_address")
    spec.raw = data
    return spec
