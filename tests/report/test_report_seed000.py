"""A seed-000 style report (the hand-made "auto report" of GNN ablations) regenerated from the
imported results: generalization, R2/MAE, sweep pivot, winners and the JIT timing."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from expbook._output import fmt_number
from expbook.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "seeds" / "seed000"

assert FIXTURE.is_dir(), "seed000 fixture not found under tests/data/seeds"

PREDS = FIXTURE / "raw" / "results" / "gen_jax_5to7to8" / "preds.csv"
CLAIM = "steady(timing_jax_nojit, epoch_seconds) > 3 * steady(timing_jax_jit, epoch_seconds)"

DOC = f"""# GNN ablations: auto report

## Generalization (train on sizes 5-7, test on 8)

```expbook
leaderboard: {{metric: train_mse, columns: [test_mse], runs: 'gen_*'}}
```

## Test metrics from the prediction files

```expbook
runs: {{runs: 'gen_*', columns: [preds/r2, preds/mae, preds/n]}}
```

```expbook
eval: {{files: ['{PREDS}']}}
```

## Sweep

```expbook
pivot: {{rows: [framework, pool], cols: feature, value: test_mse, runs: 'torch_*, jax_*'}}
```

```expbook
winners: {{metric: test_mse, by: framework, runs: 'torch_*, jax_*'}}
```

## JIT

Steady-state epoch time (median after 2 warm-up epochs): jit
{{{{ steady(timing_jax_jit, epoch_seconds) | .3f }}}} s, no jit
{{{{ steady(timing_jax_nojit, epoch_seconds) | .3f }}}} s, a
{{{{ steady(timing_jax_nojit, epoch_seconds) / steady(timing_jax_jit, epoch_seconds) | .1f }}}}x
speed-up.

- [claim jit_faster] `{{CLAIM}}`
"""


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def regions(text: str) -> list[str]:
    return re.findall(r"<!-- expbook:begin[^\n]*\n(.*?)<!-- expbook:end -->", text, flags=re.S)


def test_seed000_report(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    assert cli("import", str(FIXTURE / "raw"), "--store", store, "--format", "json")[0] == 0
    exp = json.loads((FIXTURE / "expected.json").read_text())
    doc = tmp_path / "auto_report.md"
    doc.write_text(DOC.replace("{CLAIM}", CLAIM))
    # the prediction files live in the fixture, outside the document's folder
    allow = ("--allow-dir", str(FIXTURE))
    code, _, err = cli("report", str(doc), "--store", store)
    assert code == 1 and "outside the document's folder" in err
    code, _, err = cli("report", str(doc), "--store", store, *allow)
    assert code == 0, err
    text = doc.read_text()
    gen, metrics, ev, sweep, win = regions(text)
    for row in exp["generalization_table"]:
        if row["run"].startswith("gen_"):
            assert f"| {row['run']} |" in gen
    tm = exp["test_metrics"]["gen_jax_5to7to8"]
    r2, mae = fmt_number(tm["r2"]), fmt_number(tm["mae"])
    assert f"| gen_jax_5to7to8 | finished | {r2} | {mae} | 200 |" in metrics
    assert "| 200 |" in ev and "2.2579" in ev and "13.221" in ev
    assert "| jax | mean | 1.7115 | 13.221 |" in sweep  # the README's pivot
    overall = exp["sweep_winner_overall"]["run"]
    assert f"| overall | {overall} |" in win
    for fw, w in exp["sweep_winner_per_framework"].items():
        assert f"| framework={fw} | {w['run']} |" in win
    values = re.findall(r'<span data-expbook="[^"]*">(.*?)</span>', text)
    jt = exp["jax_timing"]
    assert values == [
        f"{jt['steady_state_epoch_s_jit']:.3f}",
        f"{jt['steady_state_epoch_s_nojit']:.3f}",
        f"{jt['speedup_nojit_over_jit']:.1f}",
    ]
    assert "✅ holds" in text
    once = doc.read_bytes()
    assert cli("report", str(doc), "--store", store, *allow)[0] == 0
    assert doc.read_bytes() == once
