"""Import fuzzing: every reader, fed mutated copies of real files, imports or says why.

Seeds are the samples under ``tests/data/`` (written by TensorBoard, MLflow, W&B, Lightning and
Hugging Face themselves) and small generated files of every other format. Each example copies
one seed, mutates one of its files (byte flips, truncation, an inserted huge number or long
line, a YAML alias bomb, binary junk) and imports it into a fresh store.

The property: ``expbook import`` never raises and never reports an internal error; every
outcome is ``imported`` or ``failed`` with a one-line reason; the store holds exactly the runs
reported imported (nothing half-written); and each example finishes within a bound.

``EXPBOOK_FUZZ_EXAMPLES`` sets the number of examples per test (default: a few dozen, well
under a minute in all; the nightly run uses 5000). ``EXPBOOK_FUZZ_SECONDS`` sets the bound on
one example (default 30 s).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expbook.importers import driver
from expbook.store import connect

DATA = Path(__file__).resolve().parent.parent / "data"
EXAMPLES = int(os.environ.get("EXPBOOK_FUZZ_EXAMPLES", "25"))
EXAMPLE_SECONDS = float(os.environ.get("EXPBOOK_FUZZ_SECONDS", "30"))

BOMB = (
    "a: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n" for a, b in zip("abcdefgh", "bcdefghi")
    )
)

LOG = "".join(
    f"2024-01-02 12:00:{i:02d},000 INFO step {i * 10}/200 | loss={1 / (i + 1):.4f} | "
    f"val_loss={2 / (i + 2):.4f} | lr=1e-3 | elapsed={i * 1.5:.1f}s\n"
    for i in range(20)
)
GENERATED: dict[str, dict[str, str]] = {
    "log": {
        "train.log": "EPOCHS = 20\nlr: 0.001\n"
        + LOG
        + "saved best -> ckpt/best.pt\nBest Test F1 Score: 0.88 at Epoch 18\n"
    },
    "csv": {
        "metrics.csv": "step,loss,acc,stage\n"
        + "".join(f"{i},{1 / (i + 1)},{i / 20},{'a' if i < 10 else 'b'}\n" for i in range(20))
    },
    "tsv": {
        "history.tsv": "epoch\tloss\tval_loss\n"
        + "".join(f"{i}\t{1 / (i + 1)}\t{2 / (i + 1)}\n" for i in range(20))
    },
    "jsonl": {
        "metrics.jsonl": "".join(
            f'{{"step": {i}, "loss": {1 / (i + 1)}, "train": {{"acc": {i / 20}}}}}\n'
            for i in range(20)
        )
    },
    "json": {"records.json": '[{"epoch": 0, "loss": 0.5}, {"epoch": 1, "loss": 0.4}]'},
    "summary": {"summary.txt": "acc=0.91\nframework: jax\nbest_epoch = 18\nloss=nan\n"},
    "eval": {"eval.json": '{"acc": 0.9, "f1": {"macro": 0.8}, "status": "completed"}'},
    "config_yaml": {"config.yaml": "lr: 0.001\nmodel:\n  width: 256\n  depth: 4\ntags: [a, b]\n"},
    "config_json": {"config.json": '{"lr": 0.001, "model": {"width": 256}}'},
    "preds": {
        "preds.csv": "y_true,y_pred\n" + "".join(f"{i % 3},{(i * 7) % 3}\n" for i in range(30))
    },
    "folder": {
        "config.yaml": "lr: 0.001\nseed: 1\n",
        "metrics.csv": "epoch,loss\n0,0.5\n1,0.4\n2,0.3\n",
        "summary.txt": "acc=0.9\n",
        "train.log": LOG,
        "preds.csv": "y_true,y_pred\n0.1,0.2\n0.5,0.4\n0.9,1.0\n",
    },
    "hydra": {
        ".hydra/config.yaml": "optimizer:\n  lr: 0.01\nmodel: {width: 8}\n",
        ".hydra/overrides.yaml": "- optimizer.lr=0.01\n- model.width=8\n",
        ".hydra/hydra.yaml": "hydra:\n  job: {name: train}\n  runtime:\n    choices: {m: a}\n",
        "train.log": LOG,
    },
}
LIBRARY = {  # seeds written by the real libraries
    "tensorboard": "tensorboard/native_run",
    "tensorboard_keras": "tensorboard/keras_style",
    "mlflow": "mlflow/mlruns",
    "wandb": "wandb/wandb",
    "lightning": "lightning/lightning_logs",
    "huggingface": "huggingface/toy-regression",
}
SEEDS = sorted([*GENERATED, *LIBRARY, "mlflow_db"])


def _materialize(seed: str, root: Path) -> Path:
    """The seed copied under ``root``; returns what to import."""
    if seed == "mlflow_db":  # an MLflow SQLite store, kept gzipped in tests/data
        dst = root / "mlflow.db"
        root.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(gzip.decompress((DATA / "mlflow" / "mlflow.db.gz").read_bytes()))
        return dst
    if seed in LIBRARY:
        src = DATA / LIBRARY[seed]
        dst = root / src.name
        shutil.copytree(src, dst)
        return dst
    files = GENERATED[seed]
    folder = root / seed
    for name, text in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if seed in ("folder", "hydra"):
        return folder
    (only,) = files
    return folder / only


def _files(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    return sorted(p for p in target.rglob("*") if p.is_file())


HUGE_TOKENS = [b"1" * 400, b"9" * 5000, b"1e999", b"-1e999", b"nan", b"inf", b"-9" * 30]

mutation = st.one_of(
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=8),
    ),
    st.tuples(st.just("truncate"), st.integers(0)),
    st.tuples(st.just("huge"), st.integers(0), st.sampled_from(HUGE_TOKENS)),
    st.tuples(st.just("long_line"), st.integers(0), st.sampled_from([b"x", b"a=", b" ", b"1."])),
    st.tuples(st.just("bomb"), st.integers(0)),
    st.tuples(st.just("junk"), st.integers(0), st.binary(min_size=1, max_size=2048)),
    st.tuples(st.just("empty"), st.integers(0)),
)


def _mutate(data: bytes, m: tuple) -> bytes:
    kind = m[0]
    n = len(data)
    if kind == "flip":
        out = bytearray(data)
        for pos, byte in m[1]:
            if out:
                out[pos % len(out)] = byte
        return bytes(out)
    if kind == "truncate":
        return data[: m[1] % (n + 1)]
    if kind == "huge":
        pos = m[1] % (n + 1)
        return data[:pos] + m[2] + data[pos:]
    if kind == "long_line":
        pos = m[1] % (n + 1)
        return data[:pos] + m[2] * (200_000 // len(m[2])) + data[pos:]
    if kind == "bomb":
        return BOMB.encode()
    if kind == "junk":
        pos = m[1] % (n + 1)
        return data[:pos] + m[2] + data[pos:]
    return b""


class ExampleTimeout(Exception):
    pass


@contextmanager
def _bounded(seconds: float) -> Iterator[None]:
    """Fail an example that runs longer than ``seconds`` instead of hanging the suite."""

    def on_alarm(signum: int, frame: object) -> None:
        raise ExampleTimeout(f"an import took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# what a parser bug looks like once walk.read or guarded_parse has caught it
BUG = re.compile(r"Traceback|internal error in|unexpected \w+ while reading")


def _check_import(target: Path, store_dir: Path) -> None:
    backend = connect(str(store_dir))
    try:
        with _bounded(EXAMPLE_SECONDS):
            outcomes = driver.import_paths(backend, [str(target)], project=None)
        assert outcomes, "no outcome at all"
        imported = set()
        for o in outcomes:
            assert o.status in ("imported", "updated", "failed", "empty"), o
            for text in (o.note, *o.warnings):
                assert "\n" not in text, text
                assert not BUG.search(text), text
            if o.status in ("failed", "empty"):  # an empty run is reported, never stored
                assert o.note.strip(), o
            else:
                imported.add(o.id)
        stored = {r.id for r in backend.list_runs()}
        assert stored == imported, (stored, imported)
    finally:
        backend.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("EXPBOOK_FUZZ_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seed=st.sampled_from(SEEDS), which=st.integers(0), m=mutation)
def test_mutated_imports_never_break(seed: str, which: int, m: tuple) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = _materialize(seed, root / "in")
        files = _files(target)
        victim = files[which % len(files)]
        victim.write_bytes(_mutate(victim.read_bytes(), m))
        _check_import(target, root / "store")


@pytest.mark.parametrize("seed", SEEDS)
def test_unmutated_seeds_import(seed: str) -> None:
    """The seeds themselves import cleanly (the fuzzing starts from real, readable files)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = _materialize(seed, root / "in")
        backend = connect(str(root / "store"))
        try:
            with _bounded(EXAMPLE_SECONDS):
                outcomes = driver.import_paths(backend, [str(target)], project=None)
            assert outcomes and all(o.status == "imported" for o in outcomes), outcomes
        finally:
            backend.close()
