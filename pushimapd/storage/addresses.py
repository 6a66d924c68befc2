"""Addresses in raw header values (From, To, ...), for ENVELOPE, SEARCH and SORT.

Addresses are parsed from the raw bytes with a small RFC 5322 tokenizer so
that groups, routes, quoted strings and comments are handled, and so that raw
8-bit bytes pass through untouched.  Display names are sent as they appear in
the header (RFC 2047 encoded-words are *not* decoded, quoted strings are
unquoted), like Dovecot does; the wire form is `commands.fetch_structure`.  An address with no local part or no domain
gets Dovecot's placeholders "MISSING_MAILBOX" / "MISSING_DOMAIN", because a
NIL host would be read by clients as the start of a group.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

Address = Tuple[Optional[bytes], Optional[bytes], Optional[bytes], Optional[bytes]]

_WSP = b" \t\r\n"
_SPECIALS = b"<>@,;:."
_GROUP_END: Address = (None, None, None, None)


class _Tok(NamedTuple):
    kind: str  # 'A' atom / domain literal, 'Q' quoted string, 'C' comment, 'S' special
    value: bytes
    space: bool  # preceded by whitespace (or a comment)


def _tokens(s: bytes) -> List[_Tok]:
    toks: List[_Tok] = []
    i, n, space = 0, len(s), False
    while i < n:
        c = s[i]
        if c in _WSP:
            space, i = True, i + 1
            continue
        if c == 0x28:  # '(' comment, may nest
            depth, j, buf = 0, i, bytearray()
            while j < n:
                ch = s[j]
                if ch == 0x5C and j + 1 < n:
                    if depth:
                        buf.append(s[j + 1])
                    j += 2
                    continue
                if ch == 0x28:
                    depth += 1
                    if depth > 1:
                        buf.append(ch)
                elif ch == 0x29:
                    depth -= 1
                    if depth == 0:
                        j += 1
                        break
                    buf.append(ch)
                else:
                    buf.append(ch)
                j += 1
            toks.append(_Tok("C", bytes(buf).strip(), space))
            space, i = True, j
            continue
        if c == 0x22:  # quoted string
            j, buf = i + 1, bytearray()
            while j < n and s[j] != 0x22:
                if s[j] == 0x5C and j + 1 < n:
                    j += 1
                if s[j] not in b"\r\n":
                    buf.append(s[j])
                j += 1
            toks.append(_Tok("Q", bytes(buf), space))
            i = j + 1
        elif c == 0x5B:  # domain literal, kept with its brackets
            j = s.find(b"]", i)
            j = n if j < 0 else j + 1
            toks.append(_Tok("A", s[i:j], space))
            i = j
        elif c in _SPECIALS:
            toks.append(_Tok("S", bytes([c]), space))
            i += 1
        else:
            j = i
            while j < n and s[j] not in _WSP and s[j] not in _SPECIALS and s[j] not in b'("[':
                j += 1
            toks.append(_Tok("A", s[i:j], space))
            i = j
        space = False
    return toks


def _join(toks: List[_Tok]) -> bytes:
    """Concatenate words, one space where the original had white space."""
    out = bytearray()
    for t in toks:
        if t.kind == "C":
            continue
        if out and t.space:
            out += b" "
        out += t.value
    return bytes(out)


def _is(t: _Tok, ch: bytes) -> bool:
    return t.kind == "S" and t.value == ch


def _mailbox(item: List[_Tok]) -> Address:
    comments = [t.value for t in item if t.kind == "C"]
    toks = [t for t in item if t.kind != "C"]
    name: Optional[bytes] = None
    adl: Optional[bytes] = None
    lt = next((k for k, t in enumerate(toks) if _is(t, b"<")), None)
    if lt is not None:
        name = _join(toks[:lt]) or None
        gt = next((k for k in range(lt + 1, len(toks)) if _is(toks[k], b">")), len(toks))
        spec = toks[lt + 1:gt]
        colon = next((k for k, t in enumerate(spec) if _is(t, b":")), None)
        if colon is not None:
            adl = b"".join(t.value for t in spec[:colon]) or None
            spec = spec[colon + 1:]
    else:
        spec = toks
    at = next((k for k in range(len(spec) - 1, -1, -1) if _is(spec[k], b"@")), None)
    if at is None:
        local, domain = _join(spec), b""
    else:
        local = _join(spec[:at])
        domain = b"".join(t.value for t in spec[at + 1:])
    if name is None and comments and comments[-1]:
        name = comments[-1]
    return (name, adl, local or b"MISSING_MAILBOX", domain or b"MISSING_DOMAIN")


def parse_addresses(value: Optional[bytes]) -> List[Address]:
    """Parse an address-list header value into IMAP address tuples.

    Group syntax yields (None, None, groupname, None) ... (None, None, None,
    None).  Never raises; unparseable input gives best-effort entries.
    """
    if not value:
        return []
    toks = _tokens(value)
    out: List[Address] = []
    in_group = False
    i, n = 0, len(toks)
    while i < n:
        j, depth = i, 0
        while j < n:
            t = toks[j]
            if t.kind == "S":
                if t.value == b"<":
                    depth += 1
                elif t.value == b">":
                    depth = max(0, depth - 1)
                elif depth == 0 and t.value in (b",", b";", b":"):
                    break
            j += 1
        item = toks[i:j]
        sep = toks[j].value if j < n else None
        if sep == b":" and not in_group:
            out.append((None, None, _join(item), None))
            in_group = True
        elif any(t.kind != "C" for t in item):
            out.append(_mailbox(item))
        if sep == b";" and in_group:
            out.append(_GROUP_END)
            in_group = False
        i = j + 1
    if in_group:
        out.append(_GROUP_END)
    return out
