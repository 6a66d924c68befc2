"""IMAP modified UTF-7 (RFC 3501 §5.1.3) for mailbox names."""

from __future__ import annotations

import base64
import re

_PRINTABLE = re.compile(r"[\x20-\x7e]")
_ENCODED = re.compile(rb"&([^-]*)-")


def encode(name: str) -> bytes:
    """Unicode mailbox name -> modified UTF-7 bytes."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.extend(b"&" + base64.b64encode(raw).rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for ch in name:
        if _PRINTABLE.match(ch):
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)


def decode(raw: bytes) -> str:
    """Modified UTF-7 bytes -> unicode; raises ValueError when malformed."""
    if any(b < 0x20 or b > 0x7E for b in raw):
        raise ValueError("mailbox names must be 7-bit (modified UTF-7)")
    out = []
    pos = 0
    while pos < len(raw):
        amp = raw.find(b"&", pos)
        if amp < 0:
            out.append(raw[pos:].decode("ascii"))
            break
        out.append(raw[pos:amp].decode("ascii"))
        end = raw.find(b"-", amp)
        if end < 0:
            raise ValueError("unterminated modified UTF-7 sequence")
        chunk = raw[amp + 1 : end]
        if not chunk:
            out.append("&")
        else:
            if not re.fullmatch(rb"[A-Za-z0-9+,]+", chunk):
                raise ValueError("invalid modified UTF-7 sequence")
            padded = chunk.replace(b",", b"/") + b"=" * (-len(chunk) % 4)
            try:
                text = base64.b64decode(padded, validate=True).decode("utf-16-be")
            except Exception:
                raise ValueError("invalid modified UTF-7 sequence") from None
            if any(_PRINTABLE.match(c) for c in text):
                raise ValueError("printable characters must not be encoded")
            out.append(text)
        pos = end + 1
    result = "".join(out)
    if encode(result) != raw:
        raise ValueError("non-canonical modified UTF-7")
    return result
