"""Binary encoding of a chunk of points (steps, wall times, values) for one run and key.

Layout of a chunk blob (little-endian), version 1::

    b"\\x01" | n: uint32 | wall0: float64 | zlib(steps_delta int64[n] | wall_off float32[n]
                                              | values float64[n])

The zlib stream is written by ISA-L (the ``isal`` package, a dependency where it has wheels)
when it is installed, else by the standard library: any zlib reader reads either.

Steps are delta-encoded (consecutive steps compress to almost nothing), wall times are
float32 offsets from ``wall0`` (sub-millisecond over a day), values are kept bit-exact
(NaN, +-inf and every float round-trip). A missing wall time is stored as NaN.

Encoding never imports numpy, so the logging path stays light: lists are encoded by the C
extension (``expbook._speedups.encode_chunk``) when it is built, else with the standard
library; numpy arrays (importers) with numpy. All three write the same bytes (tested).
Decoding gives numpy arrays (:func:`decode_arrays`) or, without numpy, Python lists
(:func:`decode_lists`, built by ``expbook._speedups.decode_body`` when the extension is
built): the same numbers every way (tested).
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

_HEAD = struct.Struct("<BId")

try:  # ISA-L's zlib: the same streams as the standard library's, 3-4x faster at level 1
    from isal.isal_zlib import compress as _compress
    from isal.isal_zlib import decompress as _isal_decompress
    from isal.isal_zlib import error as _IsalError

    COMPRESSOR = "isal"

    def _inflate(body: bytes) -> bytes:
        """A whole zlib stream inflated (ISA-L's, about 1.5x faster); its errors raised as
        ``zlib.error``, as the standard library's are, for the store's error handling."""
        try:
            return _isal_decompress(body)
        except _IsalError as e:
            raise zlib.error(str(e)) from None

except ImportError:
    from zlib import compress as _compress
    from zlib import decompress as _inflate

    COMPRESSOR = "zlib"

try:  # the C encoder and decoder of lists (little-endian machines with the extension built)
    if os.environ.get("EXPBOOK_PURE_PYTHON"):
        raise ImportError
    from .._speedups import decode_body as _c_decode
    from .._speedups import encode_chunk as _c_encode
except ImportError:
    _c_encode = _c_decode = None
_VALUE = struct.Struct("<d")
_LITTLE = sys.byteorder == "little"
_NAN = float("nan")


def encode(steps: Sequence[int], walls: Sequence[float], values: Sequence[float]) -> bytes:
    if _c_encode is not None and type(steps) is list:
        # lists of Python numbers (the writer thread, tail merges): the same bytes, in C
        return _c_encode(steps, walls, values)
    return encode_python(steps, walls, values)


def encode_python(steps: Sequence[int], walls: Sequence[float], values: Sequence[float]) -> bytes:
    """:func:`encode` without the C extension (numpy arrays, or no compiled extension)."""
    n = len(steps)
    if n and "numpy" in sys.modules and (n >= 512 or isinstance(steps, _np().ndarray)):
        # numpy is loaded already (importers, readers): the same bytes, computed vectorised
        return _encode_numpy(steps, walls, values)
    st = array("q", steps)
    if n > 1:
        # delta-encode in place, from the end so each difference uses the original value
        for i in range(n - 1, 0, -1):
            st[i] -= st[i - 1]
    w = array("d", walls)
    wall0 = w[0] if n else 0.0
    if wall0 != wall0:  # NaN first wall: find one that is known
        wall0 = next((x for x in w if x == x), 0.0)
    off = array("f", [x - wall0 for x in w])
    vals = array("d", values)
    if not _LITTLE:
        st.byteswap()
        off.byteswap()
        vals.byteswap()
    body = _compress(st.tobytes() + off.tobytes() + vals.tobytes(), 1)
    return _HEAD.pack(1, n, wall0) + body


def _np() -> Any:
    return sys.modules["numpy"]


def _encode_numpy(steps: Sequence[int], walls: Sequence[float], values: Sequence[float]) -> bytes:
    import numpy as np

    st = np.asarray(steps, dtype=np.int64)
    n = len(st)
    w = np.asarray(walls, dtype=np.float64)
    wall0 = float(w[0])
    if wall0 != wall0:  # NaN first wall: the first one that is known
        known = w[~np.isnan(w)]
        wall0 = float(known[0]) if len(known) else 0.0
    # the uncompressed body, written in place: steps_delta int64 | wall_off float32 | values
    body = np.empty(20 * n, dtype=np.uint8)
    delta = body[: 8 * n].view("<i8")
    delta[:1] = st[:1]
    np.subtract(st[1:], st[:-1], out=delta[1:])
    body[8 * n : 12 * n].view("<f4")[:] = w - wall0  # rounded to float32 as astype does
    body[12 * n :].view("<f8")[:] = values
    return _HEAD.pack(1, n, wall0) + _compress(body.data, 1)


def decode_lists(blob: bytes) -> tuple[list[int], list[float], list[float]]:
    """Decode without numpy: (steps, walls, values) as Python lists.

    The same numbers as :func:`decode_arrays` (values bit for bit, walls by the same
    float32 -> float64 addition), with the standard library alone, so a reader that wants
    Python numbers never pays numpy's import.
    """
    n, wall0 = _header(blob)
    raw = _inflate(blob[_HEAD.size :])
    if len(raw) != 20 * n:
        raise ValueError(f"chunk body holds {len(raw)} bytes, not {20 * n} for {n} points")
    if _c_decode is not None:  # the same lists, built in C (3x faster)
        return _c_decode(raw, n, wall0)
    return _lists(raw, n, wall0)


def _lists(raw: bytes, n: int, wall0: float) -> tuple[list[int], list[float], list[float]]:
    """The Python lists of an inflated chunk body, with the standard library."""
    st = array("q")
    st.frombytes(raw[: 8 * n])
    off = array("f")
    off.frombytes(raw[8 * n : 12 * n])
    vals = array("d")
    vals.frombytes(raw[12 * n :])
    if not _LITTLE:
        st.byteswap()
        off.byteswap()
        vals.byteswap()
    return list(accumulate(st)), [wall0 + x for x in off], vals.tolist()


def decode_arrays(blob: bytes) -> tuple[Any, Any, Any]:
    """Decode to numpy arrays (steps int64, walls float64, values float64)."""
    n, wall0 = _header(blob)
    return _arrays(_inflate(blob[_HEAD.size :]), n, wall0)


def _header(blob: bytes) -> tuple[int, float]:
    """(points, wall0) of a chunk blob, its version checked."""
    if len(blob) < _HEAD.size:
        raise ValueError("shorter than a chunk's header")
    version, n, wall0 = _HEAD.unpack_from(blob)
    if version != 1:
        raise ValueError(f"unknown chunk version {version}")
    return int(n), wall0


def _arrays(raw: bytes, n: int, wall0: float) -> tuple[Any, Any, Any]:
    """The numpy arrays of an inflated chunk body."""
    import numpy as np

    steps = np.cumsum(np.frombuffer(raw, dtype="<i8", count=n))
    walls = np.frombuffer(raw, dtype="<f4", count=n, offset=8 * n).astype(np.float64) + wall0
    values = np.frombuffer(raw, dtype="<f8", count=n, offset=12 * n).astype(np.float64)
    return steps, walls, values


def value_at(blob: bytes, step: int, step_min: int, step_max: int) -> float | None:
    """The value at ``step`` in a chunk (``step_min``/``step_max`` are its stored bounds), or
    None when the chunk has no point at that step.

    Only the start of the chunk is inflated, up to that value, and without numpy. A chunk
    holds strictly increasing steps (the store sorts and de-duplicates before writing), so
    when it has as many points as its step range has steps, the point's index is
    ``step - step_min`` and the steps need not be read at all.
    """
    version, n, _ = _HEAD.unpack_from(blob)
    if version != 1:
        raise ValueError(f"unknown chunk version {version}")
    if not step_min <= step <= step_max:
        return None
    d = zlib.decompressobj()
    body = memoryview(blob)[_HEAD.size :]
    if step_max - step_min + 1 == n:
        i = step - step_min
        raw = d.decompress(body, 12 * n + 8 * (i + 1))
    else:
        raw = d.decompress(body, 8 * n)
        st = array("q")
        st.frombytes(raw[: 8 * n])
        if not _LITTLE:
            st.byteswap()
        steps = list(accumulate(st))
        i = bisect_left(steps, step)
        if i == n or steps[i] != step:
            return None
        raw += d.decompress(d.unconsumed_tail, 12 * n + 8 * (i + 1) - len(raw))
    (value,) = _VALUE.unpack_from(raw, 12 * n + 8 * i)
    return value


def points_in(blob: bytes) -> int:
    """How many points a chunk blob holds (from its header; the body is not read)."""
    return _header(blob)[0]


def segments(
    n: int, chunk_points: int, encoded: Sequence[bytes] | None = None
) -> list[tuple[int, int, bytes | None]]:
    """How ``n`` points are cut into chunks: ``(start, end, blob)`` for each. With
    ``encoded`` (blobs that hold exactly these points, in order, each of at most
    ``chunk_points``; a sync client's chunks) the cuts are theirs and each blob is stored as
    it is; otherwise the points are cut every ``chunk_points`` and encoded (blob None)."""
    if encoded:
        sizes = [points_in(b) for b in encoded]
        if sum(sizes) == n and all(0 < s <= chunk_points for s in sizes):
            out: list[tuple[int, int, bytes | None]] = []
            i = 0
            for blob, size in zip(encoded, sizes):
                out.append((i, i + size, blob))
                i += size
            return out
    return [(i, min(n, i + chunk_points), None) for i in range(0, n, chunk_points)]


def decode_checked(blob: bytes, max_points: int) -> tuple[Any, Any, Any]:
    """:func:`decode_arrays` of a blob from elsewhere (a client's upload), checked: version
    1, 1 to ``max_points`` points, a body of exactly their size (inflated no further than
    that), nothing after it. Raises ValueError saying what is wrong."""
    n, wall0 = _header(blob)
    if not 0 < n <= max_points:
        raise ValueError(f"{n} points (a chunk holds 1 to {max_points})")
    d = zlib.decompressobj()
    try:
        raw = d.decompress(memoryview(blob)[_HEAD.size :], 20 * n + 1)
    except zlib.error as e:
        raise ValueError(f"body is not zlib data ({e})") from None
    if len(raw) != 20 * n or not d.eof or d.unused_data:
        raise ValueError(f"body is not {20 * n} bytes of zlib data for {n} points")
    return _arrays(raw, n, wall0)
