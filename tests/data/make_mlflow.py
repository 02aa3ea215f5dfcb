"""Write a real MLflow file store and SQLite tracking database for the importer tests.

    python tests/data/make_mlflow.py        # refresh the committed copy in mlflow/
    python tests/data/make_mlflow.py OUT    # what the tests run (into a temp folder)

Both stores get the same content, written through ``mlflow.MlflowClient``:

experiment ``mnist-sweep``:
  * ``sweep`` (FINISHED), the parent of ``child-lr0.01`` (FINISHED) and ``child-lr0.1`` (FAILED);
  * ``killed-run`` (KILLED), ``still-running`` (never terminated), ``deleted-run`` (deleted);
params: numbers, booleans, a list, a zero-padded id; tags: a user tag, an empty-valued tag and a
note; metrics: ``loss`` and ``val/acc`` histories with steps and timestamps, a NaN and an inf.

The committed copy keeps the database gzipped (``mlflow.db.gz``): MLflow's schema has ~70
tables, and the empty pages compress from ~1 MB to a few KB. ``README.md`` records versions.
"""

from __future__ import annotations

import gzip
import math
import os
import platform
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1_700_000_000_000  # ms


def fill(client, exp_id: str) -> None:  # type: ignore[no-untyped-def]
    from mlflow.entities import Metric, Param, RunTag

    def run(name: str, start: int, **tags: str):  # type: ignore[no-untyped-def]
        return client.create_run(exp_id, run_name=name, start_time=start, tags=tags).info.run_id

    parent = run("sweep", T0, team="vision")
    client.log_param(parent, "search", "grid")
    for i, (lr, status) in enumerate(((0.01, "FINISHED"), (0.1, "FAILED"))):
        start = T0 + (i + 1) * 60_000
        child = run(f"child-lr{lr}", start, **{"mlflow.parentRunId": parent, "baseline": ""})
        params = {
            "lr": str(lr),
            "batch_size": "64",
            "optimizer": "adam",
            "use_bn": "True",
            "hidden": "[64, 32]",
            "run_code": "007",
        }
        client.log_batch(child, params=[Param(k, v) for k, v in params.items()])
        metrics = [Metric("loss", 1.0 / (s + 1) + lr, start + 1000 * s, s) for s in range(20)]
        metrics += [
            Metric("val/acc", 0.5 + s / 40, start + 1000 * s + 500, s) for s in range(0, 20, 5)
        ]
        if status == "FAILED":
            metrics.append(Metric("loss", math.nan, start + 21_000, 20))
            metrics.append(Metric("grad_norm", math.inf, start + 21_000, 20))
        client.log_batch(child, metrics=metrics, tags=[RunTag("mlflow.note.content", f"lr={lr}")])
        client.set_terminated(child, status, end_time=start + 30_000)
    client.set_terminated(parent, "FINISHED", end_time=T0 + 200_000)

    killed = run("killed-run", T0 + 300_000)
    client.log_metric(killed, "loss", 2.0, timestamp=T0 + 301_000, step=0)
    client.set_terminated(killed, "KILLED", end_time=T0 + 302_000)
    running = run("still-running", T0 + 400_000)
    client.log_metric(running, "loss", 3.0, timestamp=T0 + 401_000, step=0)
    deleted = run("deleted-run", T0 + 500_000)
    client.set_terminated(deleted, "FINISHED", end_time=T0 + 501_000)
    client.delete_run(deleted)


def main(out: str, compress: bool = False) -> None:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 keeps the file store behind this
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow
    import sqlalchemy
    from mlflow import MlflowClient

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    store = os.path.join(out, "mlruns")
    client = MlflowClient(tracking_uri="file:" + store)
    fill(client, client.create_experiment("mnist-sweep"))

    db = os.path.join(out, "mlflow.db")
    client = MlflowClient(tracking_uri="sqlite:///" + db)
    fill(client, client.create_experiment("mnist-sweep"))
    client._tracking_client.store.engine.dispose()  # close the pool before reading the file
    if compress:
        with open(db, "rb") as src, gzip.GzipFile(db + ".gz", "wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst)
        os.remove(db)

    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(
            "Written by tests/data/make_mlflow.py with "
            f"mlflow-skinny=={mlflow.__version__}, sqlalchemy=={sqlalchemy.__version__}, "
            f"Python {platform.python_version()}.\n"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        main(os.path.join(HERE, "mlflow"), compress=True)
