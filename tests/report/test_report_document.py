"""The document renderer on in-memory runs: regions, inline values, claims, bad blocks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from expbook.analysis import MemoryRun
from expbook.report import Context, format_value, render_file, render_text, write_atomic
from expbook.report.blocks import BlockError, parse_block


def make_runs(scale: float = 1.0) -> list[MemoryRun]:
    def run(name: str, lr: float, model: str, final: float, elapsed: float) -> MemoryRun:
        loss = [(s, final * scale * (1 + (10 - s) / 5)) for s in range(1, 11)]
        return MemoryRun(
            name,
            series={"loss": loss, "elapsed_s": [(s, elapsed * s / 10) for s in range(1, 11)]},
            config={"lr": lr, "model": model, "n_params": 1000 if model == "mlp" else 2000},
        )

    return [
        run("mlp_a", 0.1, "mlp", 0.5, 10.0),
        run("mlp_b", 0.01, "mlp", 0.2, 12.0),
        run("cnn_a", 0.1, "cnn", 0.05, 40.0),
    ]


def ctx(runs: list[MemoryRun] | None = None) -> Context:
    items = make_runs() if runs is None else runs
    return Context(lambda: items, ".")


DOC = """# Sweep notes

Hand-written intro.   Trailing spaces stay.{TRAIL}
The best mlp reached {{ final(mlp_b, loss) | .3f }} and cnn {{ final(cnn_a, loss) | .2e }}.

```expbook
leaderboard: {metric: loss, top: 2, params: [lr, model]}
```
Text right after the block.

```expbook
pivot: {rows: model, cols: lr, value: loss}
```

- [claim k1] `factor(mlp_a, cnn_a, loss) > 5`
- [claim k2] `final(mlp_b, loss) < 0.1` hand note after the claim
- [claim k3] `first_below(cnn_a, loss, 1)`

```python
x = "{{ not rendered }}"
```

The end, with `{{ literal }}` in code.
""".replace("{TRAIL}", "  ")


def render(text: str, runs: list[MemoryRun] | None = None, **kw) -> str:
    return render_text(text, ctx(runs), **kw).text


def test_render_is_idempotent_and_regions_are_not_duplicated() -> None:
    res = render_text(DOC, ctx())
    assert res.changed and not res.errors, res.issues
    once = res.text
    again = render_text(once, ctx())
    assert again.text == once and not again.changed
    assert once.count("<!-- expbook:begin") == 2
    assert once.count("<!-- expbook:end -->") == 2
    assert render(render(once)) == once


def test_hand_written_text_is_preserved() -> None:
    out = render(DOC)
    for line in DOC.splitlines():
        if ("{{" in line and "`" not in line) or line.startswith("- [claim"):
            continue
        assert line in out.splitlines(), line
    # order of the hand-written lines is kept
    hand = [ln for ln in DOC.splitlines() if ln.strip()]
    kept = [ln for ln in out.splitlines() if ln in hand]
    assert kept == [ln for ln in hand if ln in kept]
    assert "Trailing spaces stay.  \n" in out
    assert 'x = "{{ not rendered }}"' in out
    assert "`{{ literal }}`" in out
    assert "hand note after the claim" in out


def test_inline_values_render_in_place() -> None:
    out = render(DOC)
    assert '<span data-expbook="final(mlp_b, loss) | .3f">0.200</span>' in out
    assert '<span data-expbook="final(cnn_a, loss) | .2e">5.00e-02</span>' in out
    # new data: the same span, a new value
    out2 = render(out, make_runs(scale=2.0))
    assert '<span data-expbook="final(mlp_b, loss) | .3f">0.400</span>' in out2
    assert out2.count("data-expbook") == 2


def test_regions_update_in_place_when_data_changes() -> None:
    out = render(DOC)
    out2 = render(out, make_runs(scale=10.0))
    assert out2 != out
    assert out2.count("<!-- expbook:begin") == 2
    # the same document rendered from scratch with the new data
    assert out2 == render(DOC, make_runs(scale=10.0))


def test_deleted_region_is_regenerated() -> None:
    out = render(DOC)
    stripped = re.sub(
        r"<!-- expbook:begin[^\n]*-->\n.*?<!-- expbook:end -->\n", "", out, count=1, flags=re.S
    )
    assert stripped.count("expbook:begin") == 1
    res = render_text(stripped, ctx())
    assert res.changed and not res.errors
    assert res.text.count("expbook:begin") == 2
    # the same document again, up to the blank lines the deletion left behind
    assert re.sub(r"\n{3,}", "\n\n", res.text) == out
    assert render(res.text) == res.text


def test_edit_inside_region_is_detected_not_lost() -> None:
    out = render(DOC)
    edited = out.replace("| cnn_a |", "| cnn_a (my note) |", 1)
    assert edited != out
    res = render_text(edited, ctx())
    assert [i.what for i in res.errors] == ["region"]
    assert "edited by hand" in res.errors[0].message
    assert "cnn_a (my note)" in res.text  # left as it is
    forced = render_text(edited, ctx(), force=True)
    assert not forced.errors
    assert forced.text == out


def test_orphan_region_of_a_deleted_block_is_removed() -> None:
    out = render(DOC)
    no_block = out.replace("```expbook\npivot: {rows: model, cols: lr, value: loss}\n```\n", "")
    res = render_text(no_block, ctx())
    assert res.text.count("expbook:begin") == 1
    assert any("block is gone" in i.message for i in res.issues)
    assert not res.errors


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("leaderbord: {metric: loss}", "unknown block kind 'leaderbord'"),
        ("leaderboard: {metric: loss, mdoe: max}", "unknown field 'mdoe'"),
        ("leaderboard: {metric: los}", "no selected run has metric 'los'"),
        ("leaderboard: {metric: loss, runs: [nope]}", "no run named 'nope'"),
        ("pivot: {rows: model}", "missing field 'value'"),
        ("leaderboard: {metric: loss, mode: best}", "mode must be one of min, max"),
        ("leaderboard: [unclosed", "bad YAML"),
        ("value: final(nope, loss)", "no run named 'nope'"),
        ("compare: {runs: [mlp_a]}", "at least two runs"),
    ],
)
def test_bad_block_shows_error_and_rest_renders(body: str, message: str) -> None:
    doc = f"# T\n\n```expbook\n{body}\n```\n\n```expbook\nleaderboard: loss\n```\n"
    res = render_text(doc, ctx())
    assert len(res.errors) == 1, res.issues
    assert message in res.errors[0].message
    first, second = res.text.split("<!-- expbook:end -->")[:2]
    assert "> **expbook error:**" in first and message in first
    assert "| mlp_b |" in second
    # the error region is stable too
    assert render_text(res.text, ctx()).text == res.text


def test_block_kinds_render() -> None:
    doc = "\n".join(
        [
            "```expbook\nruns: {params: [lr, model], columns: [loss]}\n```",
            "```expbook\nwinners: {metric: loss, by: model}\n```",
            "```expbook\ncompare: {runs: [mlp_a, cnn_a]}\n```",
            "```expbook\nvalue: {expr: 'factor(mlp_a, cnn_a, loss)', format: .1f}\n```",
            "```expbook\nderived: {derive: {ppl: exp(loss)}, runs: 'mlp_*'}\n```",
            "```expbook\nkind: leaderboard\nmetric: loss\ntitle: Ranking\nfilter: lr > 0.05\n```",
            "",
        ]
    )
    res = render_text(doc, ctx())
    assert not res.errors, res.issues
    assert res.blocks == 6
    text = res.text
    assert "\n10.0\n" in text  # the value block
    assert "**Ranking**" in text
    ranking = text.split("**Ranking**")[1]
    assert "mlp_b" not in ranking.split("<!-- expbook:end -->")[0]  # filtered out by lr
    assert "ppl" in text
    assert render_text(text, ctx()).text == text


def test_fenced_example_blocks_are_not_rendered() -> None:
    doc = "````markdown\n```expbook\nleaderboard: loss\n```\n````\n"
    res = render_text(doc, ctx())
    assert res.text == doc and res.blocks == 0


def test_claims_status_is_written_and_failures_counted() -> None:
    res = render_text(DOC, ctx())
    by_id = {c.id: c for c in res.claims}
    assert by_id["k1"].status == "holds" and by_id["k1"].value == pytest.approx(10.0)
    assert by_id["k2"].status == "fails" and by_id["k2"].value == pytest.approx(0.2)
    assert by_id["k3"].status == "value"
    assert [c.id for c in res.failed_claims] == ["k2"]
    line = next(ln for ln in res.text.splitlines() if "[claim k2]" in ln)
    assert line.startswith("- [claim k2] `final(mlp_b, loss) < 0.1` <!--expbook:claim-->")
    assert "fails" in line and line.endswith(" hand note after the claim")


def test_claim_on_a_deleted_run_cannot_be_evaluated() -> None:
    runs = [r for r in make_runs() if r.name != "cnn_a"]
    res = render_text(DOC, ctx(runs))
    k1 = next(c for c in res.claims if c.id == "k1")
    assert k1.status == "error" and "no run named 'cnn_a'" in (k1.message or "")
    assert any(i.what == "claim k1" for i in res.errors)
    assert "cannot evaluate" in res.text
    # and the inline value naming it shows the problem
    assert "<span data-expbook=\"final(cnn_a, loss) | .2e\">⚠ no run named 'cnn_a'" in res.text


def test_missing_metric_is_an_error_not_null() -> None:
    res = render_text("- [claim m] `final(mlp_a, val_loss)`\n", ctx())
    assert res.claims[0].status == "error"
    assert "has no metric 'val_loss'" in (res.claims[0].message or "")


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (180082.6, ".2e", "1.80e+05"),
        (4.55241234, ".4f", "4.5524"),
        (0.114, "+.1%", "+11.4%"),
        (3599.6, ".0f", "3600"),
        (471, None, "471"),
        (17.93, "int", "18"),
        (None, ".2e", "none"),
        (True, None, "true"),
        ("exp10", None, "exp10"),
    ],
)
def test_format_value(value, fmt, text) -> None:
    assert format_value(value, fmt) == text


def test_crlf_documents_keep_their_line_endings() -> None:
    doc = DOC.replace("\n", "\r\n")
    out = render(doc)
    assert "\n" not in out.replace("\r\n", "")
    assert render(out) == out


def test_render_file_writes_atomically_and_only_on_change(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text(DOC)
    res = render_file(str(path), make_runs())
    assert res.changed
    first = path.read_bytes()
    os.utime(path, (1, 1))
    res = render_file(str(path), make_runs())
    assert not res.changed
    assert path.read_bytes() == first and path.stat().st_mtime == 1  # not rewritten
    check = render_file(str(path), make_runs(scale=3.0), check=True)
    assert check.changed and path.read_bytes() == first  # --check writes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.md"]  # no temp files left


def test_write_atomic_leaves_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text("old")

    with pytest.raises(TypeError):
        write_atomic(str(path), 12)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.md"]


def test_parse_block_shorthand_and_errors() -> None:
    b = parse_block("leaderboard: val_loss\ntitle: Best\n")
    assert b.kind == "leaderboard" and b.fields["metric"] == "val_loss" and b.title == "Best"
    with pytest.raises(BlockError, match="exactly one kind"):
        parse_block("leaderboard: a\npivot: {rows: x, value: y}\n")
    with pytest.raises(BlockError, match="YAML mapping"):
        parse_block("- a\n- b\n")


def test_check_evaluates_claims_only() -> None:
    from expbook.report import check_document

    doc = "```expbook\nnot_a_kind: 1\n```\n\n- [claim ok] `final(mlp_a, loss) > 0.1`\n"
    claims = check_document(doc, ctx())
    assert [(c.id, c.status) for c in claims] == [("ok", "holds")]
    rendered = render(DOC)
    assert [c.id for c in check_document(rendered, ctx())] == ["k1", "k2", "k3"]


def test_inline_value_in_a_table_cell() -> None:
    doc = "| run | loss |\n|---|---:|\n| mlp_b | {{ final(mlp_b, loss) \\| .2f }} |\n"
    res = render_text(doc, ctx())
    assert not res.errors, res.issues
    assert res.text.splitlines()[2] == (
        '| mlp_b | <span data-expbook="final(mlp_b, loss) \\| .2f">0.20</span> |'
    )
    assert render_text(res.text, ctx()).text == res.text
