"""Console capture: what a run's process prints, kept in ``<run dir>/output.log``.

``sys.stdout`` and ``sys.stderr`` are wrapped by a :class:`_Tee` at the Python level: every
write still goes to the stream that was there (the terminal, a pytest capture...) and is also
queued for each capturing run. The queue is only appended to on the printing thread; the
writer thread (:mod:`.writer`) turns it into lines and appends them to the file. A line that
is rewritten with ``\\r`` (progress bars) is kept in its last state only. The file is bounded
(:data:`MAX_BYTES`); past that a note says the output was cut.

Nothing here may raise into the program that prints: a failing sink is switched off.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from typing import Any, TextIO

MAX_BYTES = 10 << 20  # bytes of output.log, then a note and nothing more
MAX_QUEUED = 16 << 20  # characters waiting for the writer thread; more are dropped (counted)
MAX_PARTIAL = 64 << 10  # characters of an unfinished line kept before it is written anyway
FILE_NAME = "output.log"
TRUNCATED_NOTE = "[expbook: output truncated: output.log reached {limit} MB]\n"

_lock = threading.Lock()
_sinks: list[ConsoleLog] = []  # every run capturing now (shared by both tees)
_tees: dict[str, _Tee] = {}  # the tees installed now: "stdout"/"stderr" -> tee


class ConsoleLog:
    """The console of one run: a queue filled by the tees, written to ``path`` by
    :meth:`flush`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: deque[tuple[str, str]] = deque()
        self._queued = 0  # approximate: updated without a lock on purpose
        self.dropped = 0  # characters dropped because the writer fell behind
        self.written = 0  # bytes written to the file
        self.truncated = False
        self.closed = False
        self._partial: dict[str, str] = {}  # per stream: the unfinished line
        self._file: Any = None
        self._flush_lock = threading.Lock()

    # -- the printing thread ---------------------------------------------------------------
    def append(self, stream: str, text: str) -> None:
        if self.truncated or self.closed:
            return
        if self._queued > MAX_QUEUED:
            self.dropped += len(text)
            return
        self._queued += len(text)
        self._queue.append((stream, text))

    # -- the writer thread -----------------------------------------------------------------
    def flush(self, final: bool = False) -> None:
        """Write the queued output (complete lines; every line when ``final``)."""
        with self._flush_lock:
            lines: list[str] = []
            queue = self._queue
            while True:
                try:
                    stream, text = queue.popleft()
                except IndexError:
                    break
                self._queued -= len(text)
                self._feed(stream, text, lines)
            if final:
                for rest in list(self._partial.values()):
                    line = _collapse(rest)
                    if line:
                        lines.append(line + "\n")
                self._partial.clear()
                if self.dropped:
                    lines.append(
                        f"[expbook: {self.dropped:,} characters of output were dropped: "
                        "printed faster than they could be written]\n"
                    )
                    self.dropped = 0
            if lines:
                self._write("".join(lines))
            if final:
                self.closed = True
                self._close_file()

    def _feed(self, stream: str, text: str, lines: list[str]) -> None:
        partial = self._partial.get(stream, "") + text
        if "\n" in partial:
            *done, partial = partial.split("\n")
            lines.extend(_collapse(line) + "\n" for line in done)
        if "\r" in partial:
            # an unfinished line being redrawn: keep its last state only (from its \r on,
            # with any trailing \r, so that what comes next still redraws it)
            i = partial.rfind("\r", 0, len(partial.rstrip("\r")))
            if i > 0:
                partial = partial[i:]
        if len(partial) > MAX_PARTIAL:
            lines.append(_collapse(partial) + "\n")
            partial = ""
        self._partial[stream] = partial

    def _write(self, text: str) -> None:
        if self.truncated:
            return
        data = text.encode("utf-8", "replace")
        room = MAX_BYTES - self.written
        note = b""
        if len(data) > room:
            data = data[: max(0, room)]
            cut = data.rfind(b"\n")
            data = data[: cut + 1] if cut >= 0 else b""
            note = TRUNCATED_NOTE.format(limit=MAX_BYTES >> 20).encode()
            self.truncated = True
        try:
            if self._file is None:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run
            self._file.write(data + note)
            self._file.flush()
            self.written += len(data)
        except OSError:
            self.truncated = True  # a disk that refuses: stop trying, never raise
            self._close_file()

    def _close_file(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass


def _collapse(line: str) -> str:
    """The last state of a line redrawn with ``\\r``: the text after the last ``\\r`` that
    is followed by something (a trailing ``\\r`` or ``\\r\\n`` redraws nothing)."""
    if "\r" not in line:
        return line
    return line.rstrip("\r").rpartition("\r")[2]


class _Tee:
    """A text stream that writes through to ``stream`` and queues the text for the runs
    capturing. Every other attribute is the wrapped stream's."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._expbook_stream = stream
        self._expbook_name = name
        self._expbook_active = True

    def write(self, text: Any) -> int:
        n = self._expbook_stream.write(text)
        if self._expbook_active and text.__class__ is str and text:
            try:
                for sink in _sinks:
                    sink.append(self._expbook_name, text)
            except Exception:  # never break a print
                pass
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._expbook_stream, name)

    def __repr__(self) -> str:
        return f"<expbook tee of {self._expbook_stream!r}>"


def start(path: str) -> ConsoleLog:
    """Capture this process's console into ``path`` until :func:`stop`."""
    sink = ConsoleLog(path)
    with _lock:
        _sinks.append(sink)
        for name in ("stdout", "stderr"):
            if name not in _tees:
                current = getattr(sys, name, None)
                if current is None or not hasattr(current, "write"):
                    continue  # pythonw, a closed stream: nothing to capture
                tee = _tees[name] = _Tee(current, name)
                setattr(sys, name, tee)
    return sink


def stop(sink: ConsoleLog) -> None:
    """Stop capturing into ``sink`` (its last lines are written by ``sink.flush(final=True)``).
    When no run captures any more, the streams are put back, unless something replaced them
    meanwhile: then the tee stays in that chain and only passes text through."""
    with _lock:
        if sink in _sinks:
            _sinks.remove(sink)
        if _sinks:
            return
        for name, tee in list(_tees.items()):
            tee._expbook_active = False
            if getattr(sys, name, None) is tee:
                setattr(sys, name, tee._expbook_stream)
            del _tees[name]


def _after_fork() -> None:
    # a forked child (a data loader worker...) writes nothing of its parent's runs
    _sinks.clear()
    for tee in _tees.values():
        tee._expbook_active = False
    _tees.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def tail(path: str, lines: int = 20, max_bytes: int = 64 << 10) -> list[str]:
    """The last ``lines`` lines of a console file (read from its last ``max_bytes``)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace")
    out = text.splitlines()
    if size > max_bytes and out:
        out = out[1:]  # the first line read is probably cut
    return out[-lines:] if lines else []
