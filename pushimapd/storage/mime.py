"""MIME structure of a stored message, for FETCH and SEARCH.

The message is split into entities by byte offsets into the original
(CRLF-normalised) bytes, so every BODY[section] is an exact slice of what was
stored; nothing is ever re-serialised.  Parsing is lenient and never raises:
a header without a terminating blank line ends at the first line that is not
a header field (or at the end of the entity), a multipart without a boundary
parameter or without any delimiter line is treated as text/plain, and a
missing close delimiter makes the last part run to the end of the multipart.

Section addressing follows RFC 3501 §6.4.5:
  part == ()  -> the message itself (HEADER, TEXT, HEADER.FIELDS[.NOT]; no MIME)
  part n      -> child n of a multipart; 1 of a non-multipart message is its body
  a message/rfc822 part is stepped into when more part numbers follow, and
  HEADER/TEXT/HEADER.FIELDS on it apply to the encapsulated message.
"""

from __future__ import annotations

import binascii
import datetime
import re
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Iterable, List, Optional, Tuple, Union

__all__ = ["normalize_crlf", "ParsedMessage", "decode_rfc2047", "UnknownTransferEncoding"]

MAX_DEPTH = 64  # deeper nesting is treated as opaque text

Params = List[Tuple[bytes, bytes]]
_Field = Tuple[str, int, int, int]  # (lower-case name, start, end, value start)

_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e\x80-\xff]+[ \t]*:")
_TOKEN = rb"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"
_CTYPE = re.compile(rb"\s*(" + _TOKEN + rb")\s*/\s*(" + _TOKEN + rb")")
_NEWLINES = re.compile(rb"\r?\n")
_DEFAULT_TEXT: Tuple[bytes, bytes, Params] = (b"text", b"plain", [(b"CHARSET", b"US-ASCII")])
_DEFAULT_DIGEST: Tuple[bytes, bytes, Params] = (b"message", b"rfc822", [])


def normalize_crlf(raw: bytes) -> bytes:
    """Every line ending -> CRLF (bare LF and CRLF mixes); idempotent.

    A lone CR that is not followed by LF is left alone (as Dovecot does).
    """
    raw = bytes(raw)
    if b"\n" not in raw:
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# ---------------------------------------------------------------- headers

def _parse_header(raw: bytes, start: int, end: int) -> Tuple[List[_Field], int]:
    """Split raw[start:end] into header fields; return (fields, body start)."""
    fields: List[_Field] = []
    pos = start
    while pos < end:
        nl = raw.find(b"\n", pos, end)
        le = end if nl < 0 else nl + 1
        if le - pos <= 2 and raw[pos:le] in (b"\r\n", b"\n"):
            return fields, le  # the blank line belongs to the header
        if raw[pos] in (0x20, 0x09):
            if fields:
                key, s, _, col = fields[-1]
                fields[-1] = (key, s, le, col)
            else:  # continuation with nothing to continue: keep as nameless line
                fields.append(("", pos, le, pos))
        else:
            m = _FIELD_NAME.match(raw, pos, le)
            if m is None and pos == start and raw.startswith(b"From ", pos):
                fields.append(("", pos, le, pos))  # mbox "From " line: keep in header
                pos = le
                continue
            if m is None:
                return fields, pos  # no blank line: body starts here
            name = raw[pos:m.end() - 1].rstrip(b" \t")
            fields.append((name.decode("utf-8", "surrogateescape").lower(), pos, le, m.end()))
        pos = le
    return fields, end


def _unfold(value: bytes) -> bytes:
    return _NEWLINES.sub(b"", value).strip(b" \t\r\n")


def split_params(value: bytes) -> Tuple[bytes, Params]:
    """`head; attr=value; ...` -> (head, [(attr, value)]), comments removed.

    Quoted values are unquoted; RFC 2231 `attr*0*` style parameters are
    passed through as they are.
    """
    segs: List[bytes] = []
    cur = bytearray()
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == 0x22:  # quoted string: copy verbatim, quotes included
            j = i + 1
            while j < n and value[j] != 0x22:
                j += 2 if value[j] == 0x5C else 1
            cur += value[i:j + 1]
            i = j + 1
        elif c == 0x28:  # comment: drop
            depth, j = 0, i
            while j < n:
                if value[j] == 0x5C:
                    j += 2
                    continue
                if value[j] == 0x28:
                    depth += 1
                elif value[j] == 0x29:
                    depth -= 1
                    if depth == 0:
                        j += 1
                        break
                j += 1
            cur += b" "
            i = j
        elif c == 0x3B:
            segs.append(bytes(cur))
            cur = bytearray()
            i += 1
        else:
            cur.append(c)
            i += 1
    segs.append(bytes(cur))
    params: Params = []
    for seg in segs[1:]:
        attr, eq, val = seg.partition(b"=")
        attr = attr.strip()
        if eq and attr:
            params.append((attr, _unquote(val.strip())))
    return segs[0].strip(), params


def _unquote(v: bytes) -> bytes:
    if v[:1] != b'"':
        return v
    out = bytearray()
    i = 1
    while i < len(v):
        c = v[i]
        if c == 0x5C and i + 1 < len(v):
            out.append(v[i + 1])
            i += 2
            continue
        if c == 0x22:
            break
        out.append(c)
        i += 1
    return bytes(out)


# ---------------------------------------------------------------- entities

def _split_multipart(raw: bytes, start: int, end: int, boundary: bytes) -> List[Tuple[int, int]]:
    """Byte ranges of the parts between delimiter lines in raw[start:end]."""
    pat = re.compile(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$", re.M)
    parts: List[Tuple[int, int]] = []
    cur: Optional[int] = None  # content start of the part being collected
    for m in pat.finditer(raw, start, end):
        ls = m.start()
        if cur is not None:
            ce = ls  # the line break before the delimiter belongs to it
            if ce - 2 >= cur and raw[ce - 2:ce] == b"\r\n":
                ce -= 2
            elif ce - 1 >= cur and raw[ce - 1:ce] == b"\n":
                ce -= 1
            parts.append((cur, ce))
        if m.group(1):
            return parts
        nl = raw.find(b"\n", m.end(), end)
        cur = end if nl < 0 else nl + 1
    if cur is not None and (cur < end or not parts):
        parts.append((cur, end))  # missing close delimiter
    return parts


class _Entity:
    """One MIME entity: raw[start:body_start] is its header, raw[body_start:end] its body."""

    def __init__(self, raw: bytes, start: int, end: int, depth: int = 0,
                 default: Tuple[bytes, bytes, Params] = _DEFAULT_TEXT) -> None:
        self.raw, self.start, self.end, self.depth = raw, start, end, depth
        self.fields, self.body_start = _parse_header(raw, start, end)
        ctype = self.header_params("content-type")
        m = _CTYPE.match(ctype[0]) if ctype else None
        if m:
            self.type, self.subtype, self.params = m.group(1).lower(), m.group(2).lower(), ctype[1]
        else:
            self.type, self.subtype, self.params = default
        if self.type == b"text" and self.param(b"charset") is None:
            self.params = self.params + [(b"CHARSET", b"US-ASCII")]  # RFC 2045 default

    def header(self, name: str) -> Optional[bytes]:
        """First value of a header field, unfolded and trimmed."""
        for key, _, end, col in self.fields:
            if key == name:
                return _unfold(self.raw[col:end])
        return None

    def header_params(self, name: str) -> Optional[Tuple[bytes, Params]]:
        value = self.header(name)
        return None if value is None else split_params(value)

    def param(self, name: bytes) -> Optional[bytes]:
        for attr, value in self.params:
            if attr.lower() == name:
                return value
        return None

    @cached_property
    def children(self) -> List["_Entity"]:
        if self.type != b"multipart" or self.depth >= MAX_DEPTH:
            return []
        boundary = self.param(b"boundary")
        if not boundary:
            return []
        default = _DEFAULT_DIGEST if self.subtype == b"digest" else _DEFAULT_TEXT
        return [_Entity(self.raw, s, e, self.depth + 1, default)
                for s, e in _split_multipart(self.raw, self.body_start, self.end, boundary)]

    @cached_property
    def message(self) -> Optional["_Entity"]:
        """The encapsulated message of a message/rfc822 entity."""
        if self.type == b"message" and self.subtype == b"rfc822" and self.depth < MAX_DEPTH:
            return _Entity(self.raw, self.body_start, self.end, self.depth + 1)
        return None

    @property
    def lines(self) -> int:
        return self.raw.count(b"\n", self.body_start, self.end)

    def effective_type(self) -> Tuple[bytes, bytes, Params]:
        if self.type == b"multipart" and not self.children:
            return _DEFAULT_TEXT  # unusable multipart degrades to text/plain
        if self.type == b"message" and self.subtype == b"rfc822" and self.message is None:
            return b"application", b"octet-stream", self.params  # nesting too deep
        return self.type, self.subtype, self.params

    def fields_subset(self, names: Iterable[Union[str, bytes]], negate: bool) -> bytes:
        want = {(n.decode("utf-8", "surrogateescape") if isinstance(n, bytes) else n).lower()
                for n in names}
        out = []
        for key, start, end, _ in self.fields:
            if (key in want) != negate:
                line = self.raw[start:end]
                out.append(line if line.endswith(b"\n") else line + b"\r\n")
        out.append(b"\r\n")
        return b"".join(out)


def _resolve(root: _Entity, part: Tuple[int, ...]) -> Optional[_Entity]:
    node, is_message = root, True
    for n in part:
        if not isinstance(n, int) or n < 1:
            return None
        if not is_message and node.message is not None:
            node, is_message = node.message, True  # step into message/rfc822
        kids = node.children
        if kids:
            if n > len(kids):
                return None
            node = kids[n - 1]
        elif not (is_message and n == 1):
            return None
        is_message = False
    return node


# ---------------------------------------------------------------- decoding

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")


def _b64decode(data: bytes) -> bytes:
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""


def _to_text(data: bytes, charset: Optional[Union[str, bytes]]) -> str:
    if isinstance(charset, bytes):
        charset = charset.decode("ascii", "replace")
    name = (charset or "").split("*", 1)[0].strip().lower()
    if name in ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        name = "utf-8"  # undeclared 8-bit is most likely UTF-8
    try:
        return data.decode(name, "replace")
    except Exception:  # unknown charset, or a codec that is not a text encoding
        return data.decode("utf-8", "replace")


def decode_rfc2047(value: str) -> str:
    """Decode RFC 2047 encoded-words; white space between adjacent ones is dropped.

    Adjacent words in the same charset are joined before decoding so that
    multi-byte characters split across words survive.  (email.header's
    decode_header is not used because it mangles non-ASCII text that sits
    next to encoded-words.)
    """
    if "=?" not in value:
        return value
    out: List[str] = []
    pending: Optional[Tuple[str, bytearray]] = None
    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        if pending is None or gap.strip(" \t\r\n"):
            if pending is not None:
                out.append(_to_text(bytes(pending[1]), pending[0]))
                pending = None
            out.append(gap)
        charset, enc, text = m.group(1), m.group(2).upper(), m.group(3).encode("utf-8", "replace")
        data = _b64decode(text) if enc == "B" else binascii.a2b_qp(text, header=True)
        if pending is not None and pending[0].lower() == charset.lower():
            pending[1].extend(data)
        else:
            if pending is not None:
                out.append(_to_text(bytes(pending[1]), pending[0]))
            pending = (charset, bytearray(data))
        pos = m.end()
    if pending is not None:
        out.append(_to_text(bytes(pending[1]), pending[0]))
    out.append(value[pos:])
    return "".join(out)


def _transfer_decode(ent: _Entity) -> bytes:
    body = ent.raw[ent.body_start:ent.end]
    cte = ent.header_params("content-transfer-encoding")
    enc = cte[0].strip().lower() if cte else b""
    if enc == b"base64":
        return _b64decode(body)
    if enc == b"quoted-printable":
        try:
            return binascii.a2b_qp(body)
        except (binascii.Error, ValueError):
            return body
    return body


IDENTITY_ENCODINGS = {b"", b"7bit", b"8bit", b"binary"}


class UnknownTransferEncoding(Exception):
    """BINARY of a part whose Content-Transfer-Encoding we cannot undo
    (RFC 3516: answered ``NO [UNKNOWN-CTE]``)."""


def _binary_decode(ent: _Entity) -> bytes:
    """The body of ``ent`` with its transfer encoding removed (RFC 3516)."""
    cte = ent.header_params("content-transfer-encoding")
    enc = cte[0].strip().lower() if cte else b""
    if enc in IDENTITY_ENCODINGS:
        return ent.raw[ent.body_start:ent.end]
    if enc in (b"base64", b"quoted-printable"):
        return _transfer_decode(ent)
    raise UnknownTransferEncoding(enc.decode("ascii", "replace"))


def _collect_text(ent: _Entity, out: List[str]) -> None:
    kids = ent.children
    if kids:
        for kid in kids:
            _collect_text(kid, out)
    elif ent.message is not None:
        _collect_text(ent.message, out)
    else:
        ctype, _, params = ent.effective_type()
        if ctype == b"text":
            charset = next((v for a, v in params if a.lower() == b"charset"), None)
            out.append(_to_text(_transfer_decode(ent), charset))


# ---------------------------------------------------------------- public API

class ParsedMessage:
    """A stored message; `raw` must already be CRLF-normalised."""

    def __init__(self, raw: bytes) -> None:
        self.raw = bytes(raw)

    @cached_property
    def root(self) -> _Entity:
        """The top-level entity (what ENVELOPE and BODYSTRUCTURE are rendered from)."""
        return _Entity(self.raw, 0, len(self.raw))

    def section(self, part: Tuple[int, ...], text: Optional[str],
                fields: Tuple[str, ...] = ()) -> Optional[bytes]:
        """Bytes of BODY[part.text (fields)], or None if there is no such part."""
        text = text.upper() if text else None
        part = tuple(part or ())
        if not part:
            if text is None:
                return self.raw
            return self._message_section(self.root, text, fields)
        node = _resolve(self.root, part)
        if node is None:
            return None
        if text is None:
            return self.raw[node.body_start:node.end]
        if text == "MIME":
            return self.raw[node.start:node.body_start]
        if node.message is None:
            return None  # HEADER/TEXT only apply to message/rfc822 parts
        return self._message_section(node.message, text, fields)

    def _message_section(self, ent: _Entity, text: str, fields: Tuple[str, ...]) -> Optional[bytes]:
        if text == "HEADER":
            return self.raw[ent.start:ent.body_start]
        if text == "TEXT":
            return self.raw[ent.body_start:ent.end]
        if text == "HEADER.FIELDS":
            return ent.fields_subset(fields, negate=False)
        if text == "HEADER.FIELDS.NOT":
            return ent.fields_subset(fields, negate=True)
        return None  # MIME is not valid on a message

    def binary_section(self, part: Tuple[int, ...]) -> Optional[bytes]:
        """BINARY[part]: the part's body with its transfer encoding undone
        (the whole message, as stored, for ``()``), or None if there is no
        such part. Raises `UnknownTransferEncoding`."""
        part = tuple(part or ())
        if not part:
            return self.raw
        node = _resolve(self.root, part)
        return None if node is None else _binary_decode(node)

    def header_raw(self, name: str) -> Optional[bytes]:
        """First value of a top-level header field, unfolded, undecoded."""
        return self.root.header(name.lower())

    def header_raw_values(self, name: str) -> List[bytes]:
        """Every value of a top-level header field, unfolded, undecoded."""
        key = name.lower()
        root = self.root
        return [_unfold(self.raw[col:end]) for k, _, end, col in root.fields if k == key]

    def header_values(self, name: str) -> List[str]:
        """Top-level values of a header, unfolded and RFC 2047-decoded."""
        key = name.lower()
        root = self.root
        return [decode_rfc2047(_unfold(self.raw[col:end]).decode("utf-8", "replace"))
                for k, _, end, col in root.fields if k == key]

    def search_text(self) -> str:
        """Decoded text of every text/* part (including inside attached messages)."""
        out: List[str] = []
        _collect_text(self.root, out)
        return "\n".join(out)

    def body_texts(self) -> Iterable[Tuple[bytes, str]]:
        """(subtype, decoded text) of each text/* part that is not an
        attachment, in order, without stepping into attached messages."""
        stack = [self.root]
        while stack:
            ent = stack.pop(0)
            kids = ent.children
            if kids:
                stack[:0] = kids
                continue
            ctype, subtype, params = ent.effective_type()
            disposition = ent.header_params("content-disposition")
            if ctype != b"text" or (disposition and disposition[0].strip().lower() == b"attachment"):
                continue
            charset = next((v for a, v in params if a.lower() == b"charset"), None)
            yield subtype, _to_text(_transfer_decode(ent), charset)

    def sent_date(self) -> Optional[datetime.date]:
        value = self.root.header("date")
        if not value:
            return None
        try:
            return parsedate_to_datetime(value.decode("ascii", "replace")).date()
        except Exception:  # ValueError/TypeError/IndexError/OverflowError across versions
            return None
