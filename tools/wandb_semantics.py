#!/usr/bin/env python3
"""Check expbook's wandb-compatible logging against the real wandb, call for call.

The same sequence of calls (step rules, commit=False, explicit steps, define_metric with a
step metric, values that are not numbers) is made once with wandb in offline mode and once
with expbook; the wandb run is then read back with expbook's W&B importer and the two
histories are compared point by point, with each key on wandb's ``_step`` or on its
``define_metric`` step metric as expbook stores it.

wandb must not be installed where the tests run (the shim tests check that), so give this
script a Python that has both wandb and expbook, e.g.::

    python -m venv /tmp/wb && /tmp/wb/bin/pip install wandb -e '.[import]'
    /tmp/wb/bin/python tools/wandb_semantics.py

It prints each key's points on both sides and exits 1 on a difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CALLS = """
run.log({"a": 1.0})
run.log({"b": 2.0}, commit=False)
run.log({"c": 3.0})
run.log({"x": 1.0}, step=10)
run.log({"y": 2.0}, step=10)
run.log({"z": 3.0})
run.log({"z": 4.0})
run.define_metric("gs")
run.define_metric("t/*", step_metric="gs")
run.log({"t/loss": 0.5, "gs": 100})
run.log({"t/loss": 0.25, "gs": 200})
run.log({"s": "text", "n": 1.5})
run.finish()
"""
STEP_METRIC = {"t/loss": "gs"}  # keys whose x axis in wandb is a step metric


def _run(lib: str, where: Path) -> None:
    at = repr(str(where))
    head = (
        f"import wandb as w\nrun = w.init(project='cmp', mode='offline', dir={at})\n"
        if lib == "wandb"
        else f"import expbook as w\nrun = w.init(project='cmp', store={at})\n"
    )
    env = {**os.environ, "WANDB_SILENT": "true"}
    subprocess.run([sys.executable, "-c", head + CALLS], check=True, env=env)


def _history(store: Path) -> dict[str, list[list[float]]]:
    import expbook

    book = expbook.open_store(store)
    (rec,) = book.runs()
    return book.series_records(rec.id)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        _run("wandb", t / "wb")
        _run("expbook", t / "eb")
        (offline,) = (t / "wb" / "wandb").glob("offline-run-*")
        subprocess.run(
            [sys.executable, "-m", "expbook", "import", str(offline), "--store", str(t / "imp")],
            check=True,
            capture_output=True,
        )
        wb, eb = _history(t / "imp"), _history(t / "eb")
    # wandb keeps every key on _step; a key with a step metric is charted on that metric's
    # value in the same row, which is where expbook stores it
    for key, metric in STEP_METRIC.items():
        at = dict(wb.get(metric, []))
        wb[key] = [[int(at[s]), v] for s, v in wb.get(key, [])]
    wb.pop("gs", None)
    eb.pop("gs", None)
    bad = 0
    for key in sorted(set(wb) | set(eb)):
        same = wb.get(key) == eb.get(key)
        bad += not same
        print(
            f"{'ok  ' if same else 'DIFF'} {key:8} wandb {json.dumps(wb.get(key))}"
            f"  expbook {json.dumps(eb.get(key))}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
