"""Plot blocks: PNG files next to the document, named by a hash of what they show."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from expbook.analysis import MemoryRun
from expbook.report import render_file
from expbook.report.plots import downsample

DOC = """# Curves

```expbook
plot: {metric: loss, log_y: true, smooth: 0.5, title: Loss}
```

```expbook
bar: {metric: loss}
```
"""


def runs(scale: float = 1.0) -> list[MemoryRun]:
    return [
        MemoryRun(
            name,
            series={"loss": [(s, scale * final * (1 + 10 / s)) for s in range(1, 50)]},
        )
        for name, final in (("a", 0.5), ("b", 0.1), ("c", 0.02))
    ]


def pngs(tmp_path: Path) -> list[str]:
    folder = tmp_path / "doc_files"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_plots_are_written_and_linked(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401  (a hard requirement: CI installs expbook[report])

    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    res = render_file(str(doc), runs())
    assert not res.errors, res.issues
    files = pngs(tmp_path)
    assert len(files) == 2
    text = doc.read_text()
    for name in files:
        assert f"(doc_files/{name})" in text
        assert (tmp_path / "doc_files" / name).read_bytes()[:4] == b"\x89PNG"
    # unchanged data: nothing changes, nothing is redrawn
    mtimes = {n: (tmp_path / "doc_files" / n).stat().st_mtime_ns for n in files}
    assert not render_file(str(doc), runs()).changed
    assert {n: (tmp_path / "doc_files" / n).stat().st_mtime_ns for n in files} == mtimes
    # new data: --check sees it and writes nothing; a render replaces the files
    assert render_file(str(doc), runs(scale=2.0), check=True).changed
    assert pngs(tmp_path) == files and doc.read_text() == text
    assert render_file(str(doc), runs(scale=2.0)).changed
    new = pngs(tmp_path)
    assert len(new) == 2 and not set(new) & set(files)


def test_scatter_of_a_prediction_file(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401  (a hard requirement: CI installs expbook[report])

    (tmp_path / "preds.csv").write_text("y_true,y_pred\n1,1.1\n2,1.9\n3,3.2\n")
    doc = tmp_path / "doc.md"
    doc.write_text("```expbook\nscatter: preds.csv\n```\n\n```expbook\nscatter: nope.csv\n```\n")
    res = render_file(str(doc), runs())
    assert [i.message for i in res.errors] == [res.errors[0].message]
    assert "cannot read" in res.errors[0].message
    assert len(pngs(tmp_path)) == 1
    assert res.figures and next(iter(res.figures.values()))["data"][0]["x"] == [1.0, 2.0, 3.0]


def test_plot_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("```expbook\nplot: {metric: nope}\n```\n\n```expbook\nplot: loss\n```\n")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    res = render_file(str(doc), runs())
    messages = [i.message for i in res.errors]
    assert len(messages) == 2
    assert "no selected run has metric 'nope'" in messages[0]
    assert "plots need matplotlib" in messages[1]
    assert pngs(tmp_path) == []


def test_downsample_keeps_extremes() -> None:
    xs = list(range(100_000))
    ys = [0.0] * 100_000
    ys[54_321] = 99.0
    ys[77_777] = -5.0
    ox, oy = downsample(xs, ys, 2000)
    assert len(ox) <= 3000
    assert 99.0 in oy and -5.0 in oy
    assert ox == sorted(ox)
    assert downsample([1, 2], [3, 4]) == ([1, 2], [3, 4])
