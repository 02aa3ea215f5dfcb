#!/usr/bin/env bash
# Run the peer harness (../shared/bench/peers, read-only) with the expbook adapter plugged in,
# next to its sqlite-raw and null floors measured in the same run, and write the side-by-side
# tables to bench/results/peers.md.
#
#   bench/run_peers.sh                      # expbook + sqlite-raw + null, W1-W4, REPS=3
#   REPS=5 bench/run_peers.sh               # more repetitions
#   bench/run_peers.sh --smoke              # tiny sizes (config-smoke.json): checks the wiring
#   bench/run_peers.sh --setup-venvs --trackers "expbook sqlite-raw null trackio wandb"
#                                           # also (re)create the peers' venvs and run them (long)
#
# Options:
#   --trackers "A B"   trackers to run (default: "null sqlite-raw expbook")
#   --setup-venvs      run the harness's setup_venvs.sh first (pip installs the peers; slow)
#   --smoke            use the harness's config-smoke.json sizes (output: results/peers-smoke.md)
#   --out FILE         where the markdown goes (default: bench/results/peers.md)
#   --keep             keep the temporary copy of the harness and its stores
# Env: REPS (3), STEPS (all of "W1 W2 W3 W4"), DROP_CACHES (1: cold W3/W4 as in RESULTS.md,
# needs root), LIMIT_S (330), PEERS_SRC (/work/shared/bench/peers), EXPBOOK_PY (this repo's
# .venv python), BASE_PY (/tmp/peervenv-base/bin/python: runs null and sqlite-raw; created
# with `python3.11 -m venv` if missing, stdlib only).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PEERS_SRC="${PEERS_SRC:-$ROOT/../shared/bench/peers}"
PEERS_SRC="$(cd "$PEERS_SRC" && pwd)"
EXPBOOK_PY="${EXPBOOK_PY:-$ROOT/.venv/bin/python}"
BASE_PY="${BASE_PY:-/tmp/peervenv-base/bin/python}"
TRACKERS="null sqlite-raw expbook"
SETUP_VENVS=0
SMOKE=0
KEEP=0
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --trackers) TRACKERS="$2"; shift 2 ;;
    --setup-venvs) SETUP_VENVS=1; shift ;;
    --smoke) SMOKE=1; shift ;;
    --keep) KEEP=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$OUT" ]]; then
  OUT="$HERE/results/peers.md"
  [[ $SMOKE == 1 ]] && OUT="$HERE/results/peers-smoke.md"
fi
export REPS="${REPS:-3}" DROP_CACHES="${DROP_CACHES:-1}" LIMIT_S="${LIMIT_S:-330}"
[[ -n "${STEPS:-}" ]] && export STEPS

WORK="$(mktemp -d /tmp/expbook-peers.XXXXXX)"
cleanup() { if [[ $KEEP == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
echo "harness copy: $WORK/peers (source $PEERS_SRC, not modified)"

# 1. a writable copy of the harness, without its logs; the committed raw.jsonl stays for the
#    side-by-side table but this run appends to a fresh file
mkdir -p "$WORK/peers"
(cd "$PEERS_SRC" && tar --exclude=./logs -cf - .) | (cd "$WORK/peers" && tar -xf -)
P="$WORK/peers"
[[ $SMOKE == 1 ]] && cp "$P/config-smoke.json" "$P/config.json"

# 2. wiring: the adapter, one TRACKERS line, one py_for line
cp "$HERE/peers_adapter/expbook_adapter.py" "$P/adapters/"
"$EXPBOOK_PY" - "$P" "$EXPBOOK_PY" <<'PY'
import sys
p, py = sys.argv[1], sys.argv[2]
f = f"{p}/adapters/__init__.py"
s = open(f).read()
if '"expbook"' not in s:
    anchor = '    # "newtracker":'
    assert anchor in s, "TRACKERS anchor not found in adapters/__init__.py"
    s = s.replace(anchor, '    "expbook":        ("adapters.expbook_adapter",    {}),\n' + anchor, 1)
    open(f, "w").write(s)
f = f"{p}/driver.sh"
s = open(f).read()
if "expbook)" not in s:
    anchor = "    # newtracker)"
    assert anchor in s, "py_for anchor not found in driver.sh"
    s = s.replace(anchor, f"    expbook)                   echo {py} ;;\n" + anchor, 1)
    open(f, "w").write(s)
PY

# 3. interpreters
if [[ ! -x "$BASE_PY" ]]; then
  if [[ "$BASE_PY" == /tmp/peervenv-base/bin/python ]]; then
    echo "creating /tmp/peervenv-base (stdlib only, for null and sqlite-raw)"
    python3.11 -m venv --without-pip /tmp/peervenv-base
  else
    echo "BASE_PY=$BASE_PY does not exist" >&2; exit 1
  fi
fi
if [[ "$BASE_PY" != /tmp/peervenv-base/bin/python ]]; then
  sed -i "s#/tmp/peervenv-base/bin/python#$BASE_PY#g" "$P/driver.sh"
fi
if [[ $SETUP_VENVS == 1 ]]; then
  (cd "$P" && ./setup_venvs.sh)
fi
# Bytecode: this project's shells set PYTHONDONTWRITEBYTECODE, so an editable install would
# recompile expbook in every process (no installed package does that). Keep .pyc files in one
# cache outside the tree, filled once here (the same cache bench_core.py uses).
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-/tmp/expbook-bench-pycache}"
"$EXPBOOK_PY" -c "import expbook, numpy, sqlite3, json, subprocess"
"$BASE_PY" -c "import sqlite3, json, subprocess, resource, threading"
unset EXPBOOK_STORE

# 4. run
export RESULTS="$WORK/raw-this-run.jsonl" STORE_ROOT="$WORK/stores"
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
(cd "$P" && ./driver.sh $TRACKERS)
LOAD1="$(cut -d' ' -f1-3 /proc/loadavg)"

# 5. tables: this run alone, and this run + the committed peers (minus their old floors)
"$BASE_PY" "$P/summarize.py" "$RESULTS" > "$WORK/tables-this-run.md"
"$BASE_PY" - "$P/results/raw.jsonl" "$RESULTS" "$TRACKERS" > "$WORK/raw-combined.jsonl" <<'PY'
import json, sys
committed, this_run, ours = sys.argv[1], sys.argv[2], set(sys.argv[3].split())
for line in open(committed):
    if line.strip() and json.loads(line)["tracker"] not in ours:
        sys.stdout.write(line)
sys.stdout.write(open(this_run).read())
PY
"$BASE_PY" "$P/summarize.py" "$WORK/raw-combined.jsonl" > "$WORK/tables-combined.md"
mkdir -p "$(dirname "$OUT")"
"$EXPBOOK_PY" "$HERE/peers_table.py" \
  --this-run "$RESULTS" --results-md "$PEERS_SRC/RESULTS.md" \
  --tables-this-run "$WORK/tables-this-run.md" --tables-combined "$WORK/tables-combined.md" \
  --started "$STARTED" --load "$LOAD0 -> $LOAD1" --reps "$REPS" --drop-caches "$DROP_CACHES" \
  --trackers "$TRACKERS" --smoke "$SMOKE" > "$OUT"
cp "$RESULTS" "${OUT%.md}.raw.jsonl"
echo "wrote $OUT (raw: ${OUT%.md}.raw.jsonl)"
