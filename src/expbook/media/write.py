"""``write_media``: what the writer thread does with the media objects a run logged."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Any

from ._files import put_bytes

MEDIA_AREA = "media"  # files_dir/media/<sha[:2]>/<sha><ext>

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def write_media(store: Any, run_id: str, items: Sequence[tuple[str, int, float, Any]]) -> None:
    """Encode and keep the media objects ``items`` (``(key, step, wall, object or list)``)
    for run ``run_id``: one content-addressed file per object under the store's
    ``files_dir``, and one row per object in its media table.

    Runs in the writer thread and never raises: an object that cannot be encoded or kept is
    left out, with one warning per run and key."""
    rows = []
    for key, step, wall, value in items:
        objs = list(value) if isinstance(value, (list, tuple)) else [value]
        try:
            for idx, obj in enumerate(objs):
                data, ext, meta = obj._payload()
                rel = put_bytes(store.files_dir, MEDIA_AREA, data, ext)
                rows.append((key, int(step), idx, wall, obj._type, rel, meta))
        except Exception as e:
            _warn(run_id, key, e)
    if not rows:
        return
    try:
        store.add_media(run_id, rows)
    except Exception as e:
        for key in sorted({r[0] for r in rows}):
            _warn(run_id, key, e)


def _warn(run_id: str, key: str, e: BaseException) -> None:
    with _warned_lock:
        if (run_id, key) in _warned:
            return
        _warned.add((run_id, key))
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    warnings.warn(
        f"expbook: media {key!r} of run {run_id} not kept: {msg}", RuntimeWarning, stacklevel=2
    )
