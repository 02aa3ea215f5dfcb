"""The local dashboard, ``expbook ui`` (needs ``pip install 'expbook[ui]'``).

:func:`create_app` builds the ASGI app on a store (read-only); :func:`serve` runs it with
uvicorn. Importing this package loads starlette, so the CLI imports it only inside ``ui``.
"""

from .app import create_app
from .downsample import downsample_indices
from .server import serve

__all__ = ["create_app", "downsample_indices", "serve"]
