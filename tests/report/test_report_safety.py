"""What a report may read and write: data never becomes markup, files stay inside the
document's folder, a block's YAML and a plot's size are bounded, compare keeps the order named
and passes() claims hold or fail."""

from __future__ import annotations

import io
import os
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from expbook.analysis import MemoryRun
from expbook.cli import main
from expbook.report import BlockError, evaluate_claim, parse_block, render_file, render_text
from expbook.report import blocks as B
from expbook.report.blocks import Context
from expbook.report.journal import JournalEnv

PAYLOAD = '<img src=x onerror="window.__xss=1">'


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def evil_runs() -> list[MemoryRun]:
    return [
        MemoryRun(
            f"r{i}{PAYLOAD}" if i == 0 else f"r{i}",
            series={"loss": [(s, (i + 1) / s) for s in range(1, 6)]},
            config={"opt": "<script>window.__xss=2</script>" if i == 1 else "sgd"},
            tags=["<svg onload=alert(1)>"],
        )
        for i in range(3)
    ]


def render(text: str, runs: list[MemoryRun], tmp_path: Path, **kw) -> str:
    return render_text(text, Context(lambda: runs, str(tmp_path), "doc", **kw)).text


# --- data never becomes markup ------------------------------------------------------------


def test_regions_claims_and_values_escape_data(tmp_path: Path) -> None:
    runs = evil_runs()
    doc = (
        "```expbook\nruns: {params: [opt]}\n```\n\n"
        "```expbook\npivot: {rows: [opt], value: loss}\n```\n\n"
        "- [claim c1] `config(r1, opt)`\n\n"
        "Opt: {{ config(r1, opt) }}.\n\n"
        "```expbook\nleaderboard: {metric: los}\n```\n"
    )
    out = render(doc, runs, tmp_path)
    for raw in ("<img", "<script", "</script>", "<svg"):
        assert raw not in out, raw
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in out  # shown, as text
    assert "r0&lt;img src=x onerror=" in out
    claim = next(ln for ln in out.splitlines() if "[claim c1]" in ln)
    assert claim.endswith("&lt;script&gt;window.__xss=2&lt;/script&gt;<!--/expbook:claim-->")


def test_html_page_has_a_strict_policy_and_no_raw_markup(tmp_path: Path) -> None:
    from expbook.report.html import content_security_policy

    doc = tmp_path / "doc.md"
    doc.write_text(
        "# R\n\n<b onmouseover=x>own html</b> [j](javascript:alert(1))\n\n"
        "```expbook\nruns: {params: [opt]}\n```\n"
    )
    out = tmp_path / "doc.html"
    render_file(str(doc), evil_runs(), html=str(out))
    page = out.read_text()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert csp is not None and page.index(csp.group(0)) < page.index("<style>")
    policy = csp.group(1).replace("&#x27;", "'")
    assert policy == content_security_policy()
    assert "default-src 'none'" in policy and "'strict-dynamic'" in policy
    assert "unsafe-eval" not in policy and "script-src 'unsafe-inline'" not in policy
    body = page.split("<body>", 1)[1]
    assert "<b onmouseover" not in body and "<img" not in body and "<script>w" not in body
    assert 'href="javascript:' not in body


# --- files ------------------------------------------------------------------------------


PREDS = "y_true,y_pred\n1,1.5\n2,2.5\n3,2.0\n"


@pytest.mark.parametrize("kind", ["eval", "scatter"])
def test_block_files_stay_inside_the_document_folder(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "preds.csv").write_text("secret_first_line,y\n1,2\n")
    docdir = tmp_path / "doc"
    docdir.mkdir()
    (docdir / "link.csv").symlink_to(outside / "preds.csv")
    for files in ("../outside/preds.csv", str(outside / "preds.csv"), "link.csv"):
        out = render(f"```expbook\n{kind}: {{files: '{files}'}}\n```\n", [], docdir)
        assert "outside the document's folder" in out, files
        assert "secret_first_line" not in out
    # a folder given with allow_dirs may be read
    out = render(
        f"```expbook\n{kind}: {{files: '../outside/preds.csv'}}\n```\n",
        [],
        docdir,
        allow_dirs=[str(outside)],
    )
    assert "outside the document's folder" not in out


def test_block_files_must_be_regular(tmp_path: Path) -> None:
    import errno
    import threading

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    done = threading.Event()

    def feed() -> None:  # a reader that opens the FIFO gets a CSV instead of waiting forever
        while not done.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                done.wait(0.01)
                continue
            os.write(fd, PREDS.encode())
            os.close(fd)
            return

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        out = render("```expbook\neval: pipe.csv\n```\n", [], tmp_path)
    finally:
        done.set()
        feeder.join()
    assert "pipe.csv: not a regular file" in out
    out = render("```expbook\neval: /dev/zero\n```\n", [], tmp_path, allow_dirs=["/dev"])
    assert "/dev/zero: not a regular file" in out


def test_block_files_are_size_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "preds.csv").write_text(PREDS)
    assert "expbook error" not in render("```expbook\neval: preds.csv\n```\n", [], tmp_path)
    monkeypatch.setattr(B, "MAX_FILE_BYTES", len(PREDS) - 1)
    out = render("```expbook\neval: preds.csv\n```\n", [], tmp_path)
    assert "preds.csv: larger than" in out


def test_html_embeds_only_images_inside_the_document_folder(tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG secret")
    docdir = tmp_path / "doc"
    docdir.mkdir()
    (docdir / "ok.png").write_bytes(b"\x89PNG fine")
    doc = docdir / "doc.md"
    doc.write_text("![in](ok.png) ![out](../secret.png) ![abs](/etc/passwd)\n")
    out = docdir / "doc.html"
    render_file(str(doc), [], html=str(out))
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 1
    assert "[image: out]" in page and "[image: abs]" in page
    render_file(str(doc), [], html=str(out), allow_dirs=[str(tmp_path)])
    assert out.read_text().count("data:image/png;base64,") == 2


def test_cli_allow_dir(tmp_path: Path) -> None:
    import expbook

    store = str(tmp_path / "store")
    expbook.init(name="a", store=store).finish()
    data = tmp_path / "data"
    data.mkdir()
    (data / "preds.csv").write_text(PREDS)
    doc = tmp_path / "docs" / "r.md"
    doc.parent.mkdir()
    doc.write_text("```expbook\neval: ../data/preds.csv\n```\n")
    code, _, err = cli("report", str(doc), "--store", store)
    assert code == 1 and "outside the document's folder" in err and "Traceback" not in err
    code, _, err = cli("report", str(doc), "--store", store, "--allow-dir", str(data))
    assert code == 0, err
    code, _, err = cli("report", str(doc), "--store", store, "--allow-dir", str(tmp_path / "no"))
    assert code == 1 and err.count("\n") == 1 and "--allow-dir" in err and "not a folder" in err


# --- YAML --------------------------------------------------------------------------------


def test_yaml_bomb_is_refused() -> None:
    # "billion laughs", kept to a million here: 6 levels of 10 aliases each
    lines = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    for i in range(1, 6):
        me, prev = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{me}: &{me} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(BlockError, match="expands to more than 100000 YAML values"):
        parse_block("\n".join(lines) + "\nruns: *f\n")
    # many aliases, however small
    with pytest.raises(BlockError, match="at most 100 YAML aliases"):
        parse_block("a: &a x\nruns: [" + ", ".join(["*a"] * 101) + "]\n")
    ok = parse_block("title: &a x\nleaderboard: loss\nruns: [" + ", ".join(["*a"] * 99) + "]\n")
    assert ok.fields["runs"] == ["x"] * 99
    # few aliases, each expanding a lot
    wide = "a: &a [" + ", ".join(["x"] * 1000) + "]\n"
    wide += "b: &b [" + ", ".join(["*a"] * 90) + "]\nruns: [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    with pytest.raises(BlockError, match="expands to more than"):
        parse_block(wide)


def test_yaml_recursion_and_size_are_refused() -> None:
    with pytest.raises(BlockError, match="refers to itself"):
        parse_block("runs: &a [x, *a]\n")
    with pytest.raises(BlockError, match="at most 64 KiB"):
        parse_block("runs: [" + ", ".join(["abcdefgh"] * 8000) + "]\n")
    assert parse_block("leaderboard: {metric: &m loss, title: *m}").title == "loss"


def test_yaml_bomb_in_a_document_is_a_one_line_region_error(tmp_path: Path) -> None:
    src = "\n".join(
        [
            "x0: &x0 [" + ", ".join(["lol"] * 9) + "]",
            *(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 6)),
            "runs: *x5",
        ]
    )
    out = render(f"```expbook\n{src}\n```\n", [MemoryRun("a")], tmp_path)
    errors = [ln for ln in out.splitlines() if "expbook error" in ln]
    assert len(errors) == 1 and "YAML values" in errors[0]


# --- plot size ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["plot", "bar"])
def test_plots_draw_at_most_the_best_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from expbook.report import plots

    monkeypatch.setattr(plots, "MAX_DRAWN", 5)
    runs = [
        MemoryRun(f"r{i:02d}", series={"loss": [(s, (i + 1) / s) for s in range(1, 4)]})
        for i in range(30)
    ]
    ctx = Context(lambda: runs, str(tmp_path), "doc")
    res = render_text(f"```expbook\n{kind}: loss\n```\n", ctx)
    assert not res.errors, res.issues
    assert "*5 of 30 runs drawn: the best by min loss.*" in res.text
    (fig,) = res.figures.values()
    names = {n for t in fig["data"] for n in ([t.get("name")] if kind == "plot" else t["y"])}
    assert names == {f"r{i:02d}" for i in range(5)}
    # fewer runs than the cap: no note
    small = render_text(f"```expbook\n{kind}: {{metric: loss, top: 40}}\n```\n", ctx)
    assert "runs drawn" in small.text  # top is capped at MAX_DRAWN too
    few = Context(lambda: runs[:3], str(tmp_path), "doc")
    assert "runs drawn" not in render_text(f"```expbook\n{kind}: loss\n```\n", few).text


# --- compare order -----------------------------------------------------------------------


def compare_runs() -> list[MemoryRun]:
    # created in this order: "old" first
    return [
        MemoryRun("old", series={"loss": [(1, 2.0)]}, created_at=1.0),
        MemoryRun("new", series={"loss": [(1, 1.0)]}, created_at=2.0),
    ]


def test_compare_block_baseline_is_the_first_run_named(tmp_path: Path) -> None:
    runs = compare_runs()
    out = render("```expbook\ncompare: {runs: [new, old]}\n```\n", runs, tmp_path)
    row = next(ln for ln in out.splitlines() if ln.startswith("| loss"))
    # new (1.0) is the baseline: old is +1.0 from it
    assert "+1" in row and "-1" not in row, row
    out = render("```expbook\ncompare: {runs: [old, new]}\n```\n", runs, tmp_path)
    row = next(ln for ln in out.splitlines() if ln.startswith("| loss"))
    assert "-1" in row and "+1" not in row, row


def test_cli_compare_takes_globs_in_the_order_given(tmp_path: Path) -> None:
    import expbook

    store = str(tmp_path / "store")
    for name, v in (("base-a", 2.0), ("try-1", 1.0), ("try-2", 0.5)):
        run = expbook.init(project="p", name=name, store=store)
        run.log({"loss": v})
        run.finish()
    code, out, err = cli("compare", "try-*", "base-a", "--store", store, "--format", "json")
    assert code == 0, err
    assert out.index('"try-1"') < out.index('"try-2"') < out.index('"base-a"')
    code, _, err = cli("compare", "nope-*", "base-a", "--store", store)
    assert code == 1 and "no run matches 'nope-*'" in err


# --- passes() ------------------------------------------------------------------------------


def test_passes_claims_hold_or_fail() -> None:
    env = JournalEnv(
        [
            MemoryRun("ok", series={"loss": [(1, 1e-7)]}),
            MemoryRun("bad", series={"loss": [(1, 1e-3)]}),
        ]
    )
    good = evaluate_claim("c1", "passes(ok, loss, 1e-6)", env)
    assert (good.status, good.holds, good.value) == ("holds", True, 1e-7)
    assert good.summary_text().startswith("✅ holds (1.0000e-07 < 1e-06")
    bad = evaluate_claim("c2", "passes(bad, loss, 1e-6)", env)
    assert (bad.status, bad.holds, bad.value) == ("fails", False, 1e-3)
    assert bad.summary_text() == "❌ fails (0.001, not < 1e-06)"
    both = evaluate_claim("c3", "passes(*, loss, 1e-6)", env)
    assert both.status == "fails"
    assert evaluate_claim("c4", 'passes(ok, loss, "x")', env).status == "error"
