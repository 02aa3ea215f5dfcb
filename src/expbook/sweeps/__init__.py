"""Sweeps (``expbook sweep SPEC.yaml``): a grid, random or Optuna search declared in YAML, its
trials run as runs of the store on a local process pool or as Ray tasks, resumable, with a
report regenerated as trials finish.

``spec`` parses and checks the YAML, ``methods`` makes the trials, ``scheduler`` owns and runs
a sweep, ``executors`` start trials (local pool, Ray), ``trial`` runs one, ``report`` writes the
sweep's report. Nothing heavy is imported until a sweep runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SpecError", "SweepBusy", "TrialStopped", "load_spec", "run_sweep", "stop_sweep"]


def __getattr__(name: str) -> Any:
    if name in ("SpecError", "load_spec"):
        from . import spec

        return getattr(spec, name)
    if name in ("SweepBusy", "run_sweep", "stop_sweep"):
        from . import scheduler

        return getattr(scheduler, name)
    if name == "TrialStopped":
        from .trial import TrialStopped

        return TrialStopped
    raise AttributeError(name)
