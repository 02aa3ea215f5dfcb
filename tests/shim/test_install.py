"""``expbook shim install|uninstall|status wandb``: what it writes, what it refuses, and that
uninstall leaves the folder as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from expbook.cli import cli, main

from .conftest import client_env


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def fake_real_wandb(target: Path) -> None:
    (target / "wandb").mkdir(parents=True)
    (target / "wandb" / "__init__.py").write_text("REAL = True\n__version__ = '0.31.0'\n")
    dist = target / "wandb-0.31.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wandb\nVersion: 0.31.0\n")
    (dist / "RECORD").write_text("wandb/__init__.py,,\n")


def test_install_then_uninstall_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "other.py").write_text("")
    before = files_under(tmp_path)
    code, out, _ = invoke("shim", "install", "wandb", "--target", str(tmp_path))
    assert code == 0, out
    assert "installed the wandb shim (version 0.21.0)" in out
    record = (tmp_path / "wandb-0.21.0.dist-info" / "RECORD").read_text().splitlines()
    written = {line.split(",")[0] for line in record}
    assert written == {p for p in files_under(tmp_path) - before if "/" in p}
    assert (tmp_path / "wandb-0.21.0.dist-info" / "INSTALLER").read_text() == "expbook\n"
    code, out, _ = invoke("shim", "uninstall", "wandb", "--target", str(tmp_path))
    assert code == 0 and "removed the wandb shim" in out
    assert files_under(tmp_path) == before


def test_import_wandb_resolves_to_the_layer(tmp_path: Path) -> None:
    assert invoke("shim", "install", "wandb", "--target", str(tmp_path))[0] == 0
    env = client_env(None)
    env["PYTHONPATH"] += f":{tmp_path}"
    code = (
        "import importlib.metadata as m, wandb, wandb.sdk.lib.config_util as cu\n"
        "from wandb.sdk.lib import RunDisabled\n"
        "from wandb.wandb_run import Run\n"
        "from wandb.sdk.wandb_run import Run as Run2\n"
        "from wandb import Artifact, Image, Table\n"
        "import expbook\n"
        "assert Run is Run2 is expbook.Run\n"
        "assert wandb.run is None and hasattr(wandb, 'run')\n"
        "assert issubclass(cu.ConfigError, Exception)\n"
        "run = wandb.init(project='p', mode='disabled')\n"
        "assert isinstance(run, RunDisabled)\n"
        "run.finish()\n"
        "from lightning_utilities.core.imports import RequirementCache\n"
        "assert RequirementCache('wandb>=0.12.10')\n"
        "print(m.version('wandb'), wandb.__version__, wandb.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    version, module_version, path = done.stdout.split()
    assert version == module_version == "0.21.0"
    assert "expbook/compat/wandb" in path


def test_refuses_a_real_wandb_and_force_moves_it_aside(tmp_path: Path) -> None:
    fake_real_wandb(tmp_path)
    before = {
        p: (tmp_path / p).read_bytes() for p in files_under(tmp_path) if (tmp_path / p).is_file()
    }
    code = main(["shim", "install", "wandb", "--target", str(tmp_path)])
    assert code == 1
    assert {p for p in files_under(tmp_path) if (tmp_path / p).is_file()} == set(before)
    code, out, _ = invoke("shim", "status", "--target", str(tmp_path))
    assert "shim not installed" in out and "real wandb present (wandb-0.31.0.dist-info)" in out

    code, out, _ = invoke("shim", "install", "wandb", "--force", "--target", str(tmp_path))
    assert code == 0 and "moved into expbook-shim-aside/" in out
    assert (tmp_path / "expbook-shim-aside" / "wandb" / "__init__.py").is_file()
    assert "expbook" in (tmp_path / "wandb" / "__init__.py").read_text()
    code, out, _ = invoke("shim", "status", "--format", "json", "--target", str(tmp_path))
    state = json.loads(out)
    assert state["installed"] is True and state["real_package"] is None
    assert state["moved_aside"] == ["wandb", "wandb-0.31.0.dist-info"]

    code, out, _ = invoke("shim", "uninstall", "wandb", "--target", str(tmp_path))
    assert code == 0 and "the real wandb is back" in out
    after = {
        p: (tmp_path / p).read_bytes() for p in files_under(tmp_path) if (tmp_path / p).is_file()
    }
    assert after == before
    assert not (tmp_path / "expbook-shim-aside").exists()


def test_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["shim", "uninstall", "wandb", "--target", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("expbook: error: the wandb shim is not installed") and err.count("\n") == 1
    )
    assert main(["shim", "install", "wandb", "--target", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["shim", "install", "wandb", "--target", str(tmp_path)]) == 1
    assert "already installed" in capsys.readouterr().err
    assert main(["shim", "install", "mlflow", "--target", str(tmp_path)]) == 2


def test_status_text_and_json(tmp_path: Path) -> None:
    code, out, _ = invoke("shim", "status", "wandb", "--target", str(tmp_path))
    assert code == 0 and out == f"wandb: shim not installed in {tmp_path}\n"
    invoke("shim", "install", "wandb", "--target", str(tmp_path), "--format", "json")
    code, out, _ = invoke("shim", "status", "--target", str(tmp_path))
    assert out == f"wandb: expbook shim 0.21.0 installed in {tmp_path}\n"
    code, out, _ = invoke("shim", "status", "--target", str(tmp_path), "--format", "json")
    state = json.loads(out)
    assert state == {
        "shim": "wandb",
        "target": str(tmp_path),
        "installed": True,
        "version": "0.21.0",
        "files": state["files"],
        "real_package": None,
        "moved_aside": [],
    }
    assert "wandb/__init__.py" in state["files"]
    code, out, _ = invoke("shim", "uninstall", "--target", str(tmp_path), "--format", "json")
    assert json.loads(out)["installed"] is False


def test_import_expbook_does_not_import_the_layer() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, expbook, expbook.cli; "
            "print(any(m.startswith('expbook.compat') for m in sys.modules))",
        ],
        env=client_env(None),
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "False", done.stderr


def test_a_name_expbook_lacks_imports_and_fails_when_used() -> None:
    import pytest

    import expbook.compat.wandb as layer
    from expbook.errors import UsageError

    placeholder = layer.Object3D  # what `from wandb import Object3D` gets
    with pytest.raises(UsageError, match=r"wandb\.Object3D is not available"):
        placeholder("x.obj")
    with pytest.raises(AttributeError, match="no attribute 'nothing_like_this'"):
        layer.nothing_like_this  # noqa: B018
