"""``expbook report DOC --new KIND``: starter documents filled in from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from expbook.analysis import MemoryRun
from expbook.report import BlockError, render_text
from expbook.report.blocks import Context
from expbook.report.starters import STARTERS, starter


def runs() -> list[MemoryRun]:
    out = []
    for i, (lr, width) in enumerate([(0.1, 64), (0.1, 128), (0.01, 64), (0.01, 128)]):
        out.append(
            MemoryRun(
                f"run_{i}",
                series={
                    "val_loss": [(s, (1 + i) / s) for s in range(1, 21)],
                    "train_loss": [(s, 1 / s) for s in range(1, 21)],
                },
                config={"lr": lr, "width": width, "seed": i, "out_dir": f"/x/{i}"},
            )
        )
    return out


@pytest.mark.parametrize("kind", STARTERS)
def test_starters_render_without_errors(kind: str) -> None:
    text = starter(kind, runs())
    assert "val_loss" in text
    res = render_text(text, Context(runs, "."), force=False)
    plot_errors = [i for i in res.errors if "matplotlib" in i.message]
    assert [i for i in res.errors if i not in plot_errors] == [], res.issues
    assert render_text(res.text, Context(runs, ".")).text == res.text


def test_sweep_starter_picks_the_swept_params() -> None:
    text = starter("sweep", runs())
    assert "params: [lr, width]" in text
    assert "pivot: {rows: [lr], cols: [width], value: val_loss" in text
    assert "[lr, width, seed" not in text and "out_dir" not in text


def test_starter_errors() -> None:
    with pytest.raises(BlockError, match="no runs"):
        starter("sweep", [])
    with pytest.raises(BlockError, match="unknown starter"):
        starter("nope", runs())


def test_cli_new(tmp_path: Path, cli_run) -> None:
    import expbook

    store = str(tmp_path / "store")
    for i in range(3):
        with expbook.init(project="p", name=f"r{i}", config={"lr": 10.0**-i}, store=store) as run:
            for s in range(5):
                run.log({"val_loss": (i + 1) / (s + 1)})
    doc = tmp_path / "j.md"
    code, _, err = cli_run("report", str(doc), "--new", "journal", "--store", store)
    assert code == 0, err
    text = doc.read_text()
    assert "[claim e1_best]" in text and "holds" in text
    code, _, err = cli_run("report", str(doc), "--new", "journal", "--store", store)
    assert code == 1 and "exists" in err
    code, _, err = cli_run("report", str(tmp_path / "missing.md"), "--store", store)
    assert code == 1 and "no such document" in err
