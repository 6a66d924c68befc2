"""A small raw-socket IMAP client for tests that need to see (or send) exact bytes.

`RawIMAP` sends whatever bytes a test gives it and reads responses whole:
a response that announces literals (``{n}\\r\\n``) is returned together with
its literal data and the rest of its line, exactly as received. Every read
has a deadline (the socket timeout), so a server that stops answering fails
the test instead of hanging it.

`parse` turns response bytes into Python values (lists, bytes, None for NIL)
so tests can look at FETCH data, BODYSTRUCTUREs and response codes without
regular expressions.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

DEFAULT_TIMEOUT = 10.0
_LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n\Z")
_STATUS = re.compile(rb"(\S+) (OK|NO|BAD|PREAUTH|BYE)(?: \[([^\]]*)\])?(?: (.*))?\r\n\Z", re.S)


class ConnectionClosed(AssertionError):
    """The server closed the connection while a response was expected."""


def quote(value) -> bytes:
    """An IMAP quoted string with ``\\`` and ``"`` escaped."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(value, plus: bool = False) -> bytes:
    """``{n}`` (or LITERAL+ ``{n+}``) header followed by the data (no CRLF after)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return b"{%d%s}\r\n" % (len(value), b"+" if plus else b"") + value


def plain_response(user: str, password: str, authzid: str = "") -> bytes:
    """Base64 SASL PLAIN response (RFC 4616)."""
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode())


@dataclass
class Response:
    """Everything the server said for one command."""

    tag: bytes
    untagged: list  # whole responses (bytes, CRLF included), in order
    tagged: bytes

    @property
    def status(self) -> str:
        m = _STATUS.match(self.tagged)
        return m.group(2).decode() if m else ""

    @property
    def code(self) -> Optional[str]:
        m = _STATUS.match(self.tagged)
        return m.group(3).decode("ascii", "replace") if m and m.group(3) is not None else None

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    def lines(self, prefix: bytes) -> list:
        """Untagged responses starting with ``* <prefix>`` (case-insensitive)."""
        want = (b"* " + prefix).upper()
        return [u for u in self.untagged if u.upper().startswith(want)]

    def codes(self) -> list:
        """Response codes of untagged OK/NO/BAD responses (``* OK [code] text``)."""
        out = []
        for u in self.untagged:
            m = re.match(rb"\* (?:OK|NO|BAD) \[([^\]]*)\]", u)
            if m:
                out.append(m.group(1).decode("ascii", "replace"))
        return out

    def code_value(self, name: str) -> Optional[str]:
        """Value of ``[NAME value]`` in the untagged responses or the tagged one."""
        for c in self.codes() + ([self.code] if self.code else []):
            head, _, rest = c.partition(" ")
            if head.upper() == name.upper():
                return rest
        return None

    def numbers(self, kind: bytes) -> dict:
        """``* n KIND`` responses -> {KIND: [n, ...]} in order (EXISTS, RECENT, EXPUNGE)."""
        out = []
        for u in self.untagged:
            m = re.match(rb"\* (\d+) " + kind + rb"\r\n\Z", u, re.I)
            if m:
                out.append(int(m.group(1)))
        return out

    def search(self) -> list:
        """The numbers of the (single) ``* SEARCH`` response."""
        found = self.lines(b"SEARCH")
        assert len(found) == 1, f"expected one * SEARCH response, got {self.untagged!r}"
        rest = found[0][len(b"* SEARCH"):].strip()
        return [int(x) for x in rest.split()] if rest else []

    def fetches(self) -> list:
        """[(seq, {ITEM: value})] of every ``* n FETCH`` response, in order."""
        out = []
        for u in self.untagged:
            if re.match(rb"\* \d+ FETCH ", u, re.I):
                out.append(parse_fetch(u))
        return out

    def fetch_map(self) -> dict:
        """{seq: {ITEM: value}} (items of several responses for one seq merged)."""
        out: dict = {}
        for seq, items in self.fetches():
            out.setdefault(seq, {}).update(items)
        return out


class RawIMAP:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT,
                 read_greeting: bool = True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self._n = 0
        self.greeting = self.read_response() if read_greeting else None

    # -- plumbing --------------------------------------------------------------
    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawIMAP":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed(f"server closed the connection; unread: {self.buf!r}")
        self.buf += chunk

    def read_line(self) -> bytes:
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self) -> bytes:
        """One whole response, literal data included, exactly as received."""
        out = self.read_line()
        while True:
            m = _LITERAL_AT_END.search(out)
            if not m:
                return out
            out += self.read_exact(int(m.group(1)))
            out += self.read_line()

    def is_closed(self, timeout: float = 5.0) -> bool:
        """True when the server closes the connection (EOF) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    # -- commands --------------------------------------------------------------
    def next_tag(self) -> bytes:
        self._n += 1
        return b"t%d" % self._n

    def read_until_tagged(self, tag: bytes) -> Response:
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tag + b" "):
                return Response(tag, untagged, r)
            untagged.append(r)

    def command(self, text, tag: Optional[bytes] = None) -> Response:
        """Send ``tag text CRLF`` (text may hold LITERAL+ literals) and read the answer."""
        tag = tag or self.next_tag()
        data = text.encode() if isinstance(text, str) else text
        self.send(tag + b" " + data + b"\r\n")
        return self.read_until_tagged(tag)

    def command_with_literals(self, pieces: Iterable, tag: Optional[bytes] = None) -> Response:
        """A command with synchronising literals: ``pieces`` alternate text and literal data.

        ``["LOGIN demo ", b"secret"]`` sends ``tag LOGIN demo {6}``, waits for
        ``+``, then sends the data. Text pieces are sent as they are.
        """
        tag = tag or self.next_tag()
        pending = tag + b" "
        pieces = list(pieces)
        for i, piece in enumerate(pieces):
            piece = piece.encode() if isinstance(piece, str) else piece
            if i % 2 == 0:
                pending += piece
            else:
                self.send(pending + b"{%d}\r\n" % len(piece))
                cont = self.read_response()
                assert cont.startswith(b"+"), f"expected a continuation, got {cont!r}"
                pending = piece
        self.send(pending + b"\r\n")
        return self.read_until_tagged(tag)

    def ok(self, text, tag: Optional[bytes] = None) -> Response:
        r = self.command(text, tag)
        assert r.ok, f"{text!r} failed: {r.tagged!r} (untagged {r.untagged!r})"
        return r

    def login(self, user: str = "demo", password: str = "demo") -> Response:
        return self.ok(b"LOGIN " + quote(user) + b" " + quote(password))

    def select(self, mailbox: str = "INBOX", examine: bool = False) -> Response:
        return self.ok((b"EXAMINE " if examine else b"SELECT ") + quote(mailbox))

    def append(self, mailbox: str, message: bytes, flags: str = "", date: str = "") -> Response:
        """APPEND with a LITERAL+ literal; returns the response (asserted OK)."""
        parts = b"APPEND " + quote(mailbox)
        if flags is not None and flags != "":
            parts += b" (" + flags.encode() + b")"
        if date:
            parts += b' "' + date.encode() + b'"'
        return self.ok(parts + b" " + literal(message, plus=True))

    def wait_for(self, predicate: Callable[[bytes], bool], timeout: float = 10.0) -> list:
        """Read responses until one satisfies ``predicate``; returns all read.

        Raises AssertionError when ``timeout`` passes first.
        """
        seen = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting; got {seen!r}")
                self.sock.settimeout(left)
                try:
                    r = self.read_response()
                except (socket.timeout, TimeoutError):
                    raise AssertionError(f"timed out waiting; got {seen!r}") from None
                seen.append(r)
                if predicate(r):
                    return seen
        finally:
            self.sock.settimeout(self.timeout)


# -- parsing -------------------------------------------------------------------
class Atom(bytes):
    """An atom (or number, or flag) as opposed to a string; compares like bytes."""


_ATOM_STOP = b" ()\"{\r\n"


def _parse_list(data: bytes, pos: int, end_char: Optional[int]) -> tuple:
    items = []
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == 0x20:
            pos += 1
            continue
        if end_char is not None and c == end_char:
            return items, pos + 1
        if c in (0x0D, 0x0A):
            break
        if c == 0x28:  # (
            sub, pos = _parse_list(data, pos + 1, 0x29)
            items.append(sub)
        elif c == 0x22:  # quoted string
            out = bytearray()
            pos += 1
            while data[pos] != 0x22:
                if data[pos] == 0x5C:
                    pos += 1
                out.append(data[pos])
                pos += 1
            items.append(bytes(out))
            pos += 1
        elif c == 0x7B or (c == 0x7E and data[pos + 1:pos + 2] == b"{"):  # literal, literal8 ~{n}
            if c == 0x7E:
                pos += 1
            close = data.index(b"}", pos)
            size = int(data[pos + 1:close].rstrip(b"+"))
            start = data.index(b"\n", close) + 1
            items.append(data[start:start + size])
            pos = start + size
        else:
            start = pos
            while pos < n and data[pos] not in _ATOM_STOP:
                if data[pos] == 0x5B:  # [ ... ] may hold spaces and parentheses
                    pos = data.index(b"]", pos)
                pos += 1
            word = data[start:pos]
            items.append(None if word.upper() == b"NIL" else Atom(word))
    if end_char is not None:
        raise ValueError(f"unbalanced parentheses in {data!r}")
    return items, pos


def parse(data: bytes) -> list:
    """Response bytes -> list of values: Atom, bytes (strings), None (NIL), lists."""
    items, _ = _parse_list(data, 0, None)
    return items


def parse_fetch(response: bytes) -> tuple:
    """``* 3 FETCH (UID 7 FLAGS (\\Seen))`` -> (3, {"UID": Atom(b"7"), "FLAGS": [...]})."""
    values = parse(response)
    assert values[0] == b"*" and values[2].upper() == b"FETCH", response
    attrs = values[3]
    assert len(attrs) % 2 == 0, f"odd FETCH attribute list in {response!r}"
    out = {}
    for i in range(0, len(attrs), 2):
        out[attrs[i].decode("ascii").upper()] = attrs[i + 1]
    return int(values[1]), out


def apply_expunges(model: list, responses: Iterable[bytes]) -> list:
    """Apply ``* n EXPUNGE`` responses to a client-side list of UIDs (in order)."""
    model = list(model)
    for r in responses:
        m = re.match(rb"\* (\d+) EXPUNGE\r\n\Z", r, re.I)
        if m:
            del model[int(m.group(1)) - 1]
    return model
