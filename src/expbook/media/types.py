"""Media objects for ``run.log``: :class:`Image`, :class:`Histogram`, :class:`Table`,
:class:`Audio`, :class:`Video` and :class:`Html` (and the charts of :mod:`expbook.media.plot`).

A constructor only copies what it is given (an array, a tensor, an image, a file's bytes):
it runs in the training loop. Encoding (PNG, WAV, GIF, JSON) happens in ``_payload()``, which
the writer thread calls through :func:`expbook.media.write_media`. numpy and PIL are imported
where they are needed, never when ``expbook`` is imported.
"""

from __future__ import annotations

import abc
import io
import json
import math
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..analysis.table import Table as _AnalysisTable
from ..errors import UsageError

# what _payload() returns: the bytes of the file, its extension, and its metadata
Payload = tuple[bytes, str, dict[str, Any]]


class Media(abc.ABC):
    """Base of the media types: the core routes any object whose class has a true
    ``_expbook_media`` out of the numeric row and hands it to the writer thread."""

    _expbook_media = True
    _type = "media"
    caption: str | None = None

    @abc.abstractmethod
    def _payload(self) -> Payload:
        """The file's bytes, its extension and its metadata (called by the writer thread)."""

    def _meta(self, **extra: Any) -> dict[str, Any]:
        meta = {k: v for k, v in extra.items() if v is not None}
        if self.caption is not None:
            meta["caption"] = str(self.caption)
        return meta

    def __repr__(self) -> str:
        return f"<expbook.{type(self).__name__}{' ' + repr(self.caption) if self.caption else ''}>"


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _read_path(x: Any, what: str) -> tuple[bytes, str]:
    p = Path(x)
    try:
        return p.read_bytes(), p.suffix.lower()
    except OSError as e:
        raise UsageError(f"{what}: cannot read {str(p)!r}: {e.strerror or e}") from None


def _array_copy(data: Any) -> Any:
    """A numpy copy of an array-like or a torch tensor (detached, on the CPU)."""
    import numpy as np

    if type(data).__module__.startswith("torch"):
        t = data.detach()
        if t.device.type != "cpu":
            return t.cpu().numpy()  # already a copy
        data = t.numpy()
    if type(data) is np.ndarray and data.nbytes >= _POOL_FROM:
        buf = _take_buffer(data.shape, data.dtype)
        if buf is not None:
            np.copyto(buf, data)
            return buf
    return np.array(data, copy=True, order="C")


# Buffers of large arrays, handed back once their copy is encoded. A training loop logs
# arrays of one shape again and again: a fresh copy each time would fault in new pages
# (about 100 us for a 256x256x3 image), a reused buffer is written at memory speed.
_POOL_FROM = 64 << 10  # arrays of at least this many bytes
_POOL_MAX_BYTES = 64 << 20  # buffers kept at most, all shapes together
_pool: dict[tuple[Any, ...], list[Any]] = {}
_pool_bytes = 0
_pool_lock = threading.Lock()


def _take_buffer(shape: tuple[int, ...], dtype: Any) -> Any:
    global _pool_bytes
    with _pool_lock:
        free = _pool.get((shape, dtype.str))
        if not free:
            return None
        buf = free.pop()
        _pool_bytes -= buf.nbytes
        return buf


def _give_back(buf: Any) -> None:
    """Keep an array copied by :func:`_array_copy` for the next copy of its shape."""
    global _pool_bytes
    if buf is None or buf.nbytes < _POOL_FROM or not buf.flags.c_contiguous or buf.base is not None:
        return
    with _pool_lock:
        if _pool_bytes + buf.nbytes <= _POOL_MAX_BYTES:
            _pool.setdefault((buf.shape, buf.dtype.str), []).append(buf)
            _pool_bytes += buf.nbytes


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


# -- images ------------------------------------------------------------------------------
class Image(Media):
    """An image: a numpy array (HxW, HxWx1/3/4; floats in [0, 1] are scaled to 0..255),
    a torch tensor (CHW or HWC), a PIL image, or the path of an image file.

    >>> expbook.log({"samples": expbook.Image(array, caption="epoch 3")})
    """

    _type = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None):
        self.caption = caption
        self.mode = mode
        self._encoded: Payload | None = None
        self._bytes: bytes | None = None
        self._pil: Any = None
        self._array: Any = None
        self._chw = False
        if _is_path(data_or_path):
            self._bytes, self._ext = _read_path(data_or_path, "Image")
        elif hasattr(data_or_path, "getpixel") and hasattr(data_or_path, "copy"):
            self._pil = data_or_path.copy()  # a PIL image
        else:
            self._chw = _is_torch(data_or_path)
            self._array = _array_copy(data_or_path)
            if self._array.ndim not in (2, 3):
                raise UsageError(
                    f"Image: an array of shape {self._array.shape} is not an image "
                    "(HxW, HxWxC or CxHxW)"
                )

    def _to_pil(self) -> Any:
        from PIL import Image as PILImage

        if self._pil is not None:
            return self._pil
        if self._bytes is not None:
            return PILImage.open(io.BytesIO(self._bytes))
        return PILImage.fromarray(_image_array(self._array, self._chw), mode=self.mode)

    def _payload(self) -> Payload:
        # encoded once: the array copy then goes back to the pool for the next Image
        if self._encoded is None:
            self._encoded = self._encode()
            if self._array is not None:
                array, self._array = self._array, None
                _give_back(array)
        return self._encoded

    def _encode(self) -> Payload:
        if self._bytes is not None:
            from PIL import Image as PILImage

            with PILImage.open(io.BytesIO(self._bytes)) as im:
                fmt = (im.format or self._ext.lstrip(".")).lower()
                ext = {"jpeg": ".jpg"}.get(fmt, "." + fmt)
                return self._bytes, ext, self._meta(width=im.width, height=im.height, format=fmt)
        im = self._to_pil()
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue(), ".png", self._meta(width=im.width, height=im.height, format="png")


def _image_array(a: Any, chw: bool) -> Any:
    """An array as 8-bit HxW or HxWxC: channels moved last, floats scaled, HxWx1 squeezed."""
    import numpy as np

    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and (chw or a.shape[-1] not in (1, 3, 4)):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[-1] not in (3, 4):
        raise UsageError(f"Image: {a.shape[-1]} channels (use 1, 3 or 4)")
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    a = np.nan_to_num(a.astype(np.float64))
    if a.size and a.min() >= 0 and a.max() <= 1:
        a = a * 255
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# -- histograms --------------------------------------------------------------------------
class Histogram(Media):
    """A histogram of values (``sequence``: a list, array or tensor), in ``num_bins`` equal
    bins, or one made already (``np_histogram=(counts, edges)``, as ``numpy.histogram``
    returns)."""

    _type = "histogram"

    def __init__(
        self,
        sequence: Any = None,
        np_histogram: Any = None,
        num_bins: int = 64,
    ) -> None:
        if (sequence is None) == (np_histogram is None):
            raise UsageError("Histogram: give either sequence or np_histogram")
        if not 1 <= int(num_bins) <= 512:
            raise UsageError("Histogram: num_bins must be between 1 and 512")
        self.num_bins = int(num_bins)
        self._values = None if sequence is None else _array_copy(sequence).ravel()
        self._hist = None
        if np_histogram is not None:
            counts, edges = np_histogram
            counts, edges = list(map(float, counts)), list(map(float, edges))
            if len(edges) != len(counts) + 1:
                raise UsageError("Histogram: np_histogram needs len(edges) == len(counts) + 1")
            self._hist = (counts, edges)

    def _histogram(self) -> tuple[list[float], list[float]]:
        import numpy as np

        if self._hist is not None:
            return self._hist
        v = np.asarray(self._values, dtype=np.float64)
        v = v[np.isfinite(v)]
        counts, edges = np.histogram(v, bins=self.num_bins)
        return counts.astype(float).tolist(), edges.astype(float).tolist()

    def _payload(self) -> Payload:
        counts, edges = self._histogram()
        doc = {"counts": counts, "bins": edges}
        data = json.dumps(doc, separators=(",", ":")).encode()
        return data, ".hist.json", self._meta(format="json", **doc)


# -- tables ------------------------------------------------------------------------------
class Table(_AnalysisTable, Media):
    """A table to log: ``columns`` and rows (``data``), or a pandas ``dataframe``;
    ``add_data(*row)`` appends a row. Cells are kept as JSON (numbers, strings, None; other
    values as text).

    It is also an analysis :class:`expbook.analysis.table.Table` (``to_df()``,
    ``to_dict()``, ``column()``), the type the read API returns.
    """

    _type = "table"

    def __init__(
        self,
        columns: Sequence[Any] | None = None,
        data: Iterable[Sequence[Any]] | None = None,
        dataframe: Any = None,
        rows: Iterable[Sequence[Any]] | None = None,
        **fields: Any,
    ) -> None:
        if dataframe is not None:
            columns = list(dataframe.columns)
            data = dataframe.itertuples(index=False, name=None)
        got = [list(r) for r in (data if data is not None else rows or [])]
        if columns is None:
            columns = [f"c{i}" for i in range(len(got[0]) if got else 0)]
        super().__init__(columns=[str(c) for c in columns], rows=[], **fields)
        for r in got:
            self.add_data(*r)

    @property
    def data(self) -> list[list[Any]]:
        """The rows (wandb's name for them)."""
        return self.rows

    def add_data(self, *row: Any) -> None:
        """Append a row (one value per column)."""
        if len(row) != len(self.columns):
            raise UsageError(f"Table.add_data: {len(row)} values for {len(self.columns)} columns")
        self.rows.append(list(row))

    def _doc(self) -> dict[str, Any]:
        return {"columns": self.columns, "data": [[_cell(c) for c in r] for r in self.rows]}

    def _payload(self) -> Payload:
        data = json.dumps(self._doc(), separators=(",", ":"), allow_nan=False).encode()
        meta = self._meta(format="json", columns=self.columns, rows=len(self.rows))
        return data, ".table.json", meta


def _cell(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):  # a missing value (NaN) is null; infinities are text
        return v if math.isfinite(v) else None if math.isnan(v) else str(v)
    if type(v).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    item = getattr(v, "item", None)  # numpy / torch scalars
    if item is not None and getattr(v, "ndim", 0) == 0:
        return _cell(item())
    return str(v)


# -- audio -------------------------------------------------------------------------------
class Audio(Media):
    """Sound: a numpy array (samples, or samples x channels; floats in [-1, 1]) with its
    ``sample_rate`` (kept as a 16-bit WAV file), or the path of an audio file."""

    _type = "audio"

    def __init__(
        self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None
    ) -> None:
        self.caption = caption
        self.sample_rate = sample_rate
        self._bytes: bytes | None = None
        if _is_path(data_or_path):
            self._bytes, self._ext = _read_path(data_or_path, "Audio")
            return
        if not sample_rate or int(sample_rate) <= 0:
            raise UsageError("Audio: an array needs sample_rate")
        self._array = _array_copy(data_or_path)
        if self._array.ndim not in (1, 2):
            raise UsageError(f"Audio: an array of shape {self._array.shape} is not sound")

    def _payload(self) -> Payload:
        if self._bytes is not None:
            fmt = self._ext.lstrip(".") or "bin"
            return self._bytes, self._ext or ".bin", self._meta(format=fmt)
        import wave

        import numpy as np

        a = self._array
        channels = 1 if a.ndim == 1 else a.shape[1]
        if a.dtype.kind == "f":
            pcm = (np.clip(np.nan_to_num(a), -1.0, 1.0) * 32767).astype("<i2")
        else:
            pcm = a.astype("<i2")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(int(self.sample_rate or 0))
            w.writeframes(pcm.tobytes())
        duration = a.shape[0] / float(self.sample_rate or 1)
        return (
            buf.getvalue(),
            ".wav",
            self._meta(
                format="wav",
                sample_rate=int(self.sample_rate or 0),
                channels=channels,
                duration=duration,
            ),
        )


# -- video -------------------------------------------------------------------------------
class Video(Media):
    """A video: the path of a video file, or a numpy array / tensor of frames (T, C, H, W)
    (or (T, H, W, C)) kept as an animated GIF at ``fps`` frames per second."""

    _type = "video"

    def __init__(
        self,
        data_or_path: Any,
        fps: int = 4,
        caption: str | None = None,
        format: str | None = None,
    ) -> None:
        self.caption = caption
        self.fps = int(fps) if fps and fps > 0 else 4
        self.format = format
        self._bytes: bytes | None = None
        if _is_path(data_or_path):
            self._bytes, self._ext = _read_path(data_or_path, "Video")
            return
        if format not in (None, "gif"):
            raise UsageError(f"Video: frames are kept as gif, not {format!r}")
        self._array = _array_copy(data_or_path)
        if self._array.ndim != 4:
            raise UsageError(f"Video: frames of shape {self._array.shape} are not (T, C, H, W)")

    def _payload(self) -> Payload:
        if self._bytes is not None:
            fmt = self.format or self._ext.lstrip(".") or "bin"
            return self._bytes, self._ext or ".bin", self._meta(format=fmt)
        from PIL import Image as PILImage

        frames = [PILImage.fromarray(_image_array(f, True)) for f in self._array]
        buf = io.BytesIO()
        frames[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=max(1, round(1000 / self.fps)),
            loop=0,
        )
        w, h = frames[0].size
        return (
            buf.getvalue(),
            ".gif",
            self._meta(format="gif", fps=self.fps, frames=len(frames), width=w, height=h),
        )


# -- html --------------------------------------------------------------------------------
class Html(Media):
    """An HTML document (a string, a file object, or the path of a ``.html`` file). The run
    page shows it in a sandboxed frame (no scripts). ``inject`` is accepted for wandb
    compatibility."""

    _type = "html"

    def __init__(self, data: Any, inject: bool = True) -> None:
        self.caption = None
        self.inject = inject
        if hasattr(data, "read"):
            text = data.read()
        elif isinstance(data, os.PathLike) or (
            isinstance(data, str) and data.lower().endswith((".html", ".htm")) and "<" not in data
        ):
            text = _read_path(data, "Html")[0]
        else:
            text = data
        if isinstance(text, str):
            text = text.encode("utf-8")
        if not isinstance(text, bytes):
            raise UsageError(f"Html: expected a string or a file, not {type(data).__name__}")
        self._bytes = text

    def _payload(self) -> Payload:
        return self._bytes, ".html", self._meta(format="html", size=len(self._bytes))
