"""tools/screenshots.py, which takes the README's dashboard screenshots, still works: it builds
its demo store, drives Debian's Chromium and writes each PNG at 1440x900, under 300 KB."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_readme_screenshots_can_be_taken_again(tmp_path: Path, chromium_launch) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "screenshots.py"), "--out", str(tmp_path),
         "--chromium", chromium_launch["executable_path"]],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["sweep.png", "workspace-groups.png", "workspace.png"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in shots:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (1440, 900)
        assert len(data) < 300 * 1024
        # the README shows the committed copy of each
        assert f"(docs/{name})" in readme and (ROOT / "docs" / name).stat().st_size < 300 * 1024
