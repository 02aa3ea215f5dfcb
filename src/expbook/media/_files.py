"""Content-addressed files under a store's ``files_dir``: the same bytes are one file,
named by their sha256 (``<area>/<sha[:2]>/<sha><ext>``), written atomically."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

_CHUNK = 1 << 20


def put_bytes(files_dir: str | os.PathLike[str], area: str, data: bytes, ext: str) -> str:
    """Keep ``data`` under ``files_dir/area``; returns its path relative to ``files_dir``."""
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{area}/{sha[:2]}/{sha}{ext}"
    dest = Path(files_dir) / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
        except BaseException:
            _unlink(tmp)
            raise
    return rel


def put_file(
    files_dir: str | os.PathLike[str], area: str, src: str | os.PathLike[str]
) -> tuple[str, str, int]:
    """Copy the file ``src`` under ``files_dir/area``: ``(path under files_dir, sha256, size)``."""
    folder = Path(files_dir) / area
    folder.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            while block := fin.read(_CHUNK):
                h.update(block)
                fout.write(block)
                size += len(block)
        sha = h.hexdigest()
        rel = f"{area}/{sha[:2]}/{sha}"
        dest = Path(files_dir) / rel
        if dest.exists():
            _unlink(tmp)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
    except BaseException:
        _unlink(tmp)
        raise
    return rel, sha, size


def copy_out(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy a stored file (or an external file or folder) to ``dest``."""
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dest)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
