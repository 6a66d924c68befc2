"""ENVELOPE and BODY / BODYSTRUCTURE (RFC 3501 §7.4.2) of a parsed message.

The wire rendering of a store's `storage.mime.ParsedMessage` (the store
parses; this protocol side renders). ENVELOPE addresses come from
`storage.addresses`; display names are sent as they appear in the header
(RFC 2047 encoded-words are not decoded), as Dovecot does.

BODYSTRUCTURE conventions (applied consistently): media type, subtype, transfer encoding

Conventions (applied consistently): media type, subtype, transfer encoding
and parameter attribute names are upper-cased (as in the RFC 3501 examples);
parameter values, the disposition type and all other strings are sent as
they appear in the message.  Defaults are "TEXT" "PLAIN" ("CHARSET"
"US-ASCII") and "7BIT".  Sizes and line counts are those of the stored
(CRLF) body; lines = number of LFs in the body (as Dovecot counts them; the
CRLF before a MIME boundary belongs to the boundary, not to the part).

RFC 2231 parameters (``name*0``, ``name*1*``, ``name*``) are joined as
Dovecot does: continuations concatenated, a plain value as ``NAME``, an
encoded one as ``NAME*`` still in its ``charset'language'%XX`` form. For an
IMAP4rev2 session (``utf8``) an encoded value is also decoded to UTF-8, as
RFC 9051 7.5.2 asks.

An entity only needs: children, message, effective_type(), header(name),
header_params(name), body_start, end, lines.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Callable, List, Optional, Tuple

from ..storage.addresses import Address, parse_addresses
from ..wire.serializer import nstring, number, plist, string

_SECTION = re.compile(rb"(.+?)\*(?:(\d{1,3})(\*)?)?\Z")  # name*N, name*N*, name*
_MAX_SECTIONS = 100  # more continuations than any mailer writes: passed through as they are


def join_rfc2231(params: List[Tuple[bytes, bytes]], utf8: bool = False) -> List[Tuple[bytes, bytes]]:
    """Parameters with RFC 2231 continuations joined (see the module text);
    each joined parameter takes the place of its first piece."""
    groups: dict = {}
    for i, (attr, value) in enumerate(params):
        m = _SECTION.match(attr)
        if m is None:
            continue
        number_ = m.group(2)
        section = 0 if number_ is None else int(number_)
        encoded = number_ is None or m.group(3) is not None
        groups.setdefault(m.group(1).lower(), []).append((section, i, encoded, value))
    if not groups:
        return params
    out, placed = [], set()
    first_of = {}
    for name, pieces in groups.items():
        sections = [p[0] for p in pieces]
        if len(pieces) > _MAX_SECTIONS or len(set(sections)) != len(sections):
            continue
        first_of[min(p[1] for p in pieces)] = (name, sorted(pieces))
        placed.update(p[1] for p in pieces)
    for i, (attr, value) in enumerate(params):
        if i in first_of:
            name, pieces = first_of[i]
            out.append(_joined(params[pieces[0][1]][0][:len(name)], pieces, utf8))
        elif i not in placed:
            out.append((attr, value))
    return out


def _joined(name: bytes, pieces, utf8: bool) -> Tuple[bytes, bytes]:
    if not any(encoded for _, _, encoded, _ in pieces):
        return name, b"".join(value for *_, value in pieces)
    if not utf8:  # encoded pieces as they are, plain ones percent-encoded to match
        head = b"" if pieces[0][2] else b"''"
        return name + b"*", head + b"".join(
            value if encoded else _quote(value) for _, _, encoded, value in pieces)
    charset, raw = b"us-ascii", b""
    for n, (_, _, encoded, value) in enumerate(pieces):
        if encoded and n == 0 and value.count(b"'") >= 2:
            charset, _language, value = value.split(b"'", 2)
        raw += urllib.parse.unquote_to_bytes(value) if encoded else value
    try:
        text = raw.decode(charset.decode("ascii", "replace") or "us-ascii")
    except (LookupError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace")
    return name + b"*", text.encode("utf-8")


def _quote(value: bytes) -> bytes:
    return urllib.parse.quote_from_bytes(value, safe="!#$&+-.^_`|~").encode("ascii")


def _params(params: List[Tuple[bytes, bytes]], utf8: bool = False) -> bytes:
    if not params:
        return b"NIL"
    out = []
    for attr, value in join_rfc2231(params, utf8):
        out += [string(attr.upper()), string(value)]
    return plist(out)


def _disposition(ent, utf8: bool) -> bytes:
    parsed = ent.header_params("content-disposition")
    if parsed is None or not parsed[0].strip():
        return b"NIL"
    head, params = parsed
    return plist([string(head.strip()), _params(params, utf8)])


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


def envelope(msg) -> bytes:
    """ENVELOPE of a `ParsedMessage`."""
    return envelope_of(msg.root.header)


def bodystructure(msg, extensible: bool, utf8: bool = False) -> bytes:
    """BODYSTRUCTURE (``extensible``) or BODY of a `ParsedMessage`; ``utf8``:
    RFC 2231 values decoded (IMAP4rev2 sessions)."""
    return bodystructure_of(msg.root, extensible, utf8)


def bodystructure_of(ent, extensible: bool, utf8: bool = False) -> bytes:
    kids = ent.children
    if kids:
        items = [b"".join(bodystructure_of(k, extensible, utf8) for k in kids),
                 string(ent.subtype.upper())]
        if extensible:
            items += [_params(ent.params, utf8), _disposition(ent, utf8), _language(ent),
                      nstring(ent.header("content-location"))]
        return plist(items)

    ctype, subtype, params = ent.effective_type()
    items = [
        string(ctype.upper()),
        string(subtype.upper()),
        _params(params, utf8),
        nstring(ent.header("content-id")),
        nstring(ent.header("content-description")),
        _encoding(ent),
        number(ent.end - ent.body_start),
    ]
    msg = ent.message
    if msg is not None:
        items += [envelope_of(msg.header), bodystructure_of(msg, extensible, utf8), number(ent.lines)]
    elif ctype == b"text":
        items.append(number(ent.lines))
    if extensible:
        items += [nstring(ent.header("content-md5")), _disposition(ent, utf8), _language(ent),
                  nstring(ent.header("content-location"))]
    return plist(items)


def address_list(addrs: List[Address]) -> bytes:
    if not addrs:
        return b"NIL"
    return b"(" + b"".join(plist(nstring(f) for f in a) for a in addrs) + b")"


def envelope_of(get: Callable[[str], Optional[bytes]]) -> bytes:
    """ENVELOPE of an entity's header; `get(name)` returns the first raw unfolded value."""
    frm = parse_addresses(get("from"))
    sender = parse_addresses(get("sender")) or frm
    reply_to = parse_addresses(get("reply-to")) or frm
    return plist([
        nstring(get("date")),
        nstring(get("subject")),
        address_list(frm),
        address_list(sender),
        address_list(reply_to),
        address_list(parse_addresses(get("to"))),
        address_list(parse_addresses(get("cc"))),
        address_list(parse_addresses(get("bcc"))),
        nstring(get("in-reply-to")),
        nstring(get("message-id")),
    ])
