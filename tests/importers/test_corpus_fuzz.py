"""Corpus fuzzing: mutated copies of the real files under ``tests/data/real/`` import or say why.

Each example copies one artifact folder of the real corpus (files written by Keras, Lightning,
Hugging Face, Ultralytics, DVCLive, Stable-Baselines, detectron2...), mutates one of its files
(truncation, byte flips, duplicated / deleted / swapped lines, inserted garbage, NaN, huge
numbers or odd Unicode, a 200 kB line, another text encoding, CRLF line ends) and imports the
folder with ``expbook import --format json``, then explains the mutated file with
``--explain``.

The property, for every example: no traceback and no internal error; the exit code is 0 or
1; a run of 1 puts a reason on stderr; every failed or empty outcome and every skipped file
has a one-line reason, and every failed one names its path on stderr; the store holds exactly
the runs reported imported; and each command finishes within :data:`EXAMPLE_SECONDS` (a
``SIGALRM`` ends a hang as a failure; this bounds a hang, it is not a timing assertion).

By default 40 derandomized examples run (seconds), the same ones every time, so CI is
reproducible; ``EXPBOOK_FUZZ_EXAMPLES=N`` draws N fresh random examples instead (the nightly
run: ``EXPBOOK_FUZZ_EXAMPLES=3000`` takes about 4 minutes on two cores), replayed from
hypothesis's example database once one fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from expbook.cli import cli
from expbook.store import connect

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
EXAMPLES = int(os.environ.get("EXPBOOK_FUZZ_EXAMPLES", "40"))
EXAMPLE_SECONDS = 10

ARTIFACTS = sorted(p.name for p in REAL.iterdir() if p.is_dir() and not p.name.startswith("_"))
# (artifact, file relative to it): every data file of the corpus (expected.json is the test's)
FILES = sorted(
    (a, str(f.relative_to(REAL / a)))
    for a in ARTIFACTS
    for f in (REAL / a).rglob("*")
    if f.is_file() and f.name != "expected.json"
)

ODD = [
    "nan",
    "NaN",
    "-inf",
    "Infinity",
    "1e999",
    "9" * 400,
    "-" + "9" * 30,
    "０.５",  # full-width digits: float() reads them
    "٣",  # an Arabic-Indic digit
    "\u202e",
    "\x00",
    "\ufeff",
    "é∞𝟙",
    "{",
    '"',
    ",,,,",
    "\t\t",
    "=",
    ":",
    "[" * 50,
]
ENCODINGS = ["utf-16", "utf-16-le", "utf-8-sig", "latin-1", "cp1252", "utf-32"]

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0)),
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=6),
    ),
    st.tuples(st.just("dup_line"), st.integers(0), st.integers(1, 50)),
    st.tuples(st.just("del_line"), st.integers(0), st.integers(1, 5)),
    st.tuples(st.just("swap_lines"), st.integers(0), st.integers(0)),
    st.tuples(st.just("garbage"), st.integers(0), st.binary(min_size=1, max_size=256)),
    st.tuples(st.just("odd_token"), st.integers(0), st.sampled_from(ODD)),
    st.tuples(st.just("replace_number"), st.integers(0), st.sampled_from(ODD)),
    st.tuples(st.just("encoding"), st.sampled_from(ENCODINGS)),
    st.tuples(st.just("crlf")),
    st.tuples(st.just("text"), st.integers(0), st.text(min_size=1, max_size=40)),
    st.tuples(st.just("long_line"), st.integers(0), st.sampled_from(["1,", "x", "a=1 ", " "])),
)

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def mutate(data: bytes, m: tuple[Any, ...]) -> bytes:
    kind = m[0]
    n = len(data)
    if kind == "truncate":
        return data[: m[1] % (n + 1)]
    if kind == "flip":
        out = bytearray(data)
        for pos, byte in m[1]:
            if out:
                out[pos % len(out)] = byte
        return bytes(out)
    if kind in ("dup_line", "del_line", "swap_lines"):
        lines = _lines(data)
        i = m[1] % len(lines)
        if kind == "dup_line":
            lines[i:i] = [lines[i]] * m[2]
        elif kind == "del_line":
            del lines[i : i + m[2]]
        else:
            j = m[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        return b"".join(lines)
    if kind == "long_line":  # a 200 kB line
        pos = m[1] % (n + 1)
        return data[:pos] + m[2].encode() * (200_000 // len(m[2])) + data[pos:]
    if kind in ("garbage", "odd_token", "text"):
        pos = m[1] % (n + 1)
        extra = m[2] if isinstance(m[2], bytes) else m[2].encode("utf-8", "surrogatepass")
        return data[:pos] + extra + data[pos:]
    if kind == "replace_number":
        nums = list(_NUMBER.finditer(data))
        if not nums:
            return data
        hit = nums[m[1] % len(nums)]
        return data[: hit.start()] + m[2].encode() + data[hit.end() :]
    if kind == "encoding":
        return data.decode("utf-8", "replace").encode(m[1], "replace")
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    raise AssertionError(kind)


class ExampleTimeout(Exception):
    pass


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """End a command that runs longer than ``seconds`` as a failure instead of a hang."""

    def on_alarm(signum: int, frame: object) -> None:
        raise ExampleTimeout(f"a command ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


BUG = re.compile(r"Traceback|internal error in|unexpected \w+ while reading")


def invoke(*args: str) -> tuple[int, str, str]:
    with bounded(EXAMPLE_SECONDS):
        res = CliRunner().invoke(cli, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"`expbook {' '.join(args)}` raised {res.exception!r}") from (
            res.exception
        )
    assert res.exit_code in (0, 1), (res.exit_code, res.output)
    assert not BUG.search(res.output), res.output
    return res.exit_code, res.stdout, res.stderr


def one_line(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text


def check_import(target: Path, store: Path) -> None:
    code, out, err = invoke("import", str(target), "--store", str(store), "--format", "json")
    data = json.loads(out)
    assert set(data) >= {"runs", "counts", "skipped"}
    imported = set()
    for o in data["runs"]:
        assert o["status"] in ("imported", "failed", "empty"), o
        for w in o["warnings"]:
            assert one_line(w), o
        if o["status"] == "imported":
            imported.add(o["id"])
            continue
        assert one_line(o["note"]), o
        assert f"expbook import: {o['status']}: {o['source']}: " in err, (o, err)
    for s in data["skipped"]:
        assert one_line(s["reason"]) and Path(s["path"]).is_file(), s
    if code == 0:
        assert imported and not any(o["status"] == "failed" for o in data["runs"]), data
    else:
        assert err.strip(), data
    backend = connect(str(store))
    try:
        assert {r.id for r in backend.list_runs()} == imported
    finally:
        backend.close()


def check_explain(path: Path) -> None:
    code, out, _ = invoke("import", "--explain", str(path), "--format", "json")
    rep = json.loads(out)
    for u in rep["units"]:
        assert one_line(u["why"]), u
        for f in u["failures"]:
            assert one_line(f["reason"]), u
        for ig in u.get("ignored", []):
            assert isinstance(ig["line"], int), ig
        assert "suggestion_error" not in u, u
        sug = u["pattern_suggestion"]
        if sug is not None:
            assert sug["pattern"] and sug["keys"] is not None, sug
    ok = any(not r["empty"] for u in rep["units"] for r in u["runs"])
    assert code == (0 if ok else 1), rep
    invoke("import", "--explain", str(path))  # the text rendering too


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("EXPBOOK_FUZZ_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(which=st.sampled_from(FILES), m=mutation)
# found by this test: a suggested --pattern starting with a field hung on a 200 kB run of spaces
@example(which=("lightning-testtube-version0", "version_0/metrics.csv"), m=("long_line", 96, " "))
# and: a suggested pattern's {step} read as 1e999 raised OverflowError
@example(which=("tf-nmt-model-dir", "log_1531170333"), m=("odd_token", 90, "1e999"))
def test_mutated_real_files_import_or_say_why(
    which: tuple[str, str], m: tuple[Any, ...], tmp_path_factory: Any
) -> None:
    artifact, rel = which
    tmp = tmp_path_factory.mktemp("fuzz")
    folder = tmp / artifact
    shutil.copytree(REAL / artifact, folder, ignore=shutil.ignore_patterns("expected.json"))
    victim = folder / rel
    victim.write_bytes(mutate(victim.read_bytes(), m))
    check_import(folder, tmp / "store")
    check_explain(victim)


def test_pattern_on_a_long_run_of_spaces_does_not_hang() -> None:
    """A line that a pattern starting with a field does not match, holding a long run of
    spaces, is passed over in bounded time (it took minutes: a quadratic search)."""
    from expbook.importers import pattern

    with bounded(EXAMPLE_SECONDS):
        res = pattern.parse_text("a," + " " * 40_000 + "b,c\n1,2\n", "{a},{b}")
    assert res.skipped == 1 and {k: len(v) for k, v in res.series.items()} == {"a": 1, "b": 1}


def test_pattern_step_beyond_int64_skips_the_line(tmp_path: Path) -> None:
    """``{step}`` read as 1e999 or 10**23 (no int64) skips that line; the others import."""
    log = tmp_path / "ovf.log"
    log.write_text("step 1 loss 0.5\nstep 1e999 loss 0.4\nstep 99999999999999999999999 loss 0.3\n")
    store = tmp_path / "s"
    code, out, err = invoke(
        "import",
        str(log),
        "--pattern",
        "step {step} loss {loss}",
        "--store",
        str(store),
        "--format",
        "json",
    )
    (row,) = json.loads(out)["runs"]
    assert code == 0 and row["status"] == "imported" and row["points"] == 1, (row, err)
    assert row["note"] == "2 line(s) without metrics skipped"


def test_every_corpus_file_is_fuzzed() -> None:
    """The corpus is where the examples come from: every artifact gives files to mutate."""
    assert {a for a, _ in FILES} == set(ARTIFACTS) and len(ARTIFACTS) >= 10


def test_unmutated_corpus_imports_or_fails_with_reasons(tmp_path: Path) -> None:
    """The starting points themselves pass the same checks."""
    for artifact in ARTIFACTS:
        folder = tmp_path / artifact
        shutil.copytree(REAL / artifact, folder, ignore=shutil.ignore_patterns("expected.json"))
        check_import(folder, tmp_path / f"store-{artifact}")
