"""Media, files and artifacts.

Log media objects as values (``run.log({"samples": expbook.Image(array)})``): the core
keeps them aside and the writer thread hands them to :func:`write_media`, which encodes
each one (PNG, WAV, GIF, JSON) into a content-addressed file under the store's
``files_dir/media`` and records a row in the store's media table. Artifacts
(:class:`Artifact`, ``run.log_artifact``, ``run.use_artifact``, ``expbook.save``) are
versioned sets of files kept under ``files_dir/artifacts``, with their lineage.

Importing this package loads neither numpy nor PIL: the media types import them when used.
"""

from __future__ import annotations

from . import plot
from .artifacts import Artifact, ArtifactVersion
from .types import Audio, Histogram, Html, Image, Media, Table, Video
from .write import write_media

__all__ = [
    "Artifact",
    "ArtifactVersion",
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "Media",
    "Table",
    "Video",
    "plot",
    "write_media",
]
