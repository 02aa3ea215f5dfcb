"""Logging from a training script: ``init``, ``log``, ``finish`` and the live :class:`Run`.

:mod:`.api` holds the module-level calls (``expbook.init`` ...), :mod:`.run` the run and its
config and summary, :mod:`.writer` the background thread that moves buffered points into the
store, :mod:`.state` which runs are live and which is current.
"""

from .api import finish, init, log
from .run import Config, Run, Summary
from .state import current

__all__ = ["Config", "Run", "Summary", "current", "finish", "init", "log"]
