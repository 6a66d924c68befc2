"""Response values -> bytes.

Every string the server sends goes through `astring`/`string`/`nstring`, which
choose the quoted form when RFC 3501 allows it and a literal otherwise (8-bit
bytes, CR/LF, NUL, or very long values), so raw header bytes can never break a
response.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence, Union

_QUOTABLE = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*\Z")
_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\\[\]]+\Z")  # "[" is legal, but quoted is kinder
_MAX_QUOTED = 1024

Value = Union[bytes, str, int, None, "Raw", Sequence["Value"]]


class Raw(bytes):
    """Bytes that are already in wire form and must be sent as they are."""


def to_bytes(value: Union[str, bytes]) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)


def literal(value: bytes) -> bytes:
    """NUL is not allowed in IMAP4rev1 literals; it goes out as 0x80 (as Dovecot does)."""
    if b"\x00" in value:
        value = value.replace(b"\x00", b"\x80")
    return b"{%d}\r\n" % len(value) + value


def literal8(value: bytes) -> bytes:
    """RFC 3516 ``~{n}``: binary data, NUL included, sent as it is."""
    return b"~{%d}\r\n" % len(value) + value


def binary(value: bytes) -> bytes:
    """FETCH BINARY data: a literal8 only when it holds NUL (RFC 3516 4.3)."""
    if not value:
        return b'""'
    return literal8(value) if b"\x00" in value else b"{%d}\r\n" % len(value) + value


def string(value: Union[str, bytes]) -> bytes:
    """A quoted string when allowed, else a literal."""
    value = to_bytes(value)
    if len(value) <= _MAX_QUOTED and _QUOTABLE.match(value):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(value)


_QUOTABLE_UTF8 = re.compile(rb"[^\x00\r\n]*\Z")


def utf8_string(value: Union[str, bytes]) -> bytes:
    """A quoted string that may hold UTF-8 (RFC 6855 / RFC 9051 after ENABLE),
    else a literal."""
    value = to_bytes(value)
    if len(value) <= _MAX_QUOTED and _QUOTABLE_UTF8.match(value):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return literal(value)
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(value)


def nstring(value: Union[str, bytes, None]) -> bytes:
    return b"NIL" if value is None else string(value)


def astring(value: Union[str, bytes]) -> bytes:
    """An atom when the value is a valid atom (and not NIL), else a string."""
    value = to_bytes(value)
    if value and _ATOM.match(value) and value.upper() != b"NIL":
        return value
    return string(value)


def plist(items: Iterable[bytes]) -> bytes:
    """A parenthesised list of already-serialised items."""
    return b"(" + b" ".join(items) + b")"


def number(value: int) -> bytes:
    return b"%d" % value


def number_set(numbers: Iterable[int]) -> bytes:
    """Ascending numbers as a sequence set: 1,2,3,7 -> ``1:3,7`` (runs folded)."""
    out = []
    start = prev = None
    for n in numbers:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(b"%d:%d" % (start, prev) if start != prev else b"%d" % start)
        start = prev = n
    if start is not None:
        out.append(b"%d:%d" % (start, prev) if start != prev else b"%d" % start)
    return b",".join(out)


def flag_list(flags: Iterable[str]) -> bytes:
    return plist(f.encode("ascii") for f in flags)
