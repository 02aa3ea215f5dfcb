"""Logging from the training loops of other libraries, each in its own module:

* :mod:`expbook.integrations.transformers`: ``ExpbookCallback`` for ``transformers.Trainer``
* :mod:`expbook.integrations.lightning`: ``ExpbookLogger`` for ``lightning.pytorch.Trainer``
* :mod:`expbook.integrations.keras`: ``ExpbookCallback`` for ``keras.Model.fit``

Importing this package imports none of those libraries (nor torch): each module imports its
library when it is imported itself.
"""

__all__: list[str] = []
