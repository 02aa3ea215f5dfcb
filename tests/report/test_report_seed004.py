"""Seed 004 end to end: import the raw runs with the CLI, then `expbook check` and
`expbook report` on the fixture's journal.md give the values of expected.json."""

from __future__ import annotations

import html
import io
import json
import math
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from expbook.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "seeds" / "seed004"

assert FIXTURE.is_dir(), "seed004 fixture not found under tests/data/seeds"


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("seed004") / "store")
    code, _, err = cli("import", str(FIXTURE / "raw"), "--store", path, "--format", "json")
    assert code == 0, err
    return path


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURE / "expected.json").read_text())


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.md"
    shutil.copyfile(FIXTURE / "journal.md", path)
    return path


def same(got, want) -> bool:
    if isinstance(want, float) and not isinstance(want, bool):
        return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-9)
    return got == want


def test_check_gives_every_claim_of_expected_json(store, expected, journal) -> None:
    code, out, err = cli("check", str(journal), "--store", store, "--format", "json")
    assert code == 1, err  # c08_harmonic fails
    rows = {r["id"]: r for r in json.loads(out)["rows"]}
    assert len(rows) == len(expected["claims"]) == 49
    for claim in expected["claims"]:
        got = rows[claim["id"]]
        assert same(got["value"], claim["value"]), (claim["id"], got, claim["value"])
        if "holds" in claim:
            assert got["holds"] == claim["holds"], claim["id"]
    assert rows["c08_harmonic"]["status"] == "fails"
    # passes() claims hold or fail too: the false ones count as failing claims
    false_passes = [
        c["id"] for c in expected["claims"] if c["expr"].startswith("passes(") and not c["holds"]
    ]
    assert len(false_passes) == 9
    failing = [i for i, r in rows.items() if r["status"] == "fails"]
    assert sorted(failing) == sorted(["c08_harmonic", *false_passes])
    assert not [
        r for r in rows.values() if r["expr"].startswith("passes(") and r["status"] == "value"
    ]
    assert not [r for r in rows.values() if r["status"] == "error"]


def test_count_claim_lists_the_passing_runs(store, expected) -> None:
    from expbook._views import load_runs
    from expbook.report import JournalEnv, evaluate_claim
    from expbook.store import connect

    env = JournalEnv(load_runs(connect(store)))
    c10 = next(c for c in expected["claims"] if c["id"] == "c10")
    res = evaluate_claim("c10", c10["expr"], env)
    assert res.value == 4
    assert res.detail["runs"] == c10["runs"] and res.detail["total"] == 12
    passing = [c for c in expected["claims"] if c["id"].startswith("c09_") and c["holds"]]
    assert len(passing) == 4


def test_report_renders_inline_values_with_the_expected_text(store, expected, journal) -> None:
    code, _, err = cli("report", str(journal), "--store", store)
    assert code == 0, err
    text = journal.read_text()
    spans = re.findall(r'<span data-expbook="([^"]*)">(.*?)</span>', text)
    want = expected["journal_inline_values"]
    assert len(spans) == len(want) == 30
    for (src, shown), item in zip(spans, want):
        expr = html.unescape(src).rpartition("|")[0].strip() if "|" in src else src.strip()
        assert expr == item["expr"]
        assert shown == item["rendered"], (expr, shown, item["rendered"])
    # claim statuses are shown in the document
    line = next(ln for ln in text.splitlines() if "[claim c08_harmonic]" in ln)
    assert "fails" in line
    line = next(ln for ln in text.splitlines() if "[claim c03]" in ln)
    assert "holds" in line


def test_report_check_and_idempotence(store, journal) -> None:
    original = journal.read_bytes()
    code, out, _ = cli("report", str(journal), "--store", store, "--check")
    assert code == 1 and "out of date" in out
    assert journal.read_bytes() == original  # --check writes nothing
    assert cli("report", str(journal), "--store", store)[0] == 0
    once = journal.read_bytes()
    assert cli("report", str(journal), "--store", store)[0] == 0
    assert journal.read_bytes() == once
    code, out, _ = cli("report", str(journal), "--store", store, "--check")
    assert code == 0 and "up to date" in out


BLOCKS = """# Experiment 20 report

```expbook
leaderboard: {metric: loss, runs: 'exp20_*', params: [equation, hidden_size], top: 5}
```

```expbook
pivot: {rows: equation, cols: hidden_size, value: loss, runs: 'exp20_*'}
```

```expbook
winners: {metric: loss, by: equation, filter: 'config.experiment == "exp20"'}
```

```expbook
compare: {runs: [exp20_rnn128_hermite, exp21_rnn256_scaled_hermite], keys: [loss]}
```

```expbook
derived: {runs: 'exp19_*', derive: {log10_loss: log10(loss)}, params: [architecture]}
```

```expbook
value: {expr: 'count(passes(exp20_*, loss, 1e-6))'}
```

Converged runs: {{ count(passes(exp20_*, loss, 1e-6)) }} of 12.
"""


def test_blocks_against_the_seed004_store(store, tmp_path: Path) -> None:
    doc = tmp_path / "report.md"
    doc.write_text(BLOCKS)
    code, out, err = cli("report", str(doc), "--store", store, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["blocks"] == 6 and not result["issues"]
    text = doc.read_text()
    assert text.count("<!-- expbook:begin") == 6
    assert "| 1 | exp20_rnn128_airy |" in text  # best loss of exp20
    assert "\n4\n" in text  # the value block
    assert 'passes(exp20_*, loss, 1e-6))">4</span> of 12' in text
    once = doc.read_bytes()
    assert cli("report", str(doc), "--store", store)[0] == 0
    assert doc.read_bytes() == once


def test_bad_block_and_missing_run_exit_non_zero(store, tmp_path: Path) -> None:
    doc = tmp_path / "bad.md"
    doc.write_text(
        "```expbook\nleaderboard: {metric: nope}\n```\n\n"
        "```expbook\nleaderboard: {metric: loss, top: 1}\n```\n\n"
        "- [claim gone] `final(exp99_deleted, loss) < 1`\n"
    )
    code, out, err = cli("report", str(doc), "--store", store)
    assert code == 1
    assert "no selected run has metric 'nope'" in err
    assert "claim gone" in err and "no run named 'exp99_deleted'" in err
    text = doc.read_text()
    assert "> **expbook error:**" in text and text.count("<!-- expbook:begin") == 2
    code, out, err = cli("check", str(doc), "--store", store, "--format", "json")
    assert code == 1
    (row,) = json.loads(out)["rows"]
    assert row["status"] == "error" and "exp99_deleted" in row["message"]


def test_edited_region_refused_without_force(store, tmp_path: Path) -> None:
    doc = tmp_path / "e.md"
    doc.write_text("```expbook\nleaderboard: {metric: loss, top: 2}\n```\n")
    assert cli("report", str(doc), "--store", store)[0] == 0
    rendered = doc.read_text()
    doc.write_text(rendered.replace("| 1 |", "| 1 (mine) |"))
    code, _, err = cli("report", str(doc), "--store", store)
    assert code == 1 and "edited by hand" in err
    assert "(mine)" in doc.read_text()
    assert cli("report", str(doc), "--store", store, "--force")[0] == 0
    assert doc.read_text() == rendered
