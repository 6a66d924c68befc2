"""A strict checker of server responses, for fuzz tests: does this parse as IMAP?

`problem(response)` returns None for a well-formed response (continuation,
tagged or untagged status, numbered data, keyword data) and a short reason
otherwise. Strings must be valid quoted strings or literals whose length
matches, parentheses and brackets must balance, no NUL, no bare CR or LF
inside a line, no 8-bit byte outside literals (but valid UTF-8 in quoted
strings once the session enabled UTF8=ACCEPT or IMAP4rev2: ``utf8=True``),
and status texts must be printable 7-bit text. It knows the tokens, not every response's grammar:
enough to catch a client string echoed raw into a response line.
"""

from __future__ import annotations

import re
from typing import Optional

_STATUS = re.compile(rb"(OK|NO|BAD|BYE|PREAUTH)(?= |\r\n)")
_TAG = re.compile(rb"[\x21-\x7e]+")
_LITERAL = re.compile(rb"~?\{(\d+)\}\r\n")
_TEXT = re.compile(rb"[\x20-\x7e\t]*")
_SECTIONED = {b"BODY", b"BINARY", b"BINARY.SIZE"}
_ATOM_BYTE = frozenset(range(0x21, 0x7F)) - set(b'(){"[]')


class Malformed(Exception):
    pass


def _quoted(data: bytes, pos: int, utf8: bool = False) -> int:
    start = pos
    pos += 1
    while True:
        if pos >= len(data):
            raise Malformed("unterminated quoted string")
        c = data[pos]
        if c == 0x22:
            if utf8:
                try:
                    data[start + 1:pos].decode("utf-8")
                except UnicodeDecodeError:
                    raise Malformed("a quoted string that is not UTF-8") from None
            return pos + 1
        if c == 0x5C:
            if data[pos + 1 : pos + 2] not in (b'"', b"\\"):
                raise Malformed("bad escape in quoted string")
            pos += 2
            continue
        if c in (0x00, 0x0A, 0x0D) or (c > 0x7F and not utf8):
            raise Malformed(f"byte {c:#x} in a quoted string")
        pos += 1


def _tokens(data: bytes, pos: int, closer: Optional[int], utf8: bool = False) -> int:
    """Tokens up to ``closer`` (returns the position after it) or the final CRLF."""
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == 0x20:
            pos += 1
        elif closer is not None and c == closer:
            return pos + 1
        elif c == 0x0D:
            if closer is not None or data[pos:] != b"\r\n":
                raise Malformed("line ends inside a list or bracket" if closer else "bare CR")
            return n
        elif c == 0x28:
            pos = _tokens(data, pos + 1, 0x29, utf8)
        elif c == 0x22:
            pos = _quoted(data, pos, utf8)
        elif c in (0x7B, 0x7E) and _LITERAL.match(data, pos):
            m = _LITERAL.match(data, pos)
            end = m.end() + int(m.group(1))
            if end > n:
                raise Malformed("literal longer than the response")
            if c == 0x7B and b"\x00" in data[m.end():end]:
                raise Malformed("NUL in a literal")
            pos = end
        elif c in _ATOM_BYTE or c == 0x5B:
            start = pos
            while pos < n and data[pos] in _ATOM_BYTE:
                pos += 1
            if pos < n and data[pos] == 0x5B and data[start:pos].upper() in _SECTIONED:
                pos = _tokens(data, pos + 1, 0x5D, utf8)  # BODY[...] / BINARY[...]: a bracketed section
                while pos < n and data[pos] in _ATOM_BYTE:
                    pos += 1  # <origin>
            else:  # "[" is an ATOM-CHAR (RFC 3501) outside section labels, e.g. in keywords
                while pos < n and (data[pos] in _ATOM_BYTE or data[pos] == 0x5B):
                    pos += 1
        else:
            raise Malformed(f"unexpected byte {c:#x} at {pos}")
    raise Malformed("missing CRLF" if closer is None else "unbalanced list or bracket")


def _status_rest(data: bytes, pos: int) -> None:
    """``[code ...] text CRLF`` after a status word."""
    if data[pos:pos + 2] == b"\r\n":
        return
    if data[pos:pos + 1] != b" ":
        raise Malformed("status word not followed by a space")
    pos += 1
    if data[pos:pos + 1] == b"[":
        pos = _tokens(data, pos + 1, 0x5D)
        if data[pos:pos + 2] == b"\r\n":
            return
        if data[pos:pos + 1] != b" ":
            raise Malformed("response code not followed by a space")
        pos += 1
    m = _TEXT.match(data, pos)
    if data[m.end():] != b"\r\n":
        raise Malformed(f"status text has a byte that is not printable 7-bit text: {data[m.end():m.end() + 1]!r}")


def problem(response: bytes, utf8: bool = False) -> Optional[str]:
    """None when ``response`` (one whole response, literals included) is well formed."""
    try:
        if not response.endswith(b"\r\n"):
            raise Malformed("no CRLF at the end")
        if response.startswith(b"+"):
            m = _TEXT.match(response, 1)
            if response[m.end():] != b"\r\n":
                raise Malformed("continuation text is not printable text")
            return None
        if response.startswith(b"* "):
            pos = 2
            m = _STATUS.match(response, pos)
            if m:
                _status_rest(response, m.end())
                return None
            if not re.match(rb"[0-9A-Z]", response[pos:pos + 1]):
                raise Malformed("untagged response does not start with a number or a keyword")
            _tokens(response, pos, None, utf8)
            return None
        m = _TAG.match(response)
        if not m or response[m.end():m.end() + 1] != b" ":
            raise Malformed("no tag")
        s = _STATUS.match(response, m.end() + 1)
        if not s or s.group(1) not in (b"OK", b"NO", b"BAD"):
            raise Malformed("tagged response without OK/NO/BAD")
        _status_rest(response, s.end())
        return None
    except Malformed as e:
        return str(e)
    except IndexError:
        return "truncated"
