"""IMAP URLs (RFC 5092) naming one message part, with URLAUTH (RFC 4467)
and ;PARTIAL= (URL-PARTIAL, RFC 5550).

    imap://user@host[:port]/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2/;PARTIAL=0.1024
        [;EXPIRE=2030-01-01T00:00:00Z];URLAUTH=anonymous[:internal:<hex token>]

A relative URL (``/INBOX;UIDVALIDITY=.../;UID=20``, as CATENATE allows)
has no user or host. Parameter names are case-insensitive; the mailbox is
UTF-8, percent-encoded, and is turned into the modified UTF-7 IMAP name.
Only message-part URLs are parsed (no search URLs, no mailbox listings).
"""

from __future__ import annotations

import datetime
import re
import urllib.parse
from dataclasses import dataclass
from typing import Optional

from . import utf7

_NUMBER = re.compile(r"[1-9][0-9]{0,9}\Z")
_PARTIAL = re.compile(r"([0-9]{1,10})(?:\.([1-9][0-9]{0,9}))?\Z")
_ACCESS = re.compile(r"(anonymous|authuser|(?:submit|user)\+[^:;/]+)", re.I)
_HEX = re.compile(r"[0-9A-Fa-f]{32,}\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


class BadUrl(ValueError):
    """Not an IMAP URL this server can use; the text says why."""


@dataclass(frozen=True)
class ImapUrl:
    text: str  # the URL as the client sent it
    user: Optional[str]  # None for a relative URL
    host: Optional[str]
    port: Optional[int]
    mailbox: str  # IMAP (modified UTF-7) name
    uidvalidity: Optional[int]
    uid: int
    section: Optional[str]  # RFC 3501 section text (decoded), e.g. "1.2.MIME"
    partial: Optional[tuple[int, Optional[int]]]  # (offset, length or None: to the end)
    expire: Optional[datetime.datetime] = None
    access: Optional[str] = None  # "anonymous", "authuser", "user+fred", "submit+fred"
    mechanism: Optional[str] = None
    token: Optional[str] = None
    rump: Optional[str] = None  # the URL up to and including ";URLAUTH=<access>"

    @property
    def relative(self) -> bool:
        return self.host is None

    @property
    def access_kind(self) -> Optional[str]:
        return None if self.access is None else self.access.split("+", 1)[0].lower()

    @property
    def access_user(self) -> Optional[str]:
        if self.access is None or "+" not in self.access:
            return None
        return urllib.parse.unquote(self.access.split("+", 1)[1])


def _decode(text: str, what: str) -> str:
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise BadUrl(f"{what} is not UTF-8") from None


def _expire(value: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise BadUrl("Invalid EXPIRE date-time") from None
    if when.tzinfo is None:
        raise BadUrl("EXPIRE needs a time zone")
    return when


def parse_url(text: str) -> ImapUrl:
    """Parse an absolute (imap://) or server-relative (/mailbox...) message URL."""
    if any(c in text for c in " \r\n\t\0") or not text.isascii():
        raise BadUrl("URLs are printable US-ASCII without spaces")
    user = host = None
    port = None
    if text[:7].lower() == "imap://":
        authority, slash, path = text[7:].partition("/")
        if not slash:
            raise BadUrl("The URL names no mailbox")
        userinfo, at, hostport = authority.rpartition("@")
        if not at:
            raise BadUrl("The URL names no user")
        user = _decode(userinfo.split(";", 1)[0], "The user name")
        host, colon, port_text = hostport.partition(":")
        if not host or not user:
            raise BadUrl("The URL needs a user and a host")
        if colon:
            if not _PORT.match(port_text):
                raise BadUrl("Invalid port")
            port = int(port_text)
    elif text.startswith("/"):
        path = text[1:]
    else:
        raise BadUrl("Not an IMAP URL")
    segments = path.split("/")
    mailbox_part, *params = segments[0].split(";")
    if not mailbox_part:
        raise BadUrl("The URL names no mailbox")
    name = _decode(mailbox_part, "The mailbox name")
    try:
        mailbox = utf7.encode(name).decode("ascii")
    except UnicodeEncodeError:  # pragma: no cover - encode always gives ASCII
        raise BadUrl("Invalid mailbox name") from None
    fields: dict[str, str] = {}
    order: list[str] = []
    for i, segment in enumerate([";".join(params)] + segments[1:]):
        if i > 0 and not segment.startswith(";"):
            raise BadUrl("Unexpected path segment in the URL")
        for param in segment.split(";"):
            if not param:
                continue
            key, eq, value = param.partition("=")
            key = key.upper()
            if not eq or key in fields:
                raise BadUrl(f"Invalid or repeated URL parameter {key}")
            fields[key] = value
            order.append(key)
    unknown = set(fields) - {"UIDVALIDITY", "UID", "SECTION", "PARTIAL", "EXPIRE", "URLAUTH"}
    if unknown:
        raise BadUrl(f"Unsupported URL parameter {sorted(unknown)[0]}")
    if "UIDVALIDITY" in fields and not _NUMBER.match(fields["UIDVALIDITY"]):
        raise BadUrl("Invalid UIDVALIDITY")
    if "UID" not in fields or not _NUMBER.match(fields["UID"]):
        raise BadUrl("The URL must name a message by UID")
    section = _decode(fields["SECTION"], "The section") if "SECTION" in fields else None
    partial = None
    if "PARTIAL" in fields:
        m = _PARTIAL.match(fields["PARTIAL"])
        if not m:
            raise BadUrl("Invalid PARTIAL range")
        partial = (int(m.group(1)), int(m.group(2)) if m.group(2) else None)
    expire = _expire(fields["EXPIRE"]) if "EXPIRE" in fields else None
    access = mechanism = token = rump = None
    if "URLAUTH" in fields:
        if order[-1] != "URLAUTH" or ("EXPIRE" in fields and order[-2] != "EXPIRE"):
            raise BadUrl("URLAUTH (after EXPIRE) must end the URL")
        value = fields["URLAUTH"]
        access, colon, verifier = value.partition(":")
        if not _ACCESS.fullmatch(access):
            raise BadUrl("Invalid URLAUTH access identifier")
        rump = text[: len(text) - len(value) + len(access)]
        if colon:
            mechanism, colon2, token = verifier.partition(":")
            if not colon2 or not mechanism or not _HEX.match(token):
                raise BadUrl("Invalid URLAUTH verifier")
    elif "EXPIRE" in fields:
        raise BadUrl("EXPIRE is only allowed with URLAUTH")
    return ImapUrl(text, user, host, port, mailbox,
                   int(fields["UIDVALIDITY"]) if "UIDVALIDITY" in fields else None,
                   int(fields["UID"]), section, partial, expire, access, mechanism, token, rump)
