"""Property: for any mix of prose, blocks (good and bad), claims, inline values and code,
rendering is idempotent and every hand-written line survives, in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from expbook.analysis import MemoryRun
from expbook.report import Context, render_text

RUNS = [
    MemoryRun("a", series={"loss": [(s, 1.0 / s) for s in range(1, 6)]}, config={"lr": 0.1}),
    MemoryRun("b", series={"loss": [(s, 2.0 / s) for s in range(1, 6)]}, config={"lr": 0.01}),
]

FRAGMENTS = [
    "Plain prose line.",
    "Prose with {{ final(a, loss) | .3f }} inline.",
    "Bad inline {{ final(zzz, loss) }} here.",
    "Literal `{{ final(a, loss) }}` in code.",
    "```expbook\nleaderboard: loss\n```",
    "```expbook\npivot: {rows: lr, value: loss}\n```",
    "```expbook\nnot_a_kind: 1\n```",
    "```expbook\nvalue: factor(b, a, loss)\n```",
    "- [claim c] `final(a, loss) < 1`",
    "- [claim d] `final(zzz, loss)`",
    "```python\nprint('{{ x }}')\n```",
    "<!-- a hand-written comment -->",
    "",
    "# Heading",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=12),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_render_is_idempotent_and_keeps_hand_written_lines(parts, nl, final_newline) -> None:
    doc = nl.join("\n".join(parts).split("\n")) + (nl if final_newline and parts else "")
    ctx = Context(lambda: RUNS, ".")
    once = render_text(doc, ctx).text
    assert render_text(once, Context(lambda: RUNS, ".")).text == once
    hand = [
        ln
        for ln in doc.splitlines()
        if ln.strip() and "{{" not in ln.replace("`{{", "") and not ln.startswith("- [claim")
    ]
    out_lines = once.splitlines()
    pos = 0
    for ln in hand:
        pos = out_lines.index(ln, pos) + 1  # present, in order
    assert once.count("<!-- expbook:begin") == doc.count("```expbook")
