#!/usr/bin/env python3
"""Markdown for bench/results/peers.md (called by run_peers.sh): this run's trackers (expbook and
the floors measured next to it) in the column layout of the harness's RESULTS.md headline table,
followed by the committed peer rows of that table, ratios against the same-run floors, and the
harness's own detail tables."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load(path: str) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def get(d: Any, path: str) -> Any:
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def num(x: float) -> str:
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    if ax >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2g}"


def stat(vals: list[Any]) -> str:
    v = [x for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if not v:
        return "-"
    if len(v) == 1:
        return f"{num(v[0])} (n=1)"
    return f"{num(statistics.median(v))} [{num(min(v))}-{num(max(v))}]"


def med(vals: list[Any]) -> float | None:
    v = [x for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
    return statistics.median(v) if v else None


def rate(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def ok_rows(rows: list[dict[str, Any]], tracker: str, wl: str) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r["tracker"] == tracker
        and r.get("workload") == wl
        and r.get("mode", "percall") == "percall"
        and r.get("status") in ("ok", "failed-verification")
    ]


def headline_row(rows: list[dict[str, Any]], t: str) -> tuple[list[str], dict[str, Any]]:
    w1, w2 = ok_rows(rows, t, "W1"), ok_rows(rows, t, "W2")
    w3, w4 = ok_rows(rows, t, "W3"), ok_rows(rows, t, "W4")
    m: dict[str, Any] = {}
    cells = [f"**{t}** (this run)"]
    if w1:
        m["w1_us"] = med([r["us_per_call"] for r in w1])
        m["w1_total"] = med([r["t_loop_s"] + r["t_finish_s"] for r in w1])
        fin = med([r["t_finish_s"] for r in w1])
        cells.append(stat([r["us_per_call"] for r in w1]))
        cells.append(
            f"{stat([r['t_loop_s'] + r['t_finish_s'] for r in w1])} (finish {num(fin or 0)} s)"
        )
        found = sorted(
            {(get(r, "verify.points_found"), get(r, "verify.points_expected")) for r in w1},
            key=str,
        )
        mem = " (in memory)" if t == "null" else ""
        cells.append("; ".join(f"{a:,} / {b:,}" for a, b in found if a is not None) + mem)
    else:
        cells += ["-", "-", "-"]
    if w2:
        pts = get(w2[0], "size.points")
        m["w2_pps"] = med([r["points_per_s"] for r in w2])
        sizes = [get(r, "store.store_bytes") for r in w2]
        m["w2_bpp"] = (med(sizes) or 0) / pts if pts else None
        cells.append(stat([r["t_total_s"] for r in w2]))
        cells.append(rate(m["w2_pps"]))
        cells.append(
            "-"
            if not m["w2_bpp"]
            else f"{stat([s / 1e6 for s in sizes])} ({m['w2_bpp']:.1f} B/point)"
        )
    else:
        cells += ["-", "-", "-"]
    na3 = [r for r in rows if r["tracker"] == t and r.get("workload") == "W3"]
    if w3:
        m["w3_s"] = med([r["t_query_s"] for r in w3])
        m["w3_wall"] = med([r["process_wall_s"] for r in w3])
        cells.append(
            f"{stat([r['t_query_s'] for r in w3])}; process wall "
            f"{stat([r['process_wall_s'] for r in w3])}"
            + ("" if all(r.get("leaderboard_correct") for r in w3) else " **WRONG RESULT**")
        )
    else:
        cells.append("n/a" if na3 else "-")
    if w4:
        m["w4_s"] = med([r["t_read_s"] for r in w4])
        m["w4_wall"] = med([r["process_wall_s"] for r in w4])
        cells.append(
            f"{stat([r['t_read_s'] for r in w4])}; process wall "
            f"{stat([r['process_wall_s'] for r in w4])}"
            + ("" if all(r.get("ok") for r in w4) else " **WRONG RESULT**")
        )
    else:
        cells.append("n/a" if na3 else "-")
    return cells, m


def results_md_headline(path: str) -> tuple[list[str], list[str]]:
    """(header lines, row lines) of the '## Headline table' in RESULTS.md."""
    lines = Path(path).read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("## Headline table"))
    table: list[str] = []
    for x in lines[start + 1 :]:
        if x.startswith("|"):
            table.append(x)
        elif table:
            break
    return table[:2], table[2:]


def fingerprint() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "src" / "expbook").rglob("*.py")):
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    ).stdout.strip()
    return f"git HEAD {head or '?'} + working tree (src sha256 {h.hexdigest()[:16]})"


def main() -> None:
    ap = argparse.ArgumentParser()
    for a in (
        "--this-run",
        "--results-md",
        "--tables-this-run",
        "--tables-combined",
        "--started",
        "--load",
        "--reps",
        "--drop-caches",
        "--trackers",
        "--smoke",
    ):
        ap.add_argument(a, required=True)
    a = ap.parse_args()
    rows = load(a.this_run)
    ours = a.trackers.split()
    out: list[str] = []
    w = out.append
    w("# expbook in the peer harness, side by side\n")
    w(
        "Generated by `bench/run_peers.sh` (do not edit by hand). The harness is "
        "`../shared/bench/peers` (unmodified; run from a temporary copy with "
        "`bench/peers_adapter/expbook_adapter.py` plugged in)."
    )
    if a.smoke == "1":
        w("\n**Smoke run: tiny sizes from config-smoke.json; the numbers mean nothing.**")
    w("")
    w(
        f"- this run: started {a.started}, trackers `{a.trackers}`, REPS={a.reps}, "
        f"DROP_CACHES={a.drop_caches} ({'cold' if a.drop_caches == '1' else 'warm'} W3/W4), "
        f"load average {a.load}"
    )
    w(
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    w(f"- expbook code measured: {fingerprint()}")
    w(
        "- peer rows: copied from the headline table of `../shared/bench/peers/RESULTS.md` "
        "(measured 2026-11-23 on this machine; footnotes and bold marks refer to that file). "
        "Its own null and sqlite-raw rows are kept so the drift of the machine shows."
    )
    w("")
    w("## Headline (W1: 100k log calls x 4 scalars; W2: 200 runs x 2,000 steps x 4; W3: ")
    out[-1] += "leaderboard over W2; W4: 100k-point series of W1)\n"
    head, peer_rows = results_md_headline(a.results_md)
    w(head[0])
    w(head[1])
    metrics: dict[str, dict[str, Any]] = {}
    for t in ours:
        cells, m = headline_row(rows, t)
        metrics[t] = m
        w("| " + " | ".join(cells) + " |")
    for line in peer_rows:
        cells = line.strip().strip("|").split("|")
        cells[0] = f" {cells[0].strip()} (RESULTS.md) "
        w("|" + "|".join(cells) + "|")
    w("")
    if "expbook" in metrics and "sqlite-raw" in metrics:
        e, s, n = metrics["expbook"], metrics["sqlite-raw"], metrics.get("null", {})
        w("## expbook against the floors of this run (medians)\n")
        w("| measure | expbook | floor | ratio | target (issue 2) |")
        w("|---|---|---|---|---|")

        def ratio(x: Any, y: Any) -> str:
            return f"{x / y:.2f}x" if x and y else "-"

        if e.get("w1_us") and n.get("w1_us"):
            w(
                f"| W1 us per log call (loop only) | {e['w1_us']:.2f} | null {n['w1_us']:.2f} | "
                f"{ratio(e['w1_us'], n['w1_us'])} | <= 1.5x a list-append loop |"
            )
        if e.get("w1_us") and s.get("w1_us"):
            w(
                f"| W1 us per log call (loop only) | {e['w1_us']:.2f} | sqlite-raw "
                f"{s['w1_us']:.2f} | {ratio(e['w1_us'], s['w1_us'])} | |"
            )
        if e.get("w1_total") and s.get("w1_total"):
            w(
                f"| W1 loop + finish s | {e['w1_total']:.2f} | sqlite-raw {s['w1_total']:.2f} | "
                f"{ratio(e['w1_total'], s['w1_total'])} | |"
            )
        if e.get("w2_pps") and s.get("w2_pps"):
            w(
                f"| W2 points/s | {rate(e['w2_pps'])} | sqlite-raw {rate(s['w2_pps'])} | "
                f"{ratio(e['w2_pps'], s['w2_pps'])} | >= 1.0x |"
            )
        if e.get("w2_bpp") and s.get("w2_bpp"):
            w(
                f"| W2 store bytes/point (as the harness measures it: files right after the "
                f"run, WAL included) | {e['w2_bpp']:.1f} | sqlite-raw {s['w2_bpp']:.1f} | "
                f"{ratio(e['w2_bpp'], s['w2_bpp'])} | <= 24 B |"
            )
        if e.get("w3_s") and s.get("w3_s"):
            w(
                f"| W3 leaderboard s, in-process | {e['w3_s']:.3f} | sqlite-raw {s['w3_s']:.3f} "
                f"| {ratio(e['w3_s'], s['w3_s'])} | |"
            )
            w(
                f"| W3 leaderboard s, process wall (cold: interpreter, imports, harness) | "
                f"{e['w3_wall']:.2f} | sqlite-raw {s['w3_wall']:.2f} | "
                f"{ratio(e['w3_wall'], s['w3_wall'])} | < 0.3 s (bench_core measures it bare) |"
            )
        if e.get("w4_s") and s.get("w4_s"):
            w(
                f"| W4 series read s, in-process (cold) | {e['w4_s']:.3f} | sqlite-raw "
                f"{s['w4_s']:.3f} | {ratio(e['w4_s'], s['w4_s'])} | < 50 ms |"
            )
        w("")
    w("## Detail tables, this run only (the harness's summarize.py)\n")
    w(Path(a.tables_this_run).read_text())
    w("## Detail tables, this run plus the committed peer measurements\n")
    w(
        "The committed `results/raw.jsonl` of the harness without its null and sqlite-raw "
        "lines, plus this run's lines.\n"
    )
    w(Path(a.tables_combined).read_text())
    print("\n".join(out))


if __name__ == "__main__":
    main()
