"""The exceptions expbook raises.

::

    ExpbookError                 base of everything below
    ├── StoreError               a store cannot be opened, created or read
    ├── RunNotFound              no run matches an id, id prefix or name
    ├── AmbiguousRun             a prefix or name matches more than one run
    ├── MetricError              a value passed to ``log`` cannot be a metric
    ├── UsageError               an API call in the wrong state (``log`` before ``init``)
    ├── UnknownKey               an analysis names a key no selected run has
    └── ImportFailure            an import could not read its input

The CLI turns each of these into one line on stderr and a non-zero exit.
"""

from __future__ import annotations


class ExpbookError(Exception):
    """Base class of every error expbook raises on purpose."""


class StoreError(ExpbookError):
    """A store cannot be opened, created, migrated or read."""


class RunNotFound(ExpbookError, KeyError):
    """No run matches the given id, id prefix or name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class AmbiguousRun(ExpbookError):
    """A prefix or a name matches more than one run."""


class MetricError(ExpbookError, TypeError):
    """A value passed to ``log`` cannot be stored as a metric."""


class UsageError(ExpbookError):
    """An API used in the wrong state, e.g. ``expbook.log`` before ``expbook.init``."""


class UnknownKey(ExpbookError, ValueError):
    """An analysis names a metric or param key that no selected run has (a typo: the message
    suggests the closest key that exists)."""


class ImportFailure(ExpbookError):
    """An import could not read its input."""
