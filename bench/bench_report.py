#!/usr/bin/env python3
"""expbook report benchmarks (issue 5 targets), each next to floors measured in the same run.

    python bench/bench_report.py                 # full sizes
    python bench/bench_report.py --quick         # small sizes, a smoke test
    python bench/bench_report.py --json out.json # also write every raw measurement

What is measured (every measurement is the wall time of a fresh ``python -m expbook`` process):

* A, render: a store of 1,000 runs x 4 metrics x 200 steps and a document of 20 table/value
  blocks (leaderboard, pivot, winners, compare of two runs, runs, derived, value).
  ``expbook report DOC.md --store S`` from scratch (the source document, without regions, is
  written again before every repetition), then ``--check`` on the rendered, unchanged document.
  Target: under 3 s as a whole process.
* B, HTML: a store of 10 runs x 10,000 points and a document of 20 ``plot`` blocks,
  ``expbook report DOC.md --store S --html OUT.html``: wall time and the HTML's size.
  Target: under 5 MB.

Floors, same run, fresh processes: ``python -c pass`` and ``python -m expbook runs --store S
--format json`` (interpreter start, CLI import, one listing of the store's runs).
Outputs are verified: exit status 0, every region present, ``--check`` passes, HTML < 5 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import child_env, log_progress, med, print_results, run_header, spread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SEED = 20240611
KEYS = ("loss", "val_loss", "acc", "lr")

SIZES: dict[str, dict[str, int]] = {
    "full": {
        "a_runs": 1000,
        "a_steps": 200,
        "b_runs": 10,
        "b_points": 10_000,
        "reps": 5,
        "b_reps": 3,
    },
    "quick": {"a_runs": 100, "a_steps": 50, "b_runs": 3, "b_points": 2_000, "reps": 2, "b_reps": 1},
}
TARGETS = {"render_s": 3.0, "html_mb": 5.0}
BLOCKS = 20

# Same bytecode policy as bench_core.py: children run without PYTHONDONTWRITEBYTECODE and with
# one bytecode cache outside the tree, filled once before measuring.


def warm_bytecode() -> None:
    code = (
        "import expbook, expbook.cli, numpy, pandas, sqlite3, json\n"
        "for m in ('expbook.report', 'matplotlib.pyplot', 'plotly'):\n"
        "    try:\n        __import__(m)\n    except ImportError:\n        pass\n"
    )
    subprocess.run([sys.executable, "-c", code], env=child_env(), check=True, timeout=600)


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=child_env(), cwd=cwd)
    return time.perf_counter() - t0, p


def expbook_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "expbook", *args]


# ---------------------------------------------------------------------------- stores
def _curve(rng: random.Random, n: int, noise: float) -> tuple[list[float], list[float]]:
    base = 1.5 + rng.random()
    floor = 0.05 + 0.3 * rng.random()
    rate = 2.0 + 4.0 * rng.random()
    r = rng.random
    train, val = [], []
    for i in range(n):
        t = i / max(1, n - 1)
        v = floor + base * math.exp(-rate * t)
        train.append(v + noise * (r() - 0.5))
        val.append(v * 1.05 + noise * (r() - 0.5))
    return train, val


def build_store(path: Path, runs: int, steps: int, project: str, prefix: str) -> float:
    """Runs x KEYS x steps through the backend; returns seconds taken."""
    from expbook.store import PointBatch, connect

    t0 = time.perf_counter()
    b = connect(str(path))
    wall0 = 1.7e9
    for i in range(runs):
        rng = random.Random(SEED * 1_000_003 + i)
        cfg = {
            "lr": round(10 ** rng.uniform(-5, -2), 8),
            "optimizer": rng.choice(["adam", "adamw", "sgd", "lion"]),
            "batch_size": rng.choice([16, 32, 64, 128]),
            "layers": rng.choice([2, 4, 8, 16]),
            "seed": i % 5,
            "n_params": rng.choice([1e6, 5e6, 2.5e7]),
        }
        r = b.create_run(name=f"{prefix}_{i:04d}", project=project, config=cfg, status="finished")
        st = list(range(steps))
        walls = [wall0 + 0.5 * s for s in st]
        loss, val = _curve(rng, steps, 0.08)
        acc = [min(1.0, max(0.0, 1.0 - v / 2.5)) for v in val]
        lr = [cfg["lr"] * 0.5 * (1 + math.cos(math.pi * s / max(1, steps - 1))) for s in st]
        b.append_points(
            r.id,
            {
                "loss": PointBatch(st, walls, loss),
                "val_loss": PointBatch(st, walls, val),
                "acc": PointBatch(st, walls, acc),
                "lr": PointBatch(st, walls, lr),
            },
        )
    b.close()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- documents
def doc_a(project: str, prefix: str, steps: int) -> str:
    """20 table/value blocks over the whole store."""
    a, b = f"{prefix}_0000", f"{prefix}_0001"
    mid = steps // 2
    blocks = [
        "leaderboard: {metric: val_loss, mode: min, top: 20}",
        f"leaderboard: {{metric: val_loss, mode: min, at_step: {mid}, top: 10, "
        "derive: {ppl: exp(val_loss)}}",
        "leaderboard: {metric: acc, mode: max, top: 15, params: [lr, optimizer]}",
        "leaderboard: {metric: loss, mode: min, filter: \"optimizer == 'adam'\", top: 10}",
        "pivot: {rows: optimizer, cols: batch_size, value: val_loss, agg: min}",
        "pivot: {rows: layers, value: acc, agg: mean}",
        "pivot: {rows: optimizer, cols: layers, value: loss, agg: median}",
        "winners: {metric: val_loss, mode: min, by: optimizer}",
        "winners: {metric: acc, mode: max, by: layers}",
        "winners: {metric: loss, mode: min, by: batch_size, params: [lr]}",
        f"compare: {{runs: [{a}, {b}]}}",
        f"compare: {{runs: [{prefix}_0002, {prefix}_0003], keys: [loss, val_loss]}}",
        f"runs: {{runs: ['{prefix}_00*'], params: [lr, optimizer, batch_size]}}",
        "runs: {filter: \"optimizer == 'sgd' and layers == 16\", params: [lr, layers]}",
        f"derived: {{runs: ['{prefix}_001*'], derive: {{ppl: exp(val_loss)}}, params: [lr]}}",
        f"derived: {{runs: ['{prefix}_002*'], derive: {{gap: val_loss - loss}}}}",
        f"value: {{expr: 'best({a}, val_loss)', format: .4f}}",
        f"value: {{expr: 'factor({a}, {b}, val_loss)', format: .3f}}",
        f"value: {{expr: 'first_below({a}, val_loss, 1.0)'}}",
        f"value: {{expr: 'final({b}, acc)', format: .2%}}",
    ]
    assert len(blocks) == BLOCKS
    parts = [f"# Report benchmark A\n\nProject `{project}`.\n"]
    for i, blk in enumerate(blocks):
        parts.append(f"## Block {i + 1}\n\nHand-written text {i}.\n\n```expbook\n{blk}\n```\n")
    return "\n".join(parts)


def doc_b(prefix: str, runs: int) -> str:
    parts = ["# Report benchmark B\n"]
    for i in range(BLOCKS):
        key = KEYS[i % len(KEYS)]
        opts = ["log_y: true" if i % 2 else "", "smooth: 0.6" if i % 3 == 0 else ""]
        extra = "".join(f", {o}" for o in opts if o)
        parts.append(
            f"## Plot {i + 1}\n\n```expbook\nplot: {{metric: {key}, runs: ['{prefix}_*'], "
            f"title: 'Plot {i + 1}'{extra}}}\n```\n"
        )
    return "\n".join(parts)


BEGIN = re.compile(r"<!-- expbook:begin ")
ERROR = "expbook error"


def check_rendered(doc: Path) -> tuple[bool, str]:
    text = doc.read_text()
    n_begin = len(BEGIN.findall(text))
    n_end = text.count("<!-- expbook:end -->")
    if n_begin != BLOCKS or n_end != BLOCKS:
        return False, f"{n_begin} begin / {n_end} end markers, expected {BLOCKS}"
    if ERROR in text:
        i = text.index(ERROR)
        return False, "error in a region: " + text[i : i + 300]
    return True, ""


# ---------------------------------------------------------------------------- workloads
def run_floors(store: Path, reps: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"pass": [], "runs_json": []}
    for _ in range(reps):
        w, p = timed([sys.executable, "-c", "pass"])
        out["pass"].append(w)
        w, p = timed(expbook_cmd("runs", "--store", str(store), "--format", "json"))
        if p.returncode != 0:
            raise RuntimeError(f"floor expbook runs failed:\n{p.stderr[-3000:]}")
        out["runs_json"].append(w)
    return out


def workload_a(size: dict[str, int], tmp: Path, raw: dict[str, Any]) -> dict[str, Any]:
    R, S, reps = size["a_runs"], size["a_steps"], size["reps"]
    store = tmp / "a-store"
    log_progress(f"A: building store, {R} runs x {len(KEYS)} metrics x {S} steps")
    build_s = build_store(store, R, S, "bench-a", "a")
    src = doc_a("bench-a", "a", S)
    doc = tmp / "a-doc" / "report.md"
    doc.parent.mkdir()
    render: list[float] = []
    check: list[float] = []
    floors: dict[str, list[float]] = {"pass": [], "runs_json": []}
    ok, why = True, ""
    rendered_bytes = 0
    for rep in range(reps):
        log_progress(f"A: rep {rep + 1}/{reps}")
        f = run_floors(store, 1)
        for k in floors:
            floors[k] += f[k]
        doc.write_text(src)  # no regions: render from scratch
        w, p = timed(expbook_cmd("report", str(doc), "--store", str(store)))
        if p.returncode != 0:
            ok, why = False, why or f"render rc={p.returncode}: {(p.stdout + p.stderr)[-2000:]}"
        good, msg = check_rendered(doc)
        if not good:
            ok, why = False, why or msg
        render.append(w)
        rendered_bytes = doc.stat().st_size
        before = doc.read_bytes()
        w, p = timed(expbook_cmd("report", str(doc), "--store", str(store), "--check"))
        if p.returncode != 0:
            ok, why = False, why or f"--check rc={p.returncode}: {(p.stdout + p.stderr)[-2000:]}"
        if doc.read_bytes() != before:
            ok, why = False, why or "--check changed the document"
        check.append(w)
    raw["a"] = {
        "runs": R,
        "steps": S,
        "points": R * S * len(KEYS),
        "build_s": build_s,
        "render_s": render,
        "check_s": check,
        "floors": floors,
        "rendered_bytes": rendered_bytes,
        "ok": ok,
        "why": why,
        "document": src,
    }
    if not ok:
        log_progress(f"A: CHECK FAILED: {why}")
    return raw["a"]


def workload_b(size: dict[str, int], tmp: Path, raw: dict[str, Any]) -> dict[str, Any]:
    R, N, reps = size["b_runs"], size["b_points"], size["b_reps"]
    store = tmp / "b-store"
    log_progress(f"B: building store, {R} runs x {len(KEYS)} metrics x {N:,} points")
    build_s = build_store(store, R, N, "bench-b", "b")
    src = doc_b("b", R)
    doc = tmp / "b-doc" / "plots.md"
    doc.parent.mkdir()
    html = tmp / "b-doc" / "plots.html"
    times: list[float] = []
    again: list[float] = []
    sizes: list[int] = []
    floors: dict[str, list[float]] = {"pass": [], "runs_json": []}
    ok, why = True, ""
    for rep in range(reps):
        log_progress(f"B: rep {rep + 1}/{reps}")
        f = run_floors(store, 1)
        for k in floors:
            floors[k] += f[k]
        doc.write_text(src)
        shutil.rmtree(doc.parent / "plots_files", ignore_errors=True)  # PNGs drawn again
        if html.exists():
            html.unlink()
        w, p = timed(expbook_cmd("report", str(doc), "--store", str(store), "--html", str(html)))
        if p.returncode != 0:
            ok, why = False, why or f"render rc={p.returncode}: {(p.stdout + p.stderr)[-2000:]}"
        good, msg = check_rendered(doc)
        if not good:
            ok, why = False, why or msg
        if not html.exists():
            ok, why = False, why or "no HTML written"
            sizes.append(0)
        else:
            sizes.append(html.stat().st_size)
        times.append(w)
        # again on the rendered document: regions and PNGs up to date, only the HTML is written
        html.unlink(missing_ok=True)
        w, p = timed(expbook_cmd("report", str(doc), "--store", str(store), "--html", str(html)))
        if p.returncode != 0 or not html.exists():
            ok, why = False, why or f"re-render rc={p.returncode}: {(p.stdout + p.stderr)[-2000:]}"
        again.append(w)
    pngs = sorted((doc.parent / "plots_files").glob("*.png")) if ok else []
    if ok and len(pngs) != BLOCKS:
        ok, why = False, why or f"{len(pngs)} PNGs, expected {BLOCKS}"
    mb = [s / 1e6 for s in sizes]
    if ok and max(mb) >= TARGETS["html_mb"]:
        why = f"HTML {max(mb):.2f} MB"  # a target miss, reported in the table, not a data error
    raw["b"] = {
        "runs": R,
        "points": N,
        "build_s": build_s,
        "html_s": times,
        "html_again_s": again,
        "html_bytes": sizes,
        "png_count": len(pngs),
        "png_bytes": sum(p.stat().st_size for p in pngs),
        "floors": floors,
        "ok": ok,
        "why": why,
        "document": src,
    }
    if not ok:
        log_progress(f"B: CHECK FAILED: {why}")
    return raw["b"]


# ---------------------------------------------------------------------------- table
def make_rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    a = raw.get("a")
    if a:
        fp, fr = a["floors"]["pass"], a["floors"]["runs_json"]
        rows.append(
            {
                "name": f"A: report, {BLOCKS} table/value blocks, {a['runs']:,} runs x 4 x "
                f"{a['steps']} steps, from scratch, wall s",
                "ours": spread(a["render_s"]),
                "floor": spread(fr),
                "ratio": med(a["render_s"]) / med(fr),
                "ratio2": med(a["render_s"]) / med(fp),
                "target": f"< {TARGETS['render_s']:.0f} s",
                "met": med(a["render_s"]) < TARGETS["render_s"],
                "ok": a["ok"],
            }
        )
        rows.append(
            {
                "name": "A: same document, unchanged, --check, wall s",
                "ours": spread(a["check_s"]),
                "floor": spread(fr),
                "ratio": med(a["check_s"]) / med(fr),
                "ratio2": med(a["check_s"]) / med(fp),
                "target": f"< {TARGETS['render_s']:.0f} s",
                "met": med(a["check_s"]) < TARGETS["render_s"],
                "ok": a["ok"],
            }
        )
        rows.append(
            {
                "name": "A floors: expbook runs --format json / python -c pass, wall s",
                "ours": spread(fr),
                "floor": spread(fp),
                "ratio": med(fr) / med(fp),
                "target": "(info)",
            }
        )
    b = raw.get("b")
    if b:
        fp, fr = b["floors"]["pass"], b["floors"]["runs_json"]
        mb = [s / 1e6 for s in b["html_bytes"]]
        rows.append(
            {
                "name": f"B: report --html, {BLOCKS} plot blocks, {b['runs']} runs x "
                f"{b['points']:,} points, wall s",
                "ours": spread(b["html_s"]),
                "floor": spread(fr),
                "ratio": med(b["html_s"]) / med(fr),
                "ratio2": med(b["html_s"]) / med(fp),
                "target": "(info)",
                "ok": b["ok"],
            }
        )
        rows.append(
            {
                "name": "B: same, again on the rendered document (PNGs up to date), wall s",
                "ours": spread(b["html_again_s"]),
                "floor": spread(fr),
                "ratio": med(b["html_again_s"]) / med(fr),
                "ratio2": med(b["html_again_s"]) / med(fp),
                "target": "(info)",
                "ok": b["ok"],
            }
        )
        rows.append(
            {
                "name": "B: HTML size, MB",
                "ours": spread(mb, "{:.2f}"),
                "floor": "-",
                "target": f"< {TARGETS['html_mb']:.0f} MB",
                "met": max(mb) < TARGETS["html_mb"],
                "ok": b["ok"],
            }
        )
        rows.append(
            {
                "name": f"B: the {b['png_count']} PNGs next to the document, MB",
                "ours": f"{b['png_bytes'] / 1e6:.2f}",
                "floor": "-",
                "target": "(info)",
            }
        )
    return rows


def print_table(raw: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print()
    h = raw["host"]
    print(
        f"expbook report benchmarks, {raw['date']}, code {raw['code']['git_head']}, "
        f"Python {h['python']}, SQLite {h['sqlite']}, {h['cpus']} CPUs, "
        f"load {h['loadavg_start'][0]:.2f}->{h['loadavg_end'][0]:.2f}; "
        f"median [min-max] of fresh processes (A {raw['sizes']['reps']}, "
        f"B {raw['sizes']['b_reps']}); "
        f"{raw['elapsed_s']:.0f} s in all"
    )
    print(f"command: {raw['command']}")
    print()
    print_results(rows, floor_head="floor: runs --format json", ratio2_head="vs pass")
    for k in ("a", "b"):
        if k in raw and raw[k]["why"]:
            print(f"{k.upper()}: {raw[k]['why']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--json", metavar="OUT", help="write every raw measurement to OUT")
    ap.add_argument("--reps", type=int, help="repetitions of every measurement")
    ap.add_argument("--only", default="a,b", help="comma-separated subset of a,b")
    ap.add_argument("--keep", action="store_true", help="keep the temporary stores and documents")
    args = ap.parse_args(argv)

    size = dict(SIZES["quick" if args.quick else "full"])
    if args.reps:
        size["reps"] = size["b_reps"] = args.reps
    only = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-report-"))
    started = time.perf_counter()
    raw: dict[str, Any] = run_header(size)
    warm_bytecode()
    try:
        if "a" in only:
            workload_a(size, tmp, raw)
        if "b" in only:
            workload_b(size, tmp, raw)
    finally:
        if args.keep:
            log_progress(f"stores and documents kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    raw["elapsed_s"] = time.perf_counter() - started
    raw["host"]["loadavg_end"] = os.getloadavg()
    rows = make_rows(raw)
    raw["table"] = rows
    print_table(raw, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if all(r.get("ok", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
