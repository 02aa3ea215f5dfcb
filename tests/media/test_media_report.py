"""The report block ``media: {runs, key, step}``."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

import expbook


@pytest.fixture
def store(store_path):
    with expbook.init(project="p", name="cnn", store=store_path) as run:
        for step in range(3):
            img = np.full((4, 4, 3), 40 * step, np.uint8)
            run.log({"samples": expbook.Image(img, caption=f"epoch {step}")})
        run.log({"h": expbook.Histogram(np_histogram=([1, 2], [0.0, 0.5, 1.0]))})
        run.log({"t": expbook.Table(columns=["a", "b"], data=[[1, "x|y"]])})
    return store_path, run.id


def render(cli_run, body: str, *extra: str) -> tuple[int, str, str]:
    Path("r.md").write_text(f"# R\n\n```expbook\n{body}\n```\n")
    code, _out, err = cli_run("report", "r.md", *extra)
    return code, Path("r.md").read_text(), err


def test_media_block_embeds_the_last_image(cli_run, store) -> None:
    store_path, rid = store
    code, md, err = render(
        cli_run, "media: {runs: cnn, key: samples, step: last}", "--html", "r.html"
    )
    assert code == 0, err
    assert "*cnn · samples · step 2*" in md
    (link,) = [line for line in md.splitlines() if line.startswith("![")]
    assert link.startswith("![epoch 2](r_files/")
    copied = Path(link[link.index("(") + 1 : -1])
    from expbook.store import SQLiteStore

    last = SQLiteStore(store_path).read_media(rid, "samples")[-1]["path"]
    assert copied.read_bytes() == (Path(SQLiteStore(store_path).files_dir) / last).read_bytes()
    html = Path("r.html").read_text()
    assert "data:image/png;base64," + base64.b64encode(copied.read_bytes()).decode() in html


def test_media_block_step_number_table_and_histogram(cli_run, store) -> None:
    code, md, err = render(cli_run, "media: {key: samples, step: 1}")
    assert code == 0, err
    assert "step 1*" in md and "epoch 1" in md
    code, md, _ = render(cli_run, "media: t")
    assert "| a | b |" in md and "x\\|y" in md
    code, md, _ = render(cli_run, "media: {key: h}")
    assert "| from | to | count |" in md and "| 0.5 | 1 | 2 |" in md


def test_media_block_errors(cli_run, store) -> None:
    code, md, _ = render(cli_run, "media: {key: sample}")
    assert code == 1
    assert "no selected run logged media 'sample' (media keys: samples)" in md
    code, md, _ = render(cli_run, "media: {key: samples, step: soon}")
    assert "step must be last, first or a step number" in md
