"""IMAP mailbox naming rules shared by every store: INBOX, the "."
separator, what a name may contain, and the error a refused operation raises."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from ..wire import utf7

SEPARATOR = "."
_FORBIDDEN = re.compile(r"[/\x00-\x1f\x7f]")


class MailboxError(Exception):
    """An operation the client asked for is not possible: answered ``NO``."""

    def __init__(self, text: str, code: Optional[str] = None):
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class FolderInfo:
    name: str  # IMAP name (modified UTF-7, "." separated); "INBOX" for the root
    selectable: bool
    has_children: bool


def normalize_name(name: str) -> str:
    """Case-fold INBOX (and only INBOX) as RFC 3501 requires."""
    if name.upper() == "INBOX":
        return "INBOX"
    if name.upper().startswith("INBOX" + SEPARATOR):
        return "INBOX" + name[5:]
    return name


def validate_name(name: str) -> str:
    name = normalize_name(name)
    if not name or _FORBIDDEN.search(name):
        raise MailboxError("Invalid mailbox name", "CANNOT")
    if name == "INBOX":
        return name
    parts = name.split(SEPARATOR)
    if any(p == "" for p in parts):
        raise MailboxError("Invalid mailbox name: empty hierarchy level", "CANNOT")
    if any(p in (".", "..") for p in parts) or len(name) > 200:
        raise MailboxError("Invalid mailbox name", "CANNOT")
    try:
        utf7.decode(name.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise MailboxError("Mailbox name is not valid modified UTF-7", "CANNOT") from None
    return name


def from_utf8(raw: bytes) -> str:
    """A mailbox name as a UTF-8 client sends it (UTF8=ACCEPT, IMAP4rev2) ->
    the stored modified UTF-7 form (folders on disk stay as Dovecot keeps
    them). Names must be Net-Unicode (RFC 5198): NFC, no control characters."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MailboxError("Mailbox name is not valid UTF-8", "CANNOT") from None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise MailboxError("Mailbox names cannot hold control characters", "CANNOT")
    if unicodedata.normalize("NFC", text) != text:
        raise MailboxError("Mailbox names must be in Unicode NFC", "CANNOT")
    return utf7.encode(text).decode("ascii")


def to_utf8(name: str) -> str:
    """A stored name as UTF-8 clients see it (one that is not valid
    modified UTF-7, made by some other program, is shown as it is)."""
    try:
        return utf7.decode(name.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return name
