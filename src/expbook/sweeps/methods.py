"""Where a sweep's trials come from: ``grid`` (every combination, the first param slowest),
``random`` (trial ``i`` drawn from a generator seeded by the spec's ``seed`` and ``i``, so a
resumed sweep draws the same trials) and ``optuna`` (a study asked for each new trial, told
each result; rebuilt from the store's trials when a sweep resumes).

Optuna also serves ``prune:`` for every method: a trial reports the metric's values as it
logs them, and the study's pruner (median by default) says when to stop it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

from .spec import Param, SpecError, SweepSpec

__all__ = ["Study", "grid_points", "random_point"]


def grid_points(spec: SweepSpec) -> Iterator[dict[str, Any]]:
    """Every point of the grid, in order."""
    names = [p.name for p in spec.params]
    for combo in itertools.product(*[p.values or [None] for p in spec.params]):
        yield dict(zip(names, combo))


def _draw(p: Param, rng: random.Random) -> Any:
    if p.values is not None:
        return p.values[0] if len(p.values) == 1 else rng.choice(p.values)
    if p.dist == "uniform":
        return rng.uniform(p.low, p.high)
    if p.dist == "log_uniform":
        return math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
    return rng.randint(int(p.low), int(p.high))


def random_point(spec: SweepSpec, index: int) -> dict[str, Any]:
    """The params of trial ``index`` of a random sweep (the same every time)."""
    rng = random.Random(f"{spec.seed}:{index}")
    return {p.name: _draw(p, rng) for p in spec.params}


def _distribution(p: Param) -> Any:
    import optuna.distributions as d

    if p.values is not None:
        return d.CategoricalDistribution(p.values)
    if p.dist == "int_uniform":
        return d.IntDistribution(int(p.low), int(p.high))
    return d.FloatDistribution(p.low, p.high, log=p.dist == "log_uniform")


def _sampler(spec: SweepSpec) -> Any:
    import optuna.samplers as s

    conf = dict(spec.sampler or {"name": "TPESampler"})
    name = str(conf.pop("name"))
    cls = getattr(s, name, None)
    if cls is None:
        low = {k.lower(): k for k in dir(s) if k.endswith("Sampler")}
        key = name.lower() if name.lower().endswith("sampler") else name.lower() + "sampler"
        cls = getattr(s, low.get(key, ""), None)
    if cls is None or not isinstance(cls, type):
        known = ", ".join(k for k in dir(s) if k.endswith("Sampler") and not k.startswith("_"))
        raise SpecError(f"sampler: Optuna has no sampler {name!r}; samplers: {known}")
    if "seed" in _init_args(cls):
        conf.setdefault("seed", spec.seed)
    try:
        return cls(**conf)
    except TypeError as e:
        raise SpecError(f"sampler {name}: {e}") from None


def _init_args(cls: type) -> Sequence[str]:
    import inspect

    try:
        return list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return []


def _pruner(spec: SweepSpec) -> Any:
    import optuna.pruners as pr

    prune = spec.prune
    if not prune or prune["rule"] == "none":
        return pr.NopPruner()
    warm, start = prune["after_step"], prune["startup_trials"]
    if prune["rule"] == "median":
        return pr.MedianPruner(n_startup_trials=start, n_warmup_steps=warm)
    if prune["rule"] == "percentile":
        return pr.PercentilePruner(prune["percentile"], n_startup_trials=start, n_warmup_steps=warm)
    if prune["rule"] == "hyperband":
        return pr.HyperbandPruner(min_resource=max(1, warm))
    return pr.SuccessiveHalvingPruner(min_resource=max(1, warm))


class Study:
    """An in-memory Optuna study for a sweep: asks ``optuna`` trials' params, and runs the
    pruner for every method. Trials are keyed by the sweep's trial index."""

    def __init__(self, spec: SweepSpec) -> None:
        try:
            import optuna
        except ImportError:
            raise SpecError(
                "method optuna and prune need Optuna: pip install 'expbook[sweep]'"
            ) from None

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        self.optuna = optuna
        self.dists = {p.name: _distribution(p) for p in spec.params}
        self.study = optuna.create_study(
            direction="minimize" if spec.goal == "min" else "maximize",
            sampler=_sampler(spec) if spec.method == "optuna" else None,
            pruner=_pruner(spec),
        )
        self.live: dict[int, Any] = {}  # trial index -> optuna trial
        self.reported: dict[int, int] = {}  # trial index -> last step reported

    def restore(
        self,
        params: dict[str, Any],
        value: float | None,
        state: str,
        intermediate: dict[int, float],
    ) -> None:
        """Add a trial that ran before this process (a resumed sweep)."""
        ts = self.optuna.trial.TrialState
        st = {"finished": ts.COMPLETE, "pruned": ts.PRUNED}.get(state, ts.FAIL)
        if st == ts.COMPLETE and (value is None or not math.isfinite(value)):
            st = ts.FAIL
        use = {k: v for k, v in params.items() if k in self.dists and self._fits(k, v)}
        try:
            self.study.add_trial(
                self.optuna.trial.create_trial(
                    params=use,
                    distributions={k: self.dists[k] for k in use},
                    value=value if st == ts.COMPLETE else None,
                    state=st,
                    intermediate_values=intermediate,
                )
            )
        except ValueError:
            pass  # a trial optuna refuses (a value out of a changed range): not a reason to stop

    def _fits(self, k: str, v: Any) -> bool:
        try:
            return bool(self.dists[k]._contains(self.dists[k].to_internal_repr(v)))
        except Exception:
            return False

    def ask(self, index: int, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start trial ``index``: its params (asked from the sampler unless ``params`` are
        given, as for grid and random sweeps and for a trial run again)."""
        if params is not None:
            self.live[index] = self.study.ask()
            return params
        trial = self.study.ask(self.dists)
        self.live[index] = trial
        return {p.name: _plain(trial.params[p.name]) for p in self.spec.params}

    def report(self, index: int, steps: Sequence[int], values: Sequence[float]) -> bool:
        """Report intermediate values of a running trial; True when it should be pruned."""
        trial = self.live.get(index)
        if trial is None:
            return False
        last = self.reported.get(index, -1)
        for s, v in zip(steps, values):
            if s > last and v == v:
                trial.report(float(v), int(s))
                last = int(s)
        self.reported[index] = last
        return last >= 0 and bool(trial.should_prune())

    def tell(self, index: int, state: str, value: float | None) -> None:
        trial = self.live.pop(index, None)
        if trial is None:
            return
        ts = self.optuna.trial.TrialState
        try:
            if state == "finished" and value is not None and math.isfinite(value):
                self.study.tell(trial, value)
            elif state == "pruned":
                self.study.tell(trial, state=ts.PRUNED)
            else:
                self.study.tell(trial, state=ts.FAIL)
        except Exception:
            pass

    def importances(self) -> dict[str, float]:
        """Optuna's parameter importances over the finished trials ({} when too few)."""
        done = [t for t in self.study.trials if t.state == self.optuna.trial.TrialState.COMPLETE]
        if len(done) < 2:
            return {}
        try:
            imp = self.optuna.importance.get_param_importances(self.study)
        except Exception:
            return {}
        return {k: float(v) for k, v in imp.items()}


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return v
