"""Putting the wandb shim into an environment and taking it out again.

``install`` writes, into a site-packages folder, a two-line ``wandb/__init__.py`` that makes
``import wandb`` be :mod:`expbook.compat.wandb`, and a ``wandb-<version>.dist-info/`` whose
``METADATA`` answers ``importlib.metadata.version("wandb")``, whose ``RECORD`` lists every
file written and whose ``EXPBOOK_SHIM`` marker says the shim is expbook's. ``uninstall``
removes exactly those files and the folders it created.

A real wandb in the folder (a ``wandb-*.dist-info`` without the marker, or a ``wandb/`` not
written by expbook) stops ``install`` unless ``force``: then the real package and its
metadata are moved, whole, into ``expbook-shim-aside/`` in the same folder (where Python
does not find them), and ``uninstall`` moves them back.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

SHIMS = ("wandb",)
MARKER = "EXPBOOK_SHIM"
ASIDE = "expbook-shim-aside"

_INIT = '''"""wandb, as expbook's compatibility layer (written by `expbook shim install wandb`;
`expbook shim uninstall wandb` removes it)."""
import expbook.compat.wandb as _layer

_layer._alias(__name__)
'''


@dataclass
class ShimState:
    """What ``status`` reports for one shim in one folder."""

    name: str
    target: str
    installed: bool = False
    version: str | None = None
    files: list[str] = field(default_factory=list)
    real: str | None = None  # a real distribution found in the folder (dist-info name)
    aside: list[str] = field(default_factory=list)  # what --force moved aside

    def to_dict(self) -> dict[str, Any]:
        return {
            "shim": self.name,
            "target": self.target,
            "installed": self.installed,
            "version": self.version,
            "files": self.files,
            "real_package": self.real,
            "moved_aside": self.aside,
        }


def default_target() -> Path:
    """The running interpreter's site-packages (where ``pip install`` would put wandb)."""
    return Path(sysconfig.get_paths()["purelib"])


def _check_name(name: str) -> None:
    if name not in SHIMS:
        raise UsageError(f"unknown shim {name!r}: the shims are {', '.join(SHIMS)}")


def _dist_infos(target: Path, name: str) -> list[Path]:
    if not target.is_dir():
        return []
    return sorted(p for p in target.glob(f"{name}-*.dist-info") if p.is_dir())


def _marker(dist: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((dist / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status(name: str, target: Path | None = None) -> ShimState:
    """Is the shim installed in ``target``, and is a real package there?"""
    _check_name(name)
    target = Path(target) if target else default_target()
    state = ShimState(name=name, target=str(target))
    for dist in _dist_infos(target, name):
        mark = _marker(dist)
        if mark is None:
            state.real = dist.name
        else:
            state.installed = True
            state.version = str(mark.get("version"))
            state.files = list(mark.get("files", []))
            state.aside = list(mark.get("aside", []))
    if state.real is None and not state.installed and (target / name).exists():
        state.real = f"{name}/ (no metadata)"
    return state


def install(name: str, target: Path | None = None, *, force: bool = False) -> ShimState:
    """Write the shim into ``target``; see the module docstring for ``force``."""
    from .wandb import __version__ as version

    _check_name(name)
    target = Path(target) if target else default_target()
    before = status(name, target)
    if before.installed:
        raise UsageError(
            f"the {name} shim is already installed in {target} (expbook shim uninstall {name})"
        )
    aside: list[str] = []
    if before.real is not None:
        if not force:
            raise UsageError(
                f"a real {name} is installed in {target} ({before.real}): uninstall it, or "
                f"pass --force to move it aside into {ASIDE}/ until `expbook shim uninstall`"
            )
        aside = _move_aside(name, target)
    target.mkdir(parents=True, exist_ok=True)
    pkg = target / name
    dist = target / f"{name}-{version}.dist-info"
    pkg.mkdir()
    dist.mkdir()
    files = {
        pkg / "__init__.py": _INIT,
        dist / "METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: expbook's {name}-compatible layer (not the real {name})\n"
        ),
        dist / "INSTALLER": "expbook\n",
        dist / "top_level.txt": f"{name}\n",
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    rel = [p.relative_to(target).as_posix() for p in files]
    rel += [f"{dist.name}/{MARKER}", f"{dist.name}/RECORD"]
    (dist / "RECORD").write_text("".join(f"{r},,\n" for r in rel), encoding="utf-8")
    mark = {
        "shim": name,
        "version": version,
        "files": rel,
        "dirs": [name, dist.name],
        "aside": aside,
    }
    (dist / MARKER).write_text(json.dumps(mark, indent=1) + "\n", encoding="utf-8")
    return status(name, target)


def _move_aside(name: str, target: Path) -> list[str]:
    moved = []
    aside = target / ASIDE
    aside.mkdir(exist_ok=True)
    for src in [target / name, *_dist_infos(target, name)]:
        if src.exists():
            dest = aside / src.name
            if dest.exists():
                raise UsageError(f"{dest} already exists: move it away first")
            shutil.move(str(src), str(dest))
            moved.append(src.name)
    return moved


def uninstall(name: str, target: Path | None = None) -> ShimState:
    """Remove exactly what ``install`` wrote, and move back what ``--force`` moved aside."""
    _check_name(name)
    target = Path(target) if target else default_target()
    dists = [d for d in _dist_infos(target, name) if _marker(d) is not None]
    if not dists:
        raise UsageError(f"the {name} shim is not installed in {target}")
    for dist in dists:
        mark = _marker(dist) or {}
        for rel in mark.get("files", []):
            path = target / rel
            if path.is_file():
                path.unlink()
        # folders it created, deepest first, only when empty (a .pyc cache is Python's doing)
        for rel in sorted(mark.get("dirs", []), key=len, reverse=True):
            folder = target / rel
            cache = folder / "__pycache__"
            if cache.is_dir():
                shutil.rmtree(cache)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        for item in mark.get("aside", []):
            src = target / ASIDE / item
            if src.exists() and not (target / item).exists():
                shutil.move(str(src), str(target / item))
        aside = target / ASIDE
        if aside.is_dir() and not any(aside.iterdir()):
            aside.rmdir()
    return status(name, target)
