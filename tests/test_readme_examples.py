"""Every ```python block of README.md runs, as written, against a store made by ``expbook demo``.

Each block runs on its own (a fresh namespace, so a block must be self-contained) in an empty
working directory, with ``$EXPBOOK_STORE`` naming a fresh copy of the demo store, so a block
that logs runs changes nothing another block sees. Blocks may use public names only.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def python_blocks() -> list[tuple[int, str]]:
    """(first line of the code, code) of every fenced block whose info string is python."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(README.read_text(encoding="utf-8"))
    out = []
    for tok in tokens:
        if tok.type == "fence" and tok.info.strip().split(" ")[0].lower() in ("python", "py"):
            line = (tok.map[0] + 2) if tok.map else 0
            out.append((line, tok.content))
    return out


BLOCKS = python_blocks()


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 3
    assert any("open_store" in code for _, code in BLOCKS)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPBOOK_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__import__("expbook").__file__).resolve().parent.parent)]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    store = work / ".expbook"
    proc = subprocess.run(
        [sys.executable, "-m", "expbook", "demo", "--steps", "40", "--format", "json",
         "--store", str(store)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return store


def _private_names(code: str) -> list[str]:
    """Private modules or attributes the code uses (``expbook._views``, ``book._select``)."""
    bad = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            bad += [p for p in parts if p.startswith("_")]
            bad += [a.name for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(p.startswith("_") for p in alias.name.split(".")):
                    bad.append(alias.name)
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            bad.append(node.attr)
    return bad


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:{ln}" for ln, _ in BLOCKS])
def test_readme_python_block_runs(
    line: int,
    code: str,
    demo_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _private_names(code) == [], f"README.md:{line} uses private names"
    store = tmp_path / "store"
    shutil.copytree(demo_store, store)
    monkeypatch.setenv("EXPBOOK_STORE", str(store))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
