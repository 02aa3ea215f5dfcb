"""A seed-002 style screening report rendered from the imported logs: the fixed-step ranking
table and the headline numbers in prose come out as the fixture's expected.json says."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from expbook.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "seeds" / "seed002"

assert FIXTURE.is_dir(), "seed002 fixture not found under tests/data/seeds"

VAN = "w3_25m_screen_vanilla_25m"
NGT = "w3_25m_screen_ngt_mass_in_value"

DOC = f"""# w3_25m screening (WikiText-103)

Ranking at the fixed step 15000, with perplexity and throughput:

```expbook
leaderboard:
  metric: val_loss
  at_step: 15000
  sort: at
  derive: {{ppl: exp(val_loss), steps_per_s: 'throughput(elapsed, 500, 15000)'}}
```

Vanilla reaches {{{{ at({VAN}, val_loss, 15000) | .4f }}}} (ppl
{{{{ exp(at({VAN}, val_loss, 15000)) | .2f }}}}); the best NGT variant is
{{{{ argmin(at(val_loss, 15000), w3_25m_screen_ngt_*) }}}}, whose perplexity is
{{{{ exp(at({NGT}, val_loss, 15000)) / exp(at({VAN}, val_loss, 15000)) - 1 | +.1% }}}} higher.

- [claim vanilla_wins] `at({VAN}, val_loss, 15000) < at({NGT}, val_loss, 15000)`
"""


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_screening_report(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    assert cli("import", str(FIXTURE / "raw"), "--store", store, "--format", "json")[0] == 0
    exp = json.loads((FIXTURE / "expected.json").read_text())
    doc = tmp_path / "screen.md"
    doc.write_text(DOC)
    code, _, err = cli("report", str(doc), "--store", store)
    assert code == 0, err
    text = doc.read_text()
    region = text.split("<!-- expbook:begin")[1].split("<!-- expbook:end -->")[0]
    order = re.findall(r"^\| \d+ \| (\S+) \|", region, flags=re.M)
    assert order == exp["fixed_step_15000_order"]
    assert "ppl" in region and "steps_per_s" in region
    values = re.findall(r'<span data-expbook="[^"]*">(.*?)</span>', text)
    head = exp["headline"]
    assert values == [
        f"{head['best_overall_val_loss_at_15000_4dp']:.4f}",
        f"{head['best_overall_ppl_at_15000_2dp']:.2f}",
        head["best_ngt_run"],
        f"+{head['delta_ppl_pct_1dp']:.1f}%",
    ]
    assert "vanilla_wins] `" in text and "✅ holds" in text
    once = doc.read_bytes()
    assert cli("report", str(doc), "--store", store, "--check")[0] == 0
    assert doc.read_bytes() == once
