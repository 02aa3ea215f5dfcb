"""Console capture: what a run's process prints, kept in ``<run dir>/output.log``.

``sys.stdout`` and ``sys.stderr`` are wrapped by a :class:`_Tee` at the Python level: every
write still goes to the stream that was there (the terminal, a pytest capture...) and is also
queued (one append to a deque: a print costs little more). The writer thread (:mod:`.writer`)
hands the queue to every capturing run, which turns it into lines appended to its file. A line that
is rewritten with ``\\r`` (progress bars) is kept in its last state only. The file is bounded
(:data:`MAX_BYTES`); past that a note says the output was cut.

Nothing here may raise into the program that prints: a file that cannot be written stops
being written.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from typing import Any, TextIO

MAX_BYTES = 10 << 20  # bytes of output.log, then a note and nothing more
MAX_PARTIAL = 64 << 10  # characters of an unfinished line kept before it is written anyway
FILE_NAME = "output.log"
TRUNCATED_NOTE = "[expbook: output truncated: output.log reached {limit} MB]\n"

MAX_QUEUED = 1_000_000  # writes waiting for the writer thread; more are dropped (counted)

_lock = threading.Lock()
_sinks: list[ConsoleLog] = []  # every run capturing now (shared by both tees)
_tees: dict[str, _Tee] = {}  # the tees installed now: "stdout"/"stderr" -> tee
# what the tees took, for every sink: (stream name, text); only appended to by the printing
# threads (deque.append is atomic), emptied by pump()
_queue: deque[tuple[str, str]] = deque()
_append = _queue.append
_dropped = [0]


def pump() -> None:
    """Hand what was printed since the last call to every capturing run (writer thread)."""
    with _lock:
        _pump_locked()


def _pump_locked() -> None:
    queue = _queue
    if not queue:
        return
    # consecutive writes to one stream are joined first: a print is several writes
    segments: list[tuple[str, str]] = []
    parts: list[str] = []
    current = ""
    while True:
        try:
            stream, text = queue.popleft()
        except IndexError:
            break
        if stream != current and parts:
            segments.append((current, "".join(parts)))
            parts = []
        current = stream
        parts.append(text)
    if parts:
        segments.append((current, "".join(parts)))
    dropped, _dropped[0] = _dropped[0], 0
    for sink in _sinks:
        sink._take(segments, dropped)


class ConsoleLog:
    """The console of one run: what the tees took, as lines, appended to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.dropped = 0  # writes dropped because the writer thread fell behind
        self.written = 0  # bytes written to the file
        self.truncated = False
        self.closed = False
        self._partial: dict[str, str] = {}  # per stream: the unfinished line
        self._lines: list[str] = []  # complete lines not written yet
        self._file: Any = None

    def _take(self, segments: list[tuple[str, str]], dropped: int) -> None:
        """Called by :func:`pump` (under its lock)."""
        if self.truncated or self.closed:
            return
        self.dropped += dropped
        for stream, text in segments:
            self._feed(stream, text, self._lines)

    def flush(self, final: bool = False) -> None:
        """Write the complete lines printed so far (every line when ``final``)."""
        with _lock:
            _pump_locked()
            lines, self._lines = self._lines, []
            if final:
                for rest in list(self._partial.values()):
                    line = _collapse(rest)
                    if line:
                        lines.append(line + "\n")
                self._partial.clear()
                if self.dropped:
                    lines.append(
                        f"[expbook: {self.dropped:,} writes to the console were not kept: "
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
        self._expbook_write = stream.write

    def write(self, text: Any) -> int:
        n = self._expbook_write(text)
        if self._expbook_active and text.__class__ is str:
            if len(_queue) < MAX_QUEUED:
                _append((self._expbook_name, text))
            else:
                _dropped[0] += 1
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
        _pump_locked()  # what was printed before this run started is not its output
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
        _pump_locked()  # the sink keeps what was printed up to now
        if sink in _sinks:
            _sinks.remove(sink)
        if _sinks:
            return
        _queue.clear()
        for name, tee in list(_tees.items()):
            tee._expbook_active = False
            if getattr(sys, name, None) is tee:
                setattr(sys, name, tee._expbook_stream)
            del _tees[name]


def _after_fork() -> None:
    # a forked child (a data loader worker...) writes nothing of its parent's runs
    _sinks.clear()
    _queue.clear()
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
