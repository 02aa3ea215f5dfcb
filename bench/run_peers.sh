#!/usr/bin/env bash
# Run the peer harness (../shared/bench/peers, read-only) with the expbook adapter plugged in,
# every tracker in the same run, and write one table (bench/results/peers.md) with the date,
# the machine, the versions, and expbook's lead over each tracker computed from that run alone.
#
#   bench/run_peers.sh --setup-venvs        # everything: expbook, the floors and every peer
#   bench/run_peers.sh                      # the same, with the peers' venvs already made
#   bench/run_peers.sh --trackers "null sqlite-raw expbook"   # a subset (quick)
#   bench/run_peers.sh --smoke              # tiny sizes (config-smoke.json): checks the wiring
#
# Options:
#   --trackers "A B"   trackers to run (default: null sqlite-raw expbook trackio wandb aim
#                      mlflow-sqlite mlflow-file)
#   --setup-venvs      run the harness's setup_venvs.sh first, under `nice -n 5` (pip installs
#                      MLflow, wandb, aim, trackio into /tmp/peervenv-*; slow the first time)
#   --no-extra-overrides  the harness's sizes only (else bench/peers_adapter/overrides.json
#                      scales MLflow's per-call workloads down further; the table says so)
#   --smoke            use the harness's config-smoke.json sizes (output: results/peers-smoke.md)
#   --out FILE         where the markdown goes (default: bench/results/peers.md)
#   --keep             keep the temporary copy of the harness and its stores
# Env: REPS (3), STEPS (all of "W1 W1b W2 W2b W3 W4"), BATCH_FRESH_REPS (0: MLflow log_batch
# W2 only as the two processes that write the W3 store), DROP_CACHES (1: cold W3/W4, needs
# root), LIMIT_S (330), PEERS_SRC (../shared/bench/peers), EXPBOOK_PY (this repo's .venv python,
# run with this checkout's src/ first on PYTHONPATH), BASE_PY (/tmp/peervenv-base/bin/python:
# runs null and sqlite-raw; created with `python3.11 -m venv` if missing, stdlib only).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PEERS_SRC="${PEERS_SRC:-$ROOT/../shared/bench/peers}"
PEERS_SRC="$(cd "$PEERS_SRC" && pwd)"
EXPBOOK_PY="${EXPBOOK_PY:-$ROOT/.venv/bin/python}"
BASE_PY="${BASE_PY:-/tmp/peervenv-base/bin/python}"
TRACKERS="null sqlite-raw expbook trackio wandb aim mlflow-sqlite mlflow-file"
EXTRA_OVERRIDES=1
SETUP_VENVS=0
SMOKE=0
KEEP=0
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --trackers) TRACKERS="$2"; shift 2 ;;
    --setup-venvs) SETUP_VENVS=1; shift ;;
    --smoke) SMOKE=1; shift ;;
    --no-extra-overrides) EXTRA_OVERRIDES=0; shift ;;
    --keep) KEEP=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$OUT" ]]; then
  OUT="$HERE/results/peers.md"
  [[ $SMOKE == 1 ]] && OUT="$HERE/results/peers-smoke.md"
fi
export REPS="${REPS:-3}" DROP_CACHES="${DROP_CACHES:-1}" LIMIT_S="${LIMIT_S:-330}"
export BATCH_FRESH_REPS="${BATCH_FRESH_REPS:-0}"
[[ -x "$EXPBOOK_PY" ]] || { echo "EXPBOOK_PY=$EXPBOOK_PY does not exist (set EXPBOOK_PY)" >&2; exit 1; }
[[ -n "${STEPS:-}" ]] && export STEPS

WORK="$(mktemp -d /tmp/expbook-peers.XXXXXX)"
SAMPLER=""
cleanup() {
  [[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null
  if [[ $KEEP == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
echo "harness copy: $WORK/peers (source $PEERS_SRC, not modified)"

# 1. a writable copy of the harness, without its logs and committed results (this run writes
#    its own file, and nothing of another run reaches the table)
mkdir -p "$WORK/peers"
(cd "$PEERS_SRC" && tar --exclude=./logs --exclude=./results/raw.jsonl --exclude=./RESULTS.md \
  --exclude=./results/tables.md -cf - .) | (cd "$WORK/peers" && tar -xf -)
P="$WORK/peers"
EXTRA_NOTE=""
if [[ $SMOKE == 1 ]]; then
  cp "$P/config-smoke.json" "$P/config.json"
elif [[ $EXTRA_OVERRIDES == 1 ]]; then
  "$EXPBOOK_PY" - "$P/config.json" "$HERE/peers_adapter/overrides.json" <<'PY'
import json, sys
cfg_path, extra_path = sys.argv[1:]
cfg = json.load(open(cfg_path))
extra = json.load(open(extra_path))
for tracker, by_wl in extra.items():
    if not tracker.startswith("_"):
        cfg.setdefault("overrides", {}).setdefault(tracker, {}).update(by_wl)
json.dump(cfg, open(cfg_path, "w"), indent=1)
PY
  EXTRA_NOTE="bench/peers_adapter/overrides.json merged in"
fi

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
  (cd "$P" && nice -n 5 ./setup_venvs.sh)
fi
for t in $TRACKERS; do  # every interpreter the run needs, before anything is measured
  case "$t" in
    expbook|null|sqlite-raw) ;;
    mlflow-sqlite|mlflow-file) py=/tmp/peervenv-mlflow/bin/python ;;
    *) py=/tmp/peervenv-$t/bin/python ;;
  esac
  if [[ "$t" != expbook && "$t" != null && "$t" != sqlite-raw && ! -x "$py" ]]; then
    echo "no virtualenv for $t ($py): run with --setup-venvs, or leave $t out of --trackers" >&2
    exit 1
  fi
done
# Bytecode: this project's shells set PYTHONDONTWRITEBYTECODE, so an editable install would
# recompile expbook in every process (no installed package does that). Keep .pyc files in one
# cache outside the tree, filled once here (the same cache bench_core.py uses).
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-/tmp/expbook-bench-pycache}"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's expbook, not an installed one
"$EXPBOOK_PY" -c "import expbook, numpy, sqlite3, json, subprocess"
"$BASE_PY" -c "import sqlite3, json, subprocess, resource, threading"
unset EXPBOOK_STORE

# 4. run, sampling the load average every 15 s
export RESULTS="$WORK/raw-this-run.jsonl" STORE_ROOT="$WORK/stores"
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
CODE="$(cd "$HERE" && "$EXPBOOK_PY" -c 'from _common import src_fingerprint as f; d = f()
print("git HEAD", d["git_head"] + ", sources sha256", d["src_sha256"])')"
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
(while sleep 15; do cut -d' ' -f1 /proc/loadavg; done) > "$WORK/load.txt" &
SAMPLER=$!
# shellcheck disable=SC2086
(cd "$P" && ./driver.sh $TRACKERS)
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=""
LOAD1="$(cut -d' ' -f1-3 /proc/loadavg)"
FINISHED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# 5. the table: this run alone
"$BASE_PY" "$P/summarize.py" "$RESULTS" > "$WORK/tables-this-run.md"
mkdir -p "$(dirname "$OUT")"
"$EXPBOOK_PY" "$HERE/peers_table.py" \
  --this-run "$RESULTS" --tables-this-run "$WORK/tables-this-run.md" --config "$P/config.json" \
  --started "$STARTED" --finished "$FINISHED" --load "$LOAD0 -> $LOAD1" \
  --load-samples "$WORK/load.txt" --reps "$REPS" --drop-caches "$DROP_CACHES" \
  --trackers "$TRACKERS" --smoke "$SMOKE" --extra-overrides "$EXTRA_NOTE" --code "$CODE" > "$OUT"
cp "$RESULTS" "${OUT%.md}.raw.jsonl"
echo "wrote $OUT (raw: ${OUT%.md}.raw.jsonl)"
