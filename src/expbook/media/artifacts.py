"""Versioned, content-addressed artifacts: :class:`Artifact` collects files (and media
objects); :func:`log_artifact` keeps them as version ``v0``, ``v1``... of a name (the same
content as the newest version adds no version); :func:`use_artifact` records that a run
used a version and returns it as an :class:`ArtifactVersion` that can ``download()``.
:func:`save` keeps a run's files as its ``run-<id>-files`` artifact."""

from __future__ import annotations

import difflib
import glob as _glob
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import UsageError
from ._files import copy_out, put_bytes, put_file

ARTIFACT_AREA = "artifacts"  # files_dir/artifacts/<sha[:2]>/<sha>
SAVE_POLICIES = ("live", "now", "end")


def _entry_name(name: str) -> str:
    """A file's path inside an artifact: relative, '/'-separated, never above its root."""
    p = PurePosixPath(name.replace(os.sep, "/"))
    if not name or p.is_absolute() or ".." in p.parts or str(p) in ("", "."):
        raise UsageError(f"Artifact: {name!r} is not a relative path inside the artifact")
    return str(p)


class Artifact:
    """Files to keep together as one version of ``name`` (of ``type``: "dataset", "model"...).

    >>> art = expbook.Artifact("weights", type="model")
    >>> art.add_file("model.pt")
    >>> run.log_artifact(art, aliases=["best"])
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not name or not isinstance(name, str) or any(c in name for c in ":/\\"):
            raise UsageError(f"Artifact: {name!r} is not a name (no ':', '/' or '\\\\')")
        if not type or not isinstance(type, str):
            raise UsageError("Artifact: give a type (for example 'dataset' or 'model')")
        self.name = name
        self.type = type
        self.description = description
        self.metadata = dict(metadata or {})
        # path in the artifact -> a file on disk, or the bytes of an added object
        self._entries: dict[str, str | bytes] = {}

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None) -> str:
        """Add a file (as ``name``, its file name by default); returns its path in the artifact."""
        if not os.path.isfile(local_path):
            raise UsageError(f"Artifact.add_file: {os.fspath(local_path)!r} is not a file")
        entry = _entry_name(name or os.path.basename(os.fspath(local_path)))
        self._entries[entry] = os.path.abspath(local_path)
        return entry

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None) -> list[str]:
        """Add every file under a folder (under ``name/`` in the artifact, if given)."""
        root = os.fspath(local_path)
        if not os.path.isdir(root):
            raise UsageError(f"Artifact.add_dir: {root!r} is not a folder")
        added = []
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                full = os.path.join(folder, f)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                added.append(self.add_file(full, f"{name}/{rel}" if name else rel))
        return sorted(added)

    def add(self, obj: Any, name: str) -> str:
        """Add a media object (a :class:`~expbook.Table`, an :class:`~expbook.Image`...) as
        ``name`` plus its file extension; returns its path in the artifact."""
        if not getattr(type(obj), "_expbook_media", False):
            raise UsageError(f"Artifact.add: {type(obj).__name__} is not an expbook media object")
        data, ext, _meta = obj._payload()
        entry = _entry_name(name if name.endswith(ext) else name + ext)
        self._entries[entry] = data
        return entry

    @property
    def files(self) -> list[str]:
        """The paths added so far, sorted."""
        return sorted(self._entries)

    def __repr__(self) -> str:
        return f"<expbook.Artifact {self.name!r} type={self.type!r} files={len(self._entries)}>"


class ArtifactVersion:
    """One stored version of an artifact, as ``log_artifact`` and ``use_artifact`` return it."""

    def __init__(self, store: Any, info: Mapping[str, Any]) -> None:
        self._store = store
        self.info = dict(info)
        self.name: str = info["name"]
        self.version: str = info["version"]
        self.type: str = info["type"]
        self.project: str = info["project"]
        self.digest: str = info["digest"]
        self.aliases: list[str] = list(info.get("aliases", []))
        self.metadata: dict[str, Any] = dict(info.get("metadata") or {})
        self.created_by: str | None = info.get("created_by")

    @property
    def files(self) -> list[str]:
        """The paths of the version's files."""
        return [f["path"] for f in self.info.get("files", [])]

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Copy the version's files under ``root`` (``./artifacts/<name>-<version>`` by
        default); returns that folder."""
        return download(self._store, self.info, root)

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download a one-file version and return the path of that file."""
        files = self.files
        if len(files) != 1:
            raise UsageError(
                f"artifact {self.name}:{self.version} has {len(files)} files: use download()"
            )
        return os.path.join(self.download(root), files[0])

    def __repr__(self) -> str:
        return f"<expbook.ArtifactVersion {self.name}:{self.version} type={self.type!r}>"


def download(store: Any, info: Mapping[str, Any], root: str | os.PathLike[str] | None) -> str:
    """Materialise an artifact version's files under ``root``; returns the folder."""
    dest = Path(root or Path("artifacts") / f"{info['name']}-{info['version']}").resolve()
    for f in info.get("files", []):
        target = (dest / _entry_name(f["path"])).resolve()
        if dest != target and dest not in target.parents:  # never outside root
            raise UsageError(f"artifact file {f['path']!r} is outside the artifact")
        src = f.get("source") if f.get("blob") is None else Path(store.files_dir) / f["blob"]
        if src is None or not os.path.exists(src):
            raise UsageError(
                f"artifact {info['name']}:{info['version']}: file {f['path']!r} is missing ({src})"
            )
        copy_out(src, target)
    dest.mkdir(parents=True, exist_ok=True)
    return str(dest)


def log_artifact(
    store: Any,
    project: str,
    run_id: str | None,
    artifact_or_path: Artifact | str | os.PathLike[str],
    name: str | None = None,
    type: str | None = None,
    aliases: Sequence[str] | None = None,
) -> ArtifactVersion:
    """Keep an :class:`Artifact` (or a file or folder path) as a new version of its name."""
    art = artifact_or_path
    if not isinstance(art, Artifact):
        path = os.fspath(art)
        if not os.path.exists(path):
            raise UsageError(f"log_artifact: no file or folder {path!r}")
        art = Artifact(name or os.path.basename(os.path.abspath(path)), type or "unspecified")
        if os.path.isdir(path):
            art.add_dir(path)
        else:
            art.add_file(path)
    elif name is not None or type is not None:
        art.name, art.type = name or art.name, type or art.type
    if isinstance(aliases, str):
        aliases = [aliases]
    files = []
    for entry, src in sorted(art._entries.items()):
        if isinstance(src, bytes):
            blob = put_bytes(store.files_dir, ARTIFACT_AREA, src, "")
            sha, size = hashlib.sha256(src).hexdigest(), len(src)
        else:
            try:
                blob, sha, size = put_file(store.files_dir, ARTIFACT_AREA, src)
            except OSError as e:
                raise UsageError(f"log_artifact: cannot read {src!r}: {e.strerror or e}") from None
        files.append((entry, sha, size, blob))
    manifest = "".join(f"{p}\t{sha}\n" for p, sha, _size, _blob in files)
    info = store.add_artifact_version(
        project=project,
        name=art.name,
        type=art.type,
        digest=hashlib.sha256(manifest.encode()).hexdigest(),
        files=files,
        run_id=run_id,
        description=art.description,
        metadata=art.metadata,
        aliases=list(aliases or []),
    )
    return ArtifactVersion(store, info)


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"name:v1"`` -> ``("name", "v1")``; ``"name"`` -> ``("name", None)``."""
    name, _, version = ref.partition(":")
    return name, (version or None)


def find_artifact(store: Any, ref: str, project: str | None = None) -> dict[str, Any]:
    """The stored version ``ref`` names (in ``project`` first), or a one-line UsageError."""
    name, version = parse_ref(ref)
    info = None
    if project is not None:
        info = store.get_artifact(name, version, project)
    if info is None:
        info = store.get_artifact(name, version)
    if info is not None:
        return info
    names = store.artifact_names()
    if name in names:
        raise UsageError(f"artifact {name!r} has no version {version!r}")
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UsageError(f"no artifact {name!r}{hint}")


def use_artifact(
    store: Any, project: str, run_id: str, ref: str | Artifact | ArtifactVersion
) -> ArtifactVersion:
    """Record that run ``run_id`` uses a version (``"name"``, ``"name:v1"``, ``"name:best"``,
    an :class:`Artifact` (its newest version) or an :class:`ArtifactVersion`)."""
    if isinstance(ref, ArtifactVersion):
        ref = f"{ref.name}:{ref.version}"
    elif isinstance(ref, Artifact):
        ref = ref.name
    info = find_artifact(store, str(ref), project)
    if not info.get("external"):
        store.record_artifact_use(info["project"], info["name"], int(info["version"][1:]), run_id)
        info = store.get_artifact(info["name"], info["version"], info["project"]) or info
    return ArtifactVersion(store, info)


def save(
    store: Any,
    project: str,
    run_id: str,
    glob_str: str | os.PathLike[str],
    base_path: str | os.PathLike[str] | None = None,
    policy: str = "live",
) -> list[str]:
    """Copy the files matching ``glob_str`` into the run's files (artifact
    ``run-<id>-files``, type ``files``, one version per change); returns their names.

    Files are named relative to ``base_path`` (the current folder by default). Every policy
    copies the files now (``live`` and ``end`` are accepted for wandb compatibility)."""
    if policy not in SAVE_POLICIES:
        raise UsageError(f"save: policy must be one of {', '.join(SAVE_POLICIES)}")
    pattern = os.fspath(glob_str)
    matches = sorted(p for p in _glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not matches:
        return []
    base = os.path.abspath(base_path) if base_path is not None else os.getcwd()
    name = f"run-{run_id}-files"
    art = Artifact(name, "files", description="files saved by expbook.save")
    prev = store.get_artifact(name, None, project)
    saved = []
    for p in matches:
        rel = os.path.relpath(os.path.abspath(p), base)
        if rel.startswith(".."):
            rel = os.path.basename(p)
        saved.append(art.add_file(p, rel))
    if prev is not None:  # earlier saves stay in the new version
        for f in prev["files"]:
            if f["path"] not in art._entries:
                art._entries[f["path"]] = str(Path(store.files_dir) / f["blob"])
    log_artifact(store, project, run_id, art)
    return saved
