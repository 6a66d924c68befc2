"""BODY / BODYSTRUCTURE (RFC 3501 §7.4.2) from a parsed MIME entity tree.

Conventions (applied consistently): media type, subtype, transfer encoding
and parameter attribute names are upper-cased (as in the RFC 3501 examples);
parameter values, the disposition type and all other strings are sent as
they appear in the message.  Defaults are "TEXT" "PLAIN" ("CHARSET"
"US-ASCII") and "7BIT".  Sizes and line counts are those of the stored
(CRLF) body; lines = number of LFs in the body (as Dovecot counts them; the
CRLF before a MIME boundary belongs to the boundary, not to the part).

The entity only needs: children, message, effective_type(), header(name),
header_params(name), body_start, end, lines.
"""

from __future__ import annotations

from typing import List, Tuple

from pushimapd.storage.envelope import envelope
from pushimapd.wire.serializer import nstring, number, plist, string


def _params(params: List[Tuple[bytes, bytes]]) -> bytes:
    if not params:
        return b"NIL"
    out = []
    for attr, value in params:
        out += [string(attr.upper()), string(value)]
    return plist(out)


def _disposition(ent) -> bytes:
    parsed = ent.header_params("content-disposition")
    if parsed is None or not parsed[0].strip():
        return b"NIL"
    head, params = parsed
    return plist([string(head.strip()), _params(params)])


def _language(ent) -> bytes:
    parsed = ent.header_params("content-language")
    if parsed is None:
        return b"NIL"
    langs = [x.strip() for x in parsed[0].split(b",") if x.strip()]
    if not langs:
        return b"NIL"
    if len(langs) == 1:
        return string(langs[0])
    return plist(string(x) for x in langs)


def _encoding(ent) -> bytes:
    parsed = ent.header_params("content-transfer-encoding")
    value = parsed[0].strip().upper() if parsed else b""
    return string(value or b"7BIT")


def bodystructure(ent, extensible: bool) -> bytes:
    kids = ent.children
    if kids:
        items = [b"".join(bodystructure(k, extensible) for k in kids),
                 string(ent.subtype.upper())]
        if extensible:
            items += [_params(ent.params), _disposition(ent), _language(ent),
                      nstring(ent.header("content-location"))]
        return plist(items)

    ctype, subtype, params = ent.effective_type()
    items = [
        string(ctype.upper()),
        string(subtype.upper()),
        _params(params),
        nstring(ent.header("content-id")),
        nstring(ent.header("content-description")),
        _encoding(ent),
        number(ent.end - ent.body_start),
    ]
    msg = ent.message
    if msg is not None:
        items += [envelope(msg.header), bodystructure(msg, extensible), number(ent.lines)]
    elif ctype == b"text":
        items.append(number(ent.lines))
    if extensible:
        items += [nstring(ent.header("content-md5")), _disposition(ent), _language(ent),
                  nstring(ent.header("content-location"))]
    return plist(items)
