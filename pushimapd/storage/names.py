"""IMAP mailbox naming rules shared by every store: INBOX, the "."
separator, what a name may contain, and the error a refused operation raises."""

from __future__ import annotations

import re
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
