"""Leaderboard and pivot over 100,000 runs in PostgreSQL, as CLI processes, on
PostgreSQL, on an SQLite store of the same runs and through ``expbook server``'s URL (the
remote store), and the dashboard's first page (``GET /`` of ``expbook server --db`` and of
``expbook ui --store`` on PostgreSQL); issue 14, "Scale": < 1 s on PostgreSQL, < 1.5 s
through the server, < 300 ms for the first page.

Each run has a config of 6 params, 4 metrics of 5 points each (chunks and per-(run, key)
summaries, as a logged run has them). The runs are loaded straight into both stores' tables
(PostgreSQL: binary COPY; SQLite: one executemany transaction), then each command runs
``--reps`` times in a fresh process (interpreter start included)::

    python bench/bench_server_scale.py                     # 100,000 runs
    python bench/bench_server_scale.py --runs 10000 --reps 3
    python bench/bench_server_scale.py --baseline 9e794ed  # also that commit's code, same run
    python bench/bench_server_scale.py --pg postgresql://me@host/db   # default: $EXPBOOK_TEST_PG

With ``--baseline REV`` the same commands, servers and pages run on that commit's ``src/``
too (``git archive``), against the same databases, and the table gives the ratio baseline /
this tree. Prints the median [min-max] wall time of each; the first page is timed from the
client on loopback (the server's time plus a local round trip), its first request apart
(cold) and the median of the next ones. The PostgreSQL schema is dropped at the end
(``--keep`` keeps it and the SQLite store). Exit status 1 when the stores' outputs differ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"  # this checkout's expbook, in children too
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, expbook_cmd, log_progress, med, spread  # noqa: E402
from expbook.store import SQLiteStore, connect  # noqa: E402
from expbook.store.codec import encode  # noqa: E402
from expbook.store.sqlite_write import _summarize  # noqa: E402

KEYS = ("loss", "val_loss", "acc", "grad_norm")
STEPS = [0, 250, 500, 750, 1000]
TARGET_S = {"postgresql": 1.0, "server": 1.5}
TARGET_PAGE_S = 0.3

COMMANDS = {
    "leaderboard": ["leaderboard", "--metric", "val_loss", "--top", "20"],
    "pivot": ["pivot", "--rows", "lr", "--cols", "batch", "--value", "val_loss"],
}


def make_runs(n: int, seed: int = 14) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    runs = []
    t0 = 1.75e9
    for i in range(n):
        lr = rng.choice([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
        config = {
            "lr": lr,
            "batch": rng.choice([32, 64, 128, 256]),
            "layers": rng.randint(2, 8),
            "width": rng.choice([128, 256, 512]),
            "dropout": rng.choice([0.0, 0.1, 0.2]),
            "seed": i % 10,
        }
        base = rng.uniform(0.5, 2.0)
        points = {}
        for k, key in enumerate(KEYS):
            vals = [base * (1 + k) / (1 + j * lr * 300) + rng.random() * 0.01 for j in range(5)]
            walls = [t0 + i + j for j in range(5)]
            points[key] = (list(STEPS), walls, vals)
        runs.append(
            {
                "id": f"r{i:07d}",
                "name": f"run-{i}",
                "created_at": t0 + i,
                "config": config,
                "points": points,
            }
        )
    return runs


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def rows_of(runs: list[dict[str, Any]]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(runs rows, chunk rows, summary rows) with rid = position + 1 and kid = key index + 1."""
    run_rows, chunk_rows, summ_rows = [], [], []
    for rid, r in enumerate(runs, 1):
        run_rows.append(
            (rid, r["id"], r["name"], "scale", "finished", r["created_at"], r["created_at"],
             r["created_at"] + 60, None, None, None, 0, None, None, None, "[]",
             _dumps(r["config"]), "{}", "{}", '{"kind":"logged"}')
        )  # fmt: skip
        for kid, key in enumerate(KEYS, 1):
            s, w, v = r["points"][key]
            chunk_rows.append((rid, kid, 0, len(s), s[0], s[-1], encode(s, w, v)))
            summ_rows.append((rid, kid, *_summarize(s, w, v)))
    return run_rows, chunk_rows, summ_rows


RUN_COLS = (
    "rid, id, name, project, status, created_at, updated_at, finished_at, heartbeat_at, host, "
    "pid, exit_code, grp, notes, parent, tags, config, summary, meta, source"
)
RUN_TYPES = ["int4", "text", "text", "text", "text", "float8", "float8", "float8", "float8",
             "text", "int8", "int8", "text", "text", "text", "text", "text", "text", "text",
             "text"]  # fmt: skip
SUMM_TYPES = ["int4", "int4", "int8", "int8", "int8", "float8", "float8", "int8", "float8",
              "float8", "float8", "int8", "float8", "int8"]  # fmt: skip


def load_postgres(url: str, rows: tuple[list[tuple], list[tuple], list[tuple]]) -> float:
    run_rows, chunk_rows, summ_rows = rows
    store = connect(url)  # creates the schema and its tables
    raw = store._conn.raw
    t0 = time.perf_counter()
    with raw.transaction(), raw.cursor() as cur:
        cur.executemany("INSERT INTO keys (kid, name) VALUES (%s, %s)", list(enumerate(KEYS, 1)))
        for table, cols, types, data in (
            ("runs", RUN_COLS, RUN_TYPES, run_rows),
            ("chunks", "rid, kid, seq, n, step_min, step_max, data",
             ["int4", "int4", "int4", "int4", "int8", "int8", "bytea"], chunk_rows),
            ("metric_summary", "rid, kid, count, nan_count, first_step, first_value, "
             "first_wall, last_step, last_value, last_wall, min_value, min_step, max_value, "
             "max_step", SUMM_TYPES, summ_rows),
        ):  # fmt: skip
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(types)
                for row in data:
                    cp.write_row(row)
        for table, col in (("runs", "rid"), ("keys", "kid")):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), "
                f"(SELECT max({col}) FROM {table}))"
            )
    raw.execute("ANALYZE")
    took = time.perf_counter() - t0
    store.close()
    return took


def load_sqlite(path: Path, rows: tuple[list[tuple], list[tuple], list[tuple]]) -> float:
    run_rows, chunk_rows, summ_rows = rows
    SQLiteStore(path).close()  # creates the database and its tables
    t0 = time.perf_counter()
    conn = sqlite3.connect(path / "expbook.db", isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO keys (kid, name) VALUES (?, ?)", list(enumerate(KEYS, 1)))
    conn.executemany(f"INSERT INTO runs ({RUN_COLS}) VALUES ({','.join('?' * 20)})", run_rows)
    conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)", chunk_rows)
    conn.executemany(f"INSERT INTO metric_summary VALUES ({','.join('?' * 14)})", summ_rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - t0


def timed(args: list[str], store: str, src: Path = SRC) -> tuple[float, str]:
    cmd = [*expbook_cmd(), *args, "--store", store, "--format", "json"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(src), timeout=600)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr[-2000:]}")
    return wall, p.stdout


def _env(src: Path) -> dict[str, str]:
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    return env


def baseline_tree(rev: str, into: Path) -> Path:
    """``src/`` of commit ``rev`` (with this tree's compiled helper) under ``into``."""
    root = Path(__file__).resolve().parent.parent
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", rev, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    for so in (SRC / "expbook").glob("_speedups*.so"):
        shutil.copy(so, into / "src" / "expbook" / so.name)
    return into / "src"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``expbook ARGS --port P`` running from ``src`` until the block ends."""

    def __init__(self, args: list[str], src: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*expbook_cmd(), *args, "--port", str(self.port)],
            env=_env(src),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def __enter__(self) -> Served:
        import socket

        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server stopped: {self.proc.stderr.read().decode()[-2000:]}"
                )  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self  # uvicorn listens once the app has started
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start in 120 s") from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def settle(proc: subprocess.Popen, most_s: float = 60.0) -> None:
    """Wait until ``proc`` stops using the CPU (its runs snapshot built), so that it does
    not compete with the commands timed next (Linux: /proc; elsewhere a fixed wait)."""
    stat = Path(f"/proc/{proc.pid}/stat")

    def cpu() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    if not stat.exists():
        time.sleep(10)
        return
    deadline = time.monotonic() + most_s
    last = cpu()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu()
        if now - last < 0.02:
            return
        last = now


def page_times(url: str, reps: int) -> tuple[float, list[float]]:
    """(the first GET's time, the next ``reps`` GETs' times) of ``url``."""
    import urllib.request

    def one() -> float:
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=600) as r:
            body = r.read()
            if r.status != 200 or b"<html" not in body[:2000].lower():
                raise RuntimeError(f"GET {url}: HTTP {r.status}")
        return time.perf_counter() - t0

    first = one()
    return first, [one() for _ in range(reps)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pg", default=os.environ.get("EXPBOOK_TEST_PG")
                    or "postgresql://postgres@127.0.0.1:5432/test")  # fmt: skip
    ap.add_argument("--baseline", metavar="REV", help="also time this commit's code")
    ap.add_argument("--no-server", action="store_true", help="skip the server and the pages")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
    url = f"{args.pg}{'&' if '?' in args.pg else '?'}schema={schema}"
    tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-scale-"))
    lite = tmp / "store"
    ok = True
    try:
        trees = [("this tree", SRC)]
        if args.baseline:
            trees.append((f"baseline {args.baseline}", baseline_tree(args.baseline, tmp / "base")))
        log_progress(f"making {args.runs:,} runs")
        rows = rows_of(make_runs(args.runs))
        log_progress("loading PostgreSQL (binary COPY)")
        pg_load = load_postgres(url, rows)
        log_progress("loading SQLite")
        lite_load = load_sqlite(lite, rows)
        del rows
        print(f"runs: {args.runs:,} (6 params, {len(KEYS)} metrics x {len(STEPS)} points each)")
        print(f"load: PostgreSQL {pg_load:.2f} s (COPY), SQLite {lite_load:.2f} s (executemany)")
        print()
        results: dict[tuple[str, str, str], list[float]] = {}
        outputs: dict[tuple[str, str], set[str]] = {}
        for tree, src in trees:
            stores = [("postgresql", url), ("sqlite", str(lite))]
            server = None if args.no_server else Served(["server", "--db", url], src)
            try:
                if server is not None:
                    server.__enter__()
                    stores.append(("server", server.url))
                    # the dashboard's first page, on the server and on `expbook ui`
                    first, rest = page_times(server.url + "/", args.reps)
                    results[("GET / (expbook server --db postgresql://)", "first", tree)] = [first]
                    results[("GET / (expbook server --db postgresql://)", "next", tree)] = rest
                    with Served(["ui", "--store", url], src) as ui:
                        first, rest = page_times(ui.url + "/", args.reps)
                    settle(server.proc)  # its snapshot of every run, built after the page
                    results[("GET / (expbook ui --store postgresql://)", "first", tree)] = [first]
                    results[("GET / (expbook ui --store postgresql://)", "next", tree)] = rest
                for name, cmd in COMMANDS.items():
                    for rep in range(args.reps):
                        for store_name, loc in stores:
                            log_progress(
                                f"{tree}: {name} on {store_name}, rep {rep + 1}/{args.reps}"
                            )
                            w, out = timed(cmd, loc, src)
                            results.setdefault((name, store_name, tree), []).append(w)
                            outputs.setdefault((name, tree), set()).add(out)
            finally:
                if server is not None:
                    server.__exit__()
        for (name, tree), outs in outputs.items():
            if len(outs) != 1:
                ok = False
                print(f"{name} ({tree}): the stores' outputs differ", file=sys.stderr)
        if args.baseline:
            for name in COMMANDS:
                if len(outputs[(name, trees[0][0])] | outputs[(name, trees[1][0])]) != 1:
                    ok = False
                    print(
                        f"{name}: this tree's output differs from the baseline's", file=sys.stderr
                    )
        base = trees[1][0] if args.baseline else None
        head = "| command | store | this tree, s |"
        if base:
            head += f" {base}, s | {base} / this tree |"
        print(head + " target |")
        print("|---|---|---|" + ("---|---|" if base else "") + "---|")
        for name, cmd in COMMANDS.items():
            for store_name in ("postgresql", "sqlite", "server"):
                got = results.get((name, store_name, trees[0][0]))
                if got is None:
                    continue
                target = TARGET_S.get(store_name)
                line = f"| `expbook {' '.join(cmd)}` | {store_name} | {spread(got)} |"
                if base:
                    b = results[(name, store_name, base)]
                    line += f" {spread(b)} | {med(b) / med(got):.2f}x |"
                if target is None:
                    line += " - |"
                else:
                    met = "met" if med(got) < target else "NOT met"
                    line += f" < {target:g} s: {met} |"
                print(line)
        pages = [k[0] for k in results if k[0] not in COMMANDS and k[1:] == ("first", trees[0][0])]
        for page in pages:
            for w in ("first", "next"):
                t = results[(page, w, trees[0][0])]
                which = "first request" if w == "first" else "next requests"
                line = f"| {page}, {which} | - | {spread(t)} |"
                if base:
                    b = results[(page, w, base)]
                    line += f" {spread(b)} | {med(b) / med(t):.2f}x |"
                met = "met" if med(t) < TARGET_PAGE_S else "NOT met"
                line += f" < {TARGET_PAGE_S * 1000:g} ms: {met} |"
                print(line)
        print()
        print("same output on every store" if ok else "OUTPUTS DIFFER")
    finally:
        if args.keep:
            print(f"kept: {url} and {lite}")
        else:
            import psycopg
            from psycopg import sql

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)))  # fmt: skip
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
