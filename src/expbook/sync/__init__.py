"""Offline-first syncing of a local store to ``expbook server``.

Training logs to the local store as always; :mod:`~expbook.sync.thread` uploads what was
committed (``expbook.init(..., server=URL)`` or ``$EXPBOOK_SERVER``), and ``expbook sync``
uploads runs logged offline or imported. :mod:`~expbook.sync.engine` is what both do for a
run; :mod:`~expbook.sync.client` speaks to the server's write API (with the standard
library's HTTP client: syncing adds no import to a training process but numpy's).
"""

from __future__ import annotations

__all__: list[str] = []
