"""Plot blocks with the dashboard's choices: the x axis (step, wall time or a metric logged
alongside), several keys overlaid, a mean curve per group with a min-max or ±std band, and
readable ticks (plain decimals or 3e-4, log axes labelled at decades)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from expbook.analysis import MemoryRun
from expbook.report import render_file
from expbook.report.plots import tick_label


def sweep() -> list[MemoryRun]:
    """Six runs: lr in (0.1, 0.01) x seed in (0, 1, 2); loss and val_loss on steps 0..49
    (walls 100 s apart + 2 s a step), epoch = step // 10."""
    out = []
    for i, (lr, seed) in enumerate((lr, seed) for lr in (0.1, 0.01) for seed in range(3)):
        steps = range(50)
        loss = [(lr * 10) * math.exp(-s / 20) + 0.01 * seed for s in steps]
        out.append(
            MemoryRun(
                f"r{i}",
                config={"lr": lr, "seed": seed},
                series={
                    "loss": [(s, v, 1000.0 + 100 * i + 2 * s) for s, v in zip(steps, loss)],
                    "val_loss": [
                        (s, v + 0.1, 1000.0 + 100 * i + 2 * s) for s, v in zip(steps, loss)
                    ],
                    "epoch": [(s, float(s // 10), 1000.0 + 100 * i + 2 * s) for s in steps],
                },
            )
        )
    return out


def render(tmp_path: Path, block: str, runs=None):
    doc = tmp_path / "doc.md"
    doc.write_text(f"```expbook\n{block}\n```\n")
    res = render_file(str(doc), runs if runs is not None else sweep())
    return res, doc.read_text()


def only_figure(res) -> dict:
    assert not res.errors, [i.message for i in res.errors]
    (fig,) = res.figures.values()
    return fig


def test_x_is_another_metric_logged_alongside(tmp_path: Path) -> None:
    res, text = render(tmp_path, "plot: {metric: loss, x: epoch, runs: [r0, r1]}")
    fig = only_figure(res)
    assert fig["layout"]["xaxis"]["title"]["text"] == "epoch"
    lines = [t for t in fig["data"] if t["mode"] == "lines"]
    assert [t["name"] for t in lines] == ["r0", "r1"]
    assert lines[0]["x"][:11] == [0.0] * 10 + [1.0] and max(lines[0]["x"]) == 4.0
    assert lines[1]["y"][0] == pytest.approx(1.0 + 0.01)  # r1: lr 0.1, seed 1 at step 0
    png = re.search(r"\((doc_files/[0-9a-f]+-[0-9a-f]{10}\.png)\)", text)
    assert png and (tmp_path / png.group(1)).read_bytes()[:4] == b"\x89PNG"


def test_x_is_wall_time_since_each_run_started(tmp_path: Path) -> None:
    fig = only_figure(render(tmp_path, "plot: {metric: loss, x: wall, runs: [r3]}")[0])
    (line,) = fig["data"]
    assert line["x"][:3] == [0.0, 2.0, 4.0] and line["x"][-1] == 98.0
    assert fig["layout"]["xaxis"]["title"]["text"] == "seconds since the run's first point"


def test_several_keys_overlaid_a_style_per_key(tmp_path: Path) -> None:
    fig = only_figure(render(tmp_path, "plot: {metric: [loss, val_loss], runs: [r0, r1]}")[0])
    names = [t["name"] for t in fig["data"]]
    assert names == ["r0 · loss", "r0 · val_loss", "r1 · loss", "r1 · val_loss"]
    dash = {t["name"]: t["line"]["dash"] for t in fig["data"]}
    colour = {t["name"]: t["line"]["color"] for t in fig["data"]}
    assert dash["r0 · loss"] == dash["r1 · loss"] != dash["r0 · val_loss"]
    assert colour["r0 · loss"] == colour["r0 · val_loss"] != colour["r1 · loss"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "loss, val_loss"
    # the comma form is the same plot
    again = only_figure(render(tmp_path, "plot: {metric: 'loss, val_loss', runs: [r0, r1]}")[0])
    assert [t["name"] for t in again["data"]] == names


@pytest.mark.parametrize("band", ["minmax", "std"])
def test_grouped_curves_mean_and_band(tmp_path: Path, band: str) -> None:
    runs = sweep()
    res, text = render(tmp_path, f"plot: {{metric: loss, group: config.lr, band: {band}}}", runs)
    fig = only_figure(res)
    means = [t for t in fig["data"] if t["line"].get("width") == 2]
    assert [t["name"] for t in means] == ["config.lr = 0.01 (n=3)", "config.lr = 0.1 (n=3)"]
    fills = [t for t in fig["data"] if t.get("fill") == "tonexty"]
    assert len(fills) == 2
    for mean, lr in zip(means, (0.01, 0.1)):
        members = [r for r in runs if r.config["lr"] == lr]
        stack = np.array([np.asarray(r.series("loss").values, dtype=float) for r in members])
        i = len(mean["x"]) - 1  # the last x: step 49 for all three runs
        assert mean["x"][i] == 49.0
        assert mean["y"][i] == pytest.approx(stack[:, -1].mean(), rel=1e-5)
        k = fig["data"].index(next(t for t in fills if t["line"]["color"] == mean["line"]["color"]))
        hi, lo = fig["data"][k - 1]["y"][i], fig["data"][k]["y"][i]
        if band == "std":
            assert hi - mean["y"][i] == pytest.approx(stack[:, -1].std(), rel=1e-4)
            assert mean["y"][i] - lo == pytest.approx(stack[:, -1].std(), rel=1e-4)
        else:
            assert (lo, hi) == (
                pytest.approx(stack[:, -1].min(), rel=1e-5),
                pytest.approx(stack[:, -1].max(), rel=1e-5),
            )
    shown = "±std" if band == "std" else "min–max"
    assert f"*2 groups of 6 runs: the mean of each, with its {shown} band.*" in text


def test_group_by_the_params_but_the_seed(tmp_path: Path) -> None:
    fig = only_figure(render(tmp_path, "plot: {metric: loss, group: [lr, seed], x: epoch}")[0])
    names = [t["name"] for t in fig["data"] if t["line"].get("width") == 2]
    assert len(names) == 6 and names[0] == "lr=0.01, seed=0 (n=1)"
    assert fig["layout"]["xaxis"]["title"]["text"] == "epoch"


@pytest.mark.parametrize(
    "block, message",
    [
        ("plot: {metric: loss, band: std}", "band applies to grouped curves"),
        ("plot: {metric: loss, group: lr, band: iqr}", "band must be one of minmax, std"),
        ("plot: {metric: loss, x: tokens}", "no selected run has metric 'tokens'"),
        ("plot: {metric: [loss, nope]}", "no selected run has metric 'nope'"),
        ("plot: {metric: loss, group: lr, top: 3}", "top does not apply to grouped curves"),
        ("plot: {metric: loss, x: 3}", "x must be step, wall or a metric name"),
        ("plot: {metric: {a: 1}}", "metric must be a metric name or a list"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, block: str, message: str) -> None:
    res, _ = render(tmp_path, block)
    (issue,) = res.errors
    assert message in issue.message and "\n" not in issue.message


def test_existing_plot_blocks_draw_the_same_figure(tmp_path: Path) -> None:
    """``plot: loss`` (no x, group or overlay): the figure and file name as before."""
    from expbook.report.html import figure_json

    res, _ = render(tmp_path, "plot: {metric: loss, runs: [r0, r1]}")
    fig = only_figure(res)
    runs = {r.name: r for r in sweep()}
    series = [
        (n, [float(s) for s in runs[n].series("loss").steps],
         [float(v) for v in runs[n].series("loss").values])
        for n in ("r0", "r1")
    ]  # fmt: skip
    assert fig == figure_json("plot", series, title=None, log_y=False, log_x=False, smooth=0,
                              ylabel="loss")  # fmt: skip


def test_tick_labels_are_plain_or_scientific() -> None:
    assert tick_label(3e-4) == "3e-4"
    assert tick_label(0.25) == "0.25"
    assert tick_label(1500.0, plain=True) == "1,500"
    assert tick_label(2.5e6) == "2.5e6"
    assert tick_label(0) == "0"
    for v in (1e-5, 3e-4, 0.002, 0.5, 7, 300, 4e4, 1e5, 1e9):
        assert not re.search("[µμmunpkMGT]", tick_label(v)), tick_label(v)


def test_png_log_axis_is_labelled_at_decades() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from expbook.report.plots import _readable_ticks

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1, 2, 3], [10, 1, 0.01, 0.002])
    ax.set_yscale("log")
    _readable_ticks(ax, False, True, True)
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    shown = [t.get_text() for t in ax.get_yticklabels() if lo <= t.get_position()[1] <= hi]
    assert shown and all(t in {"1e-3", "0.01", "0.1", "1", "10"} for t in shown), shown
    assert [t.get_text() for t in ax.get_yticklabels(minor=True) if t.get_text()] == []
