"""The integrations package imports no training library until one of its modules is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = ("torch", "transformers", "lightning", "pytorch_lightning", "keras")


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "KERAS_BACKEND": "torch"},
    ).stdout.split()
    return {m for m in out if m.split(".")[0] in HEAVY}


def test_the_package_is_light() -> None:
    assert loaded_after("import expbook.integrations") == set()
    assert loaded_after("import expbook") == set()


def test_each_module_imports_its_library() -> None:
    assert "transformers" in loaded_after("import expbook.integrations.transformers")
    lightning = loaded_after("import expbook.integrations.lightning")
    assert "lightning.pytorch" in lightning
    assert "pytorch_lightning" not in lightning  # made only when PLExpbookLogger is asked for
    assert "keras" in loaded_after("import expbook.integrations.keras")
