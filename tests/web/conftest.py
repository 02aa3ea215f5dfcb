"""A small seeded store for the dashboard tests, written straight through the backend."""

from __future__ import annotations

import math
from pathlib import Path

import jinja2  # noqa: F401  (hard requirements: CI installs expbook[ui])
import numpy as np
import plotly  # noqa: F401
import pytest
import starlette  # noqa: F401

from expbook.store import PointBatch, SQLiteStore


def seed_store(path: Path) -> dict[str, str]:
    """Six runs in two projects (name -> id): loss and val/acc curves, one with NaN/inf and
    a 'running' one."""
    ids = {}
    with SQLiteStore(path) as st:
        for i in range(6):
            status = "running" if i == 5 else "finished"
            rec = st.create_run(
                name=f"run-{i}",
                project="demo" if i < 4 else "other",
                status=status,
                config={"lr": 10.0 ** -(i % 3 + 1), "model": {"width": 32 * (i + 1)}, "seed": i},
                tags=["odd"] if i % 2 else ["even"],
                group="g1" if i < 3 else None,
                created_at=1_700_000_000.0 + i,
            )
            steps = list(range(200))
            walls = [1000.0 + s * 0.5 for s in steps]
            loss = [2.0 * math.exp(-s / (50 + 10 * i)) + 0.01 * i for s in steps]
            if i == 3:
                loss[10], loss[20] = math.nan, math.inf
            acc = [1 - v / 3 for v in loss]
            st.append_points(
                rec.id,
                {"loss": PointBatch(steps, walls, loss), "val/acc": PointBatch(steps, walls, acc)},
            )
            if status == "running":
                st.heartbeat([rec.id])  # alive: shown as running, not crashed
            ids[rec.name] = rec.id
        rec = st.create_run(name="empty", project="demo", status="failed", config={"lr": 0.5})
        ids["empty"] = rec.id
    return ids


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "store"
    return path, seed_store(path)


@pytest.fixture
def client(seeded):
    from starlette.testclient import TestClient

    from expbook.web import create_app

    with TestClient(create_app(seeded[0])) as c:
        yield c


@pytest.fixture
def ids(seeded) -> dict[str, str]:
    return seeded[1]


def spike_series(n: int = 1_000_000, seed: int = 0) -> tuple[np.ndarray, int, int]:
    """A noisy decaying curve of ``n`` points with one spike up and one dip down."""
    rng = np.random.default_rng(seed)
    v = np.exp(-np.arange(n) / (n / 5)) + rng.normal(0, 0.01, n)
    up, down = int(n * 0.61) + 7, int(n * 0.27) + 3
    v[up] = 50.0
    v[down] = -50.0
    return v, up, down


REPORT_DOC = """# Learning-rate study

Runs of the demo project. <script>window.evil = 1</script>

```expbook
leaderboard: {metric: loss, mode: min, project: demo}
```

```expbook
plot: {metric: loss, project: demo}
```

The best loss is {{ best("run-0", loss) | .3f }}.

- [claim low] `final("run-0", loss) < 1`

![a remote picture](http://example.com/x.png)
"""


def write_report(store: Path, doc: Path, text: str = REPORT_DOC) -> str:
    """Render ``text`` into ``doc`` against ``store`` and keep it there, as
    ``expbook report`` does; returns the report's id."""
    from expbook.report import record_rendering, render_file

    doc.write_text(text, encoding="utf-8")
    with SQLiteStore(store) as st:
        return record_rendering(st, str(doc), render_file(str(doc), st))
