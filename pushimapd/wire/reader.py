"""Sans-IO framing of the client's byte stream into whole commands.

The reader cuts lines, recognises literals (``{n}`` and LITERAL+ ``{n+}``),
checks their size *before* the server answers ``+`` or buffers anything, and
hands out events. It never touches a socket: the Twisted protocol feeds bytes
in and acts on the events (h11's model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Union

_LITERAL_AT_END = re.compile(rb"\{([^{}]*)\}\r?\n\Z")
_LITERAL_LENGTH = re.compile(rb"(\d{1,12})(\+?)\Z")
_TAG = rb"[^\x00-\x20\x7f-\xff(){%*\"\\+]+"
APPEND_TOTAL_FACTOR = 4  # one APPEND's literals together: at most 4 x the APPEND literal limit
_TAG_AND_NAME = re.compile(rb"(" + _TAG + rb") +([A-Za-z-]+)(?: +([A-Za-z-]+))?")


class NeedData:
    """Nothing complete yet; feed more bytes."""


NEED_DATA = NeedData()


@dataclass(frozen=True)
class CommandBytes:
    """A whole command in wire form (lines and literal data), ready to parse."""

    data: bytes


@dataclass(frozen=True)
class Continue:
    """A synchronising literal was accepted: the server must send ``+``."""

    tag: str


@dataclass(frozen=True)
class Rejected:
    """The command cannot be read; answer ``tag`` with ``status`` + ``text``."""

    tag: str
    status: str  # "BAD" or "NO"
    text: str
    fatal: bool = False  # the stream cannot be resynchronised: send BYE, close


@dataclass(frozen=True)
class Line:
    """A raw line, in line mode (IDLE's DONE, AUTHENTICATE responses)."""

    data: bytes


Event = Union[NeedData, CommandBytes, Continue, Rejected, Line]


def guess_tag_and_command(data: bytes) -> tuple[str, str]:
    """The tag and command name of a (partial) command, for errors and limits."""
    m = _TAG_AND_NAME.match(data)
    if not m:
        tag = data.split(b" ", 1)[0]
        valid = b" " in data and re.fullmatch(_TAG, tag)
        return (tag.decode("ascii") if valid else "*"), ""
    name = m.group(2).upper()
    if name == b"UID" and m.group(3):
        name = b"UID " + m.group(3).upper()
    return m.group(1).decode("ascii"), name.decode("ascii")


class CommandReader:
    """Turns a byte stream into command events.

    ``literal_limit(command_name)`` gives the largest literal accepted for a
    command (APPEND gets a large one, everything else a small one).
    """

    def __init__(
        self,
        literal_limit: Callable[[str], int],
        max_line: int = 65536,
        max_command: int = 1 << 20,
        precheck: Optional[Callable[[str, str, bytes], Optional[tuple[str, str]]]] = None,
        oversize: Optional[Callable[[str], Optional[tuple[str, str]]]] = None,
    ):
        # precheck(tag, command, first line) may refuse a command before its
        # first literal is accepted: (status, text), e.g. APPEND to a missing mailbox
        self.precheck = precheck
        # oversize(command) may give the (status, text) refusing a literal
        # over the limit, e.g. NO [METADATA MAXSIZE n] for SETMETADATA
        self.oversize = oversize
        self._buffer = bytearray()
        self._parts: list[bytes] = []  # completed pieces of the current command
        self._command_size = 0
        self._append_size = 0  # literal bytes of the APPEND being read
        self._literal_needed = 0  # bytes of literal data still to come
        self._discard = 0  # bytes of a rejected LITERAL+ still to swallow
        self._skip_line = False  # discarding an over-long line up to its LF
        self._skip_rest = False  # discarding the rest of a command refused mid-way
        self._line_mode = False
        self._pending: list[Event] = []
        self.literal_limit = literal_limit
        self.max_line = max_line
        self.max_command = max_command

    # -- input -------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed."""
        return len(self._buffer)

    def discard_buffered(self) -> int:
        """Drop everything received but not yet consumed (after STARTTLS)."""
        dropped = len(self._buffer)
        self._buffer.clear()
        self._reset_command()
        return dropped

    def take_buffered(self) -> bytes:
        """Hand over everything received but not yet consumed: after COMPRESS
        it belongs to the compressed stream, not to this reader."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def set_line_mode(self, on: bool) -> None:
        """In line mode every line is handed out raw (IDLE, AUTHENTICATE)."""
        self._line_mode = on

    @property
    def in_command(self) -> bool:
        """True while part of a command (e.g. before a literal) was read."""
        return bool(self._parts) or self._literal_needed > 0

    # -- output ------------------------------------------------------------
    def next_event(self) -> Event:
        if self._pending:
            return self._pending.pop(0)
        while True:
            if self._discard:
                take = min(self._discard, len(self._buffer))
                del self._buffer[:take]
                self._discard -= take
                if self._discard:
                    return NEED_DATA
            if self._literal_needed:
                if len(self._buffer) < self._literal_needed:
                    return NEED_DATA
                n = self._literal_needed
                self._parts.append(bytes(self._buffer[:n]))
                del self._buffer[:n]
                self._literal_needed = 0
                continue
            event = self._next_line_event()
            if event is not None:
                return event

    def _next_line_event(self) -> Optional[Event]:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self.max_line:
                if not self._skip_line:
                    tag, _ = guess_tag_and_command(self._first_piece() or bytes(self._buffer[:256]))
                    self._pending.append(Rejected(tag, "BAD", "Line too long"))
                self._skip_line = True
                self._buffer.clear()
                self._reset_command()
                return self._pending.pop(0) if self._pending else NEED_DATA
            return NEED_DATA
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        if self._skip_line:
            self._skip_line = False
            return None
        if self._skip_rest:
            # the remainder of a command whose LITERAL+ literal was refused:
            # swallow it, with any further non-synchronising literals
            m = _LITERAL_AT_END.search(line)
            size = _LITERAL_LENGTH.match(m.group(1)) if m else None
            if size is not None and size.group(2):
                self._discard = int(size.group(1))
                if self._discard > 2 * self.literal_limit("APPEND"):
                    self._skip_rest = False
                    return Rejected("*", "BAD", "Literal too large", fatal=True)
            else:
                self._skip_rest = False
            return None
        if len(line) > self.max_line:
            tag, _ = guess_tag_and_command(self._first_piece() or line)
            self._reset_command()
            return Rejected(tag, "BAD", "Line too long")
        if self._line_mode and not self._parts:
            return Line(line.rstrip(b"\r\n"))
        if not self._parts and not line.strip():
            return None  # blank lines between commands are ignored
        self._command_size += len(line)
        if self._command_size > self.max_command:
            tag, _ = guess_tag_and_command(self._first_piece() or line)
            self._reset_command()
            return Rejected(tag, "BAD", "Command too long")
        m = _LITERAL_AT_END.search(line)
        if m is None:
            self._parts.append(line)
            data = b"".join(self._parts)
            self._reset_command()
            return CommandBytes(data)
        return self._literal_announced(line, m.group(1))

    def _literal_announced(self, line: bytes, spec: bytes) -> Optional[Event]:
        head = self._first_piece() or line
        tag, name = guess_tag_and_command(head)
        m = _LITERAL_LENGTH.match(spec)
        if m is None:
            self._reset_command()
            return Rejected(tag, "BAD", "Invalid literal length")
        size, plus = int(m.group(1)), bool(m.group(2))
        limit = self.literal_limit(name)
        # MULTIAPPEND / CATENATE: all of one APPEND's literals together are bounded too
        too_much = name == "APPEND" and self._append_size + size > APPEND_TOTAL_FACTOR * limit
        if size > limit or too_much:
            self._reset_command()
            status, text = ("NO", "[TOOBIG] Literal too large") if name == "APPEND" else (
                "BAD", "Literal too large for this command")
            if self.oversize is not None:
                status, text = self.oversize(name) or (status, text)
            if plus:
                if size > 2 * max(limit, self.literal_limit("APPEND")):
                    return Rejected(tag, status, text, fatal=True)
                self._discard = size
                self._skip_rest = True
            return Rejected(tag, status, text)
        if not self._parts and self.precheck is not None:
            refusal = self.precheck(tag, name, line)
            if refusal is not None:
                self._reset_command()
                if plus:
                    self._discard = size
                    self._skip_rest = True
                return Rejected(tag, *refusal)
        self._parts.append(line)
        if name != "APPEND":  # APPEND's messages are bounded by their own literal limits
            self._command_size += size
        else:
            self._append_size += size
        if self._command_size > self.max_command:
            self._reset_command()
            if plus:
                self._discard = size
                self._skip_rest = True
            return Rejected(tag, "BAD", "Command too long")
        self._literal_needed = size
        if plus:
            return None
        return Continue(tag)

    def _first_piece(self) -> bytes:
        return self._parts[0] if self._parts else b""

    def _reset_command(self) -> None:
        self._parts = []
        self._command_size = 0
        self._append_size = 0
        self._literal_needed = 0
