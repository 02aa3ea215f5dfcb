"""Which runs this process is logging: the current run and every live one.

Both :mod:`.api` (``init`` makes a run current) and :mod:`.run` (``finish`` forgets it) use
this module, which imports neither of them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Run

lock = threading.RLock()
live: list[Run] = []
_current: list[Run | None] = [None]


def current() -> Run | None:
    """The run ``expbook.log`` writes to, or None."""
    return _current[0]


def add(run: Run) -> None:
    """Make ``run`` live and current."""
    with lock:
        live.append(run)
        _current[0] = run


def forget(run: Run) -> None:
    """``run`` has ended: the current run becomes the newest live one, if any."""
    with lock:
        if run in live:
            live.remove(run)
        if _current[0] is run:
            _current[0] = live[-1] if live else None
