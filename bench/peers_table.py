#!/usr/bin/env python3
"""Markdown for bench/results/peers.md (called by run_peers.sh): one table of every tracker
measured in one run of the peer harness, a header saying when, where and with which versions,
and expbook's lead over each tracker computed from that run alone, then the harness's own
detail tables of the same run. Nothing is read from any other run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

from _common import cpu_model, src_fingerprint

# (label, tracker, mode): the order of the table; rows the run does not have are left out
ROWS = (
    ("**expbook**", "expbook", "percall"),
    ("sqlite-raw (floor)", "sqlite-raw", "percall"),
    ("null (floor: a list append)", "null", "percall"),
    ("trackio", "trackio", "percall"),
    ("wandb (offline)", "wandb", "percall"),
    ("aim", "aim", "percall"),
    ("mlflow-sqlite, per call", "mlflow-sqlite", "percall"),
    ("mlflow-sqlite, log_batch", "mlflow-sqlite", "batch"),
    ("mlflow-file, per call", "mlflow-file", "percall"),
    ("mlflow-file, log_batch", "mlflow-file", "batch"),
)
GOOD = ("ok",)


def load(path: str) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


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


def rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def med(vals: list[float]) -> float | None:
    return statistics.median(vals) if vals else None


def spread(vals: list[float], fmt: Any = num) -> str:
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{fmt(vals[0])} (n=1)"
    return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}-{fmt(max(vals))}]"


def lines_of(rows: list[dict[str, Any]], tracker: str, wl: str, mode: str) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["tracker"] != tracker or r.get("workload") != wl:
            continue
        # W3/W4 read a store: they belong to the mode that wrote it
        m = r.get("store_mode") if wl in ("W3", "W4") else r.get("mode", "percall")
        if (m or "percall") == mode:
            out.append(r)
    return out


def failed(lines: list[dict[str, Any]]) -> str:
    st = sorted({str(r.get("status")) for r in lines if r.get("status") not in GOOD})
    return ", ".join(st)


class Row:
    """The medians of one (tracker, mode) of the run, and its cells."""

    def __init__(
        self, rows: list[dict[str, Any]], cfg: dict[str, Any], label: str, tracker: str, mode: str
    ) -> None:
        base_steps = cfg["W2"]["steps"]
        self.label, self.tracker, self.mode = label, tracker, mode
        self.notes: list[str] = []
        self.m: dict[str, float] = {}
        self.cells: list[str] = [label]
        w1 = lines_of(rows, tracker, "W1", mode)
        w2 = lines_of(rows, tracker, "W2", mode)
        w3 = lines_of(rows, tracker, "W3", mode)
        w4 = lines_of(rows, tracker, "W4", mode)
        self.present = bool(w1 or w2 or w3 or w4)
        ok1 = [r for r in w1 if r.get("status") in GOOD]
        if ok1:
            calls = ok1[0]["size"]["calls"]
            if ok1[0]["size"].get("scaled"):
                self.notes.append(
                    f"W1 {calls:,} calls (default {ok1[0]['size']['default_steps']:,})"
                )
            us = [r["us_per_call"] for r in ok1]
            tot = [(r["t_loop_s"] + r["t_finish_s"]) / r["size"]["calls"] * 1e6 for r in ok1]
            self.m["w1_us"], self.m["w1_tot_us"] = med(us) or 0, med(tot) or 0
            self.cells += [spread(us), spread(tot)]
        else:
            self.cells += [failed(w1) or "-"] * 2
        ok2 = [r for r in w2 if r.get("status") in GOOD]
        if ok2:
            sz = ok2[0]["size"]
            chunked = any(r["size"].get("run_offset") for r in ok2)
            if sz.get("scaled") or sz["steps"] != base_steps:
                self.notes.append(
                    f"W2 {sz['runs']:,} run{'s' if sz['runs'] != 1 else ''} x "
                    f"{sz['steps']:,} steps per process (default "
                    f"{sz['default_runs']:,} x {base_steps:,})"
                    + (f", {len(ok2)} processes appending to one store" if chunked else "")
                )
            pps = [r["points_per_s"] for r in ok2]
            self.m["w2_pps"] = med(pps) or 0
            # bytes per point of the store, the last (largest) one for appended stores
            last = max(ok2, key=lambda r: r.get("store_runs_total") or sz["runs"])
            runs_in = last.get("store_runs_total") or last["size"]["runs"]
            pts = last["size"]["points"] / last["size"]["runs"] * runs_in
            b = (last.get("store") or {}).get("store_bytes")
            self.cells.append(spread(pps, rate))
            self.cells.append(num(b / pts) if b else "-")
            if tracker == "aim":
                idx = [r["t_make_queryable_s"] for r in ok2 if r.get("t_make_queryable_s")]
                if idx:
                    self.notes.append(
                        f"W2 excludes aim's index step ({num(sum(idx))} s in all) that its "
                        "query API needs"
                    )
        else:
            self.cells += [failed(w2) or "-", "-"]
        na3 = [r for r in w3 if r.get("status") == "n/a"] or [
            r for r in rows if r["tracker"] == tracker and r.get("status") == "n/a"
        ]
        ok3 = [r for r in w3 if r.get("status") in GOOD]
        if ok3:
            shape = (ok3[0].get("store_runs"), ok3[0].get("store_steps"))
            if shape != (cfg["W2"]["runs"], base_steps) and None not in shape:
                self.notes.append(f"W3 over {shape[0]:,} runs x {shape[1]:,} steps")
            q = [r["t_query_s"] for r in ok3]
            self.m["w3_s"] = med(q) or 0
            self.cells.append(spread(q))
        else:
            self.cells.append("N/A" if na3 else (failed(w3) or "-"))
        ok4 = [r for r in w4 if r.get("status") in GOOD]
        if ok4:
            n = ok4[0]["points_expected"]
            if n != cfg["W1"]["steps"]:
                self.notes.append(f"W4 read {n:,} points")
            rd = [r["t_read_s"] for r in ok4]
            wall = [r["process_wall_s"] for r in ok4]
            self.m["w4_us"] = med([r["us_per_point"] for r in ok4]) or 0
            self.m["w4_wall"] = med(wall) or 0
            self.cells += [spread(rd), spread(wall)]
        else:
            self.cells += [failed(w4) or "-"] * 2
        if self.notes:
            self.cells[0] += " †"


def lead(peer: float | None, ours: float | None) -> str:
    if not peer or not ours:
        return "-"
    r = peer / ours
    if r >= 100:
        return f"{r:,.0f}x"
    return f"{r:.3g}x" if r >= 1 else f"{r:.2g}x (slower)"


def mem_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return "RAM ?"


def load_summary(path: str | None) -> str:
    if not path or not Path(path).exists():
        return "-"
    v = [float(x) for x in Path(path).read_text().split()]
    if not v:
        return "-"
    mid = statistics.median(v)
    return f"median {mid:.2f}, min {min(v):.2f}, max {max(v):.2f} ({len(v)} samples)"


def main() -> None:
    ap = argparse.ArgumentParser()
    for a in ("--this-run", "--tables-this-run", "--started", "--finished", "--load"):
        ap.add_argument(a, required=True)
    for a in ("--reps", "--drop-caches", "--trackers", "--smoke", "--config"):
        ap.add_argument(a, required=True)
    ap.add_argument("--load-samples")
    ap.add_argument("--extra-overrides", default="")
    ap.add_argument("--code", default="", help="the expbook code measured (default: now)")
    a = ap.parse_args()
    rows = load(a.this_run)
    asked = a.trackers.split()
    cfg = json.loads(Path(a.config).read_text())
    base_steps = cfg["W2"]["steps"]
    table = [Row(rows, cfg, *spec) for spec in ROWS if spec[1] in asked]
    table = [r for r in table if r.present]
    out: list[str] = []
    w = out.append
    w("# expbook and its peers, one run\n")
    w(
        "Generated by `bench/run_peers.sh` (do not edit by hand) from the peer harness "
        "`../shared/bench/peers`, run unmodified from a temporary copy with "
        "`bench/peers_adapter/expbook_adapter.py` plugged in. **Every number on this page "
        "comes from this one run**; the raw lines are in `peers.raw.jsonl` next to it."
    )
    if a.smoke == "1":
        w("\n**Smoke run: tiny sizes from config-smoke.json; the numbers mean nothing.**")
    w("")
    w(f"- date: started {a.started}, finished {a.finished} (UTC)")
    w(
        f"- machine: {cpu_model()}, {os.cpu_count()} cores, {mem_gib()}, "
        f"{platform.system()} {platform.release()}; shared with other work: load average "
        f"{a.load}; sampled every 15 s: {load_summary(a.load_samples)}"
    )
    pythons = sorted({f"{r['tracker']} {r['python']}" for r in rows if r.get("python")})
    by_py: dict[str, list[str]] = {}
    for item in pythons:
        t, v = item.rsplit(" ", 1)
        by_py.setdefault(v, []).append(t)
    w("- Python: " + "; ".join(f"{v} ({', '.join(ts)})" for v, ts in sorted(by_py.items())))
    vers: dict[str, str] = {}
    for r in rows:
        if r.get("versions") and r["tracker"] not in vers:
            vers[r["tracker"]] = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
    w("- versions: " + "; ".join(f"{t}: {v}" for t, v in vers.items()))
    if not a.code:
        fp = src_fingerprint()
        a.code = f"git HEAD {fp['git_head']}, sources sha256 {fp['src_sha256']}"
    w(f"- expbook code: {a.code}")
    w(
        f"- REPS={a.reps} (median [min-max] of the repetitions); W3/W4 "
        + (
            "cold: a new process after dropping the page cache"
            if a.drop_caches == "1"
            else "warm page cache"
        )
    )
    overrides = {t: o for t, o in cfg.get("overrides", {}).items() if t in asked}
    nk = len(cfg["keys"])
    w(
        f"- sizes: W1 {cfg['W1']['steps']:,} `log` calls x {nk} scalars; W2 "
        f"{cfg['W2']['runs']:,} runs x {base_steps:,} steps x {nk} metrics; W3 leaderboard "
        "over the W2 store; W4 the `loss` series of W1, read in a new process. Scaled "
        "down in this run for the slow trackers (the config's `overrides`"
        + (f", with {a.extra_overrides}" if a.extra_overrides else "")
        + "): `"
        + json.dumps(overrides, separators=(",", ":"))
        + "`; rows marked † say what they ran."
    )
    w("")
    w("## One table\n")
    w(
        "| tracker | W1 µs per `log` call (loop) | W1 µs per call, loop + finish | W2 points/s | "
        "W2 store bytes/point | W3 leaderboard s (in-process) | W4 read s (in-process) | "
        "W4 process wall s (interpreter, import, read, check) |"
    )
    w("|---|---|---|---|---|---|---|---|")
    for r in table:
        w("| " + " | ".join(r.cells) + " |")
    w("")
    for r in table:
        if r.notes:
            w(f"- † {r.label.strip('*')}: " + "; ".join(r.notes))
    ours = next((r for r in table if r.tracker == "expbook"), None)
    if ours is not None:
        e = ours.m
        w("")
        w("## expbook's lead over each tracker (this run's medians)\n")
        w(
            "The other tracker's time divided by expbook's (for W2, expbook's points/s divided "
            "by the other's): 10x means expbook took a tenth of the time. Per call and per "
            "point, so rows scaled down (†) compare too."
        )
        w("")
        w(
            "| tracker | W1 `log` call | W1 loop + finish | W2 ingest | W3 leaderboard | "
            "W4 read (in-process) | W4 process wall |"
        )
        w("|---|---|---|---|---|---|---|")
        for r in table:
            if r is ours:
                continue
            p = r.m
            w(
                f"| {r.label} | {lead(p.get('w1_us'), e.get('w1_us'))} | "
                f"{lead(p.get('w1_tot_us'), e.get('w1_tot_us'))} | "
                f"{lead(e.get('w2_pps'), p.get('w2_pps'))} | "
                f"{lead(p.get('w3_s'), e.get('w3_s'))} | "
                f"{lead(p.get('w4_us'), e.get('w4_us'))} | "
                f"{lead(p.get('w4_wall'), e.get('w4_wall'))} |"
            )
        w("")
    w("## Detail tables of this run (the harness's summarize.py)\n")
    w(Path(a.tables_this_run).read_text())
    print("\n".join(out))


if __name__ == "__main__":
    main()
