"""FETCH BINARY[part]<partial>, BINARY.PEEK and BINARY.SIZE (RFC 3516).

FETCH calls `render_binary` for these items; the part's content comes back
with its Content-Transfer-Encoding (base64, quoted-printable) undone, as a
literal8 ``~{n}`` when it holds NUL. An encoding we cannot undo raises
`UnknownTransferEncoding`, which FETCH answers ``NO [UNKNOWN-CTE]``.
APPEND's literal8 message (``~{n}``) is read by the reader and parser.
"""

from __future__ import annotations

from ..storage.mime import UnknownTransferEncoding  # noqa: F401  (re-exported for FETCH)
from ..wire import serializer as ser
from ..wire.grammar import FetchItem


def is_binary_item(item: FetchItem) -> bool:
    return item.name in ("BINARY", "BINARY.SIZE")


def _label(item: FetchItem) -> bytes:
    return item.name.encode() + b"[" + ".".join(str(p) for p in item.section.part).encode() + b"]"


def render_binary(msg, item: FetchItem) -> bytes:
    """``BINARY[1.2]<0> ~{n}...`` or ``BINARY.SIZE[1.2] n`` of a parsed message."""
    data = msg.binary_section(item.section.part)
    label = _label(item)
    if item.name == "BINARY.SIZE":
        return label + b" %d" % (len(data) if data is not None else 0)
    if data is None:
        return label + b" NIL"
    if item.partial is not None:
        origin, count = item.partial
        data = data[origin: origin + count]
        label += b"<%d>" % origin
    return label + b" " + ser.binary(data)
