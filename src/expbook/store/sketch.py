"""Sketches: the few points of a chunk that an overview chart needs.

A chart of a million points draws about two thousand, and it must not hide a single spike.
Reading and decoding every point for that takes longer than a dashboard may wait, so each
chunk of at least :data:`SKETCH_MIN` points is stored with its *sketch*: the chunk cut into
groups of :data:`SKETCH_WIDTH` consecutive points, and of each group the point holding its
minimum, the one holding its maximum and its last point (NaN is ignored when looking for
extremes, infinities count), plus the chunk's first point. That is at most 3 points in 64,
kept in the same codec as the chunk.

Every extreme of the series is in the sketches of its chunks, so an overview drawn from them
keeps the global min and max and every spike at its true height, and reads about 5% of the
data. A view narrow enough that a drawn bucket spans only a few groups reads the points.

Computed by the C extension (``expbook._speedups.sketch_indices``) for lists and float64
arrays when it is built, a few microseconds a chunk; otherwise with numpy when it is loaded
(importers, readers) and with the standard library in the logging process. All three give
the same indices (tested).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

try:  # the C loop, for lists and float64 arrays (when the extension is built)
    if os.environ.get("EXPBOOK_PURE_PYTHON"):
        raise ImportError
    from .._speedups import sketch_indices as _c_sketch
except ImportError:
    _c_sketch = None

__all__ = [
    "SKETCH_MIN",
    "SKETCH_WIDTH",
    "extreme_indices",
    "sketch_indices",
    "sketch_indices_numpy",
    "sketch_indices_python",
]

SKETCH_WIDTH = 64  # points per group
SKETCH_MIN = 1024  # chunks with fewer points have no sketch: they are read in full


def sketch_indices(values: Sequence[float], width: int = SKETCH_WIDTH) -> list[int]:
    """Sorted indices of the sketch of ``values`` (see the module docstring)."""
    if _c_sketch is not None:
        v = values
        if type(v) is not list and "numpy" in sys.modules:
            np = sys.modules["numpy"]
            if isinstance(v, np.ndarray):
                v = np.ascontiguousarray(v, dtype=np.float64)  # the array itself if it is one
        try:
            return _c_sketch(v, width)
        except TypeError:  # not numbers, or not a buffer of float64: Python says why
            pass
    if "numpy" in sys.modules:
        return sketch_indices_numpy(values, width)
    return sketch_indices_python(values, width)


def sketch_indices_python(values: Sequence[float], width: int = SKETCH_WIDTH) -> list[int]:
    """:func:`sketch_indices` with the standard library only."""
    n = len(values)
    if n == 0:
        return []
    vals = list(values)
    total = sum(vals)
    any_nan = total != total  # a NaN, or +inf and -inf: look closer per group
    out = {0}
    for lo in range(0, n, width):
        seg = vals[lo : lo + width]
        clean = [x for x in seg if x == x] if any_nan else seg
        if clean:
            out.add(lo + seg.index(min(clean)))
            out.add(lo + seg.index(max(clean)))
        out.add(lo + len(seg) - 1)
    return sorted(out)


def sketch_indices_numpy(values: Any, width: int = SKETCH_WIDTH) -> list[int]:
    """:func:`sketch_indices` with numpy."""
    import numpy as np

    n = len(values)
    if n == 0:
        return []
    v = np.asarray(values, dtype=np.float64)
    edges = np.append(np.arange(0, n, width, dtype=np.int64), n)
    return extreme_indices(v, edges).tolist()


def extreme_indices(v: Any, edges: Any) -> Any:
    """Sorted indices of the first point, and of each bucket ``edges[i]:edges[i+1]`` its
    first minimum, first maximum (NaN ignored) and last point. ``v`` is a float64 numpy
    array, ``edges`` increasing int64 from 0 to ``len(v)`` with no empty bucket."""
    import numpy as np

    starts = edges[:-1]
    sizes = np.diff(edges)
    bucket = np.repeat(np.arange(len(starts)), sizes)
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(v, starts)
        maxs = np.fmax.reduceat(v, starts)
    picks = [edges[1:] - 1, np.zeros(1, dtype=np.int64)]
    for target in (mins, maxs):
        # flag the points equal to their bucket's extreme, keep the first flagged per bucket
        # (the flagged points come in bucket order: a change of bucket starts a new one)
        hit = np.flatnonzero(v == target[bucket])
        if len(hit):
            picks.append(hit[_starts(bucket[hit])])
    out = np.concatenate(picks)
    out.sort()
    return out[_starts(out)]


def _starts(a: Any) -> Any:
    """Indices where a sorted array ``a`` (not empty) takes a new value."""
    import numpy as np

    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return np.flatnonzero(keep)
