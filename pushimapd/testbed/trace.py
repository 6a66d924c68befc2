"""Protocol traces: one per session, as lines ``<timestamp> <direction> <bytes>``.

The timestamp is UTC with milliseconds (``2026-11-29T23:20:24.123Z``), the
direction ``C`` (client), ``S`` (server) or ``*`` (a note: connection,
login, a fault or event firing), and the bytes are one protocol line with
its line end (or the note's text, UTF-8), escaped so a trace line stays one line: ``\\r``, ``\\n``,
``\\t``, ``\\\\`` and ``\\xNN`` for every other byte outside printable
ASCII. A literal over `LITERAL_SHOWN` bytes is replaced by one line
``{N bytes}``. What the client sends before it is logged in is redacted
by the transport (as ``--trace`` does) before it gets here.

`SessionTrace` keeps the last lines in memory (for the console) and, with
``--trace-dir``, writes them to ``<time>-<user>-<peer>-<id>.log``; the user
part is ``-`` until the login, when the file is renamed (and a note written).
"""

from __future__ import annotations

import collections
import datetime
import os
import re
import time
from typing import Callable, Optional

LITERAL_SHOWN = 1024  # literals up to this size are traced in full
MEMORY_LINES = 2000  # lines kept per session for the console
_LITERAL_HEAD = re.compile(rb"~?\{(\d+)\+?\}\r?\n\Z")
_SAFE = {b: chr(b) for b in range(0x20, 0x7F)}
_SAFE.update({0x5C: "\\\\", 0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t"})
_ESCAPES = [_SAFE.get(b, f"\\x{b:02x}") for b in range(256)]
LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([CS*]) (.*)")  # what every trace line matches


def is_literal_head(line: bytes) -> bool:
    """True when the line ends by announcing a literal (``{5}``, ``{5+}``, ``~{5}``)."""
    return _LITERAL_HEAD.search(line) is not None


def escape(data: bytes) -> str:
    return "".join(_ESCAPES[b] for b in data)


def timestamp(now: Optional[float] = None) -> str:
    now = time.time() if now is None else now
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class LineSplitter:
    """Cuts one direction's byte stream into lines; big literals become ``{N bytes}``."""

    def __init__(self, limit: int = LITERAL_SHOWN):
        self.limit = limit
        self.partial = b""
        self.skip = 0  # bytes of a big literal still to come
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        lines = []
        while data:
            if self.skip:
                n = min(self.skip, len(data))
                self.skip -= n
                self.skipped += n
                data = data[n:]
                if not self.skip:
                    lines.append(b"{%d bytes}" % self.skipped)
                continue
            cut = data.find(b"\n")
            if cut < 0:
                self.partial += data
                break
            line, data = self.partial + data[:cut + 1], data[cut + 1:]
            self.partial = b""
            lines.append(line)
            m = _LITERAL_HEAD.search(line)
            if m and int(m.group(1)) > self.limit:
                self.skip, self.skipped = int(m.group(1)), 0
        return lines

    def close(self) -> list[bytes]:
        """What is left when the connection ends (a cut answer, say)."""
        lines = []
        if self.skip:
            lines.append(b"{%d of %d bytes}" % (self.skipped, self.skipped + self.skip))
        elif self.partial:
            lines.append(self.partial)
        self.partial, self.skip = b"", 0
        return lines


def file_name(started: float, user: Optional[str], peer: str, session_id: int) -> str:
    moment = datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
    when = moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"
    safe_peer = re.sub(r"[^A-Za-z0-9._]", "_", peer)
    return f"{when}-{user or '-'}-{safe_peer}-{session_id}.log"


class SessionTrace:
    """One session's trace: memory (for the console) and, optionally, a file."""

    def __init__(self, session_id: int, peer: str, directory: Optional[str] = None,
                 on_line: Callable[[int, str], None] = lambda session_id, line: None):
        self.id = session_id
        self.peer = peer
        self.started = time.time()
        self.lines: collections.deque[str] = collections.deque(maxlen=MEMORY_LINES)
        self.directory = directory
        self.on_line = on_line
        self.user: Optional[str] = None
        self.path: Optional[str] = None
        self._file = None
        self._split = {"C": LineSplitter(), "S": LineSplitter()}
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
            self.path = os.path.join(directory, file_name(self.started, None, peer, session_id))
            self._file = open(self.path, "a", encoding="ascii", errors="backslashreplace")

    def client(self, data: bytes) -> None:
        self._write("C", self._split["C"].feed(data))

    def server(self, data: bytes) -> None:
        self._write("S", self._split["S"].feed(data))

    def note(self, text: str) -> None:
        self._write("*", [text.encode("utf-8", "replace")])

    def logged_in(self, user: str) -> None:
        """The file takes the user's name; a note marks the moment."""
        if self.user is not None:
            return
        self.user = user
        if self.path is not None:
            new_path = os.path.join(self.directory, file_name(self.started, user, self.peer, self.id))
            try:
                os.rename(self.path, new_path)
                self.path = new_path
            except OSError:
                pass
        self.note(f"logged in as {user}")

    def close(self, reason: str = "connection closed") -> None:
        for direction, splitter in self._split.items():
            self._write(direction, splitter.close())
        self.note(reason)
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, direction: str, lines: list[bytes]) -> None:
        if not lines:
            return
        stamp = timestamp()
        out = []
        for raw in lines:
            line = f"{stamp} {direction} {escape(raw)}"
            self.lines.append(line)
            out.append(line)
            self.on_line(self.id, line)
        if self._file is not None:
            try:
                self._file.write("\n".join(out) + "\n")
                self._file.flush()
            except (OSError, ValueError):
                self._file = None
