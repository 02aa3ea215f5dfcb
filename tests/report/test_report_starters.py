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


def test_starters_on_the_demo_store(tmp_path: Path) -> None:
    """`expbook demo` names runs like mlp-h4-lr3: every starter's values and claims evaluate,
    claim statuses end their lines, and the journal's ratio reads the right way round."""
    import html
    import io
    import re
    from contextlib import redirect_stderr, redirect_stdout

    from expbook.cli import main

    def cli(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return code, out.getvalue(), err.getvalue()

    store = str(tmp_path / "store")
    assert cli("demo", "--store", store, "--steps", "60")[0] == 0
    for kind in STARTERS:
        doc = tmp_path / f"{kind}.md"
        code, out, err = cli("report", str(doc), "--new", kind, "--store", store)
        assert code == 0 and "0 errors" in out, (kind, err)
        assert cli("report", str(doc), "--store", store)[0] == 0
        code, out, err = cli("check", str(doc), "--store", store, "--format", "json")
        assert code == 0, (kind, out, err)
    text = (tmp_path / "journal.md").read_text()
    claims = [ln for ln in text.splitlines() if ln.startswith("- [claim ")]
    assert len(claims) == 2
    for ln in claims:
        assert ln.endswith("<!--/expbook:claim-->"), ln
        # the status follows the whole code span, which holds the whole expression
        code_span = re.match(r"- \[claim \S+\] (`+)(.+?)\1 <!--expbook:claim-->", ln)
        assert code_span and "(" in code_span.group(2) and code_span.group(2).endswith(")"), ln
        assert "cannot evaluate" not in ln
    values = {
        html.unescape(src): float(v)
        for src, v in re.findall(r'<span data-expbook="([^"]*)">([^<]*)</span>', text)
    }
    (best_src, best), (second_src, second), (ratio_src, ratio) = values.items()
    assert best < second  # val_loss: the best run is lower

    def expr(src: str) -> str:
        return src.rpartition("|")[0].strip()

    assert expr(ratio_src) == f"{expr(second_src)} / {expr(best_src)}"
    assert ratio > 1 and abs(ratio - second / best) < 0.01 * ratio
    prose = next(ln for ln in text.splitlines() if "by a factor of" in ln)
    assert "a lower best val_loss than" in prose
