"""RFC 5464 METADATA rules that need no database: entry names, limits, selection.

The command module parses with these, and the store (`pushimapd.metadata_db`)
applies the same rules, so a name or a size is judged the same way
everywhere. Entry names are case-insensitive (RFC 5464 3.2): they are kept
and answered in lower case, as Dovecot does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

SERVER = ""  # the "mailbox" of server entries
DEPTHS = ("0", "1", "infinity")
CAPABILITIES = ("METADATA", "METADATA-SERVER")


@dataclass(frozen=True)
class Limits:
    """Checked before anything is stored (documented in docs/metadata.md)."""

    max_value_size: int = 64 * 1024  # octets per value; a Delta Chat device token needs 4096
    max_entries: int = 128  # stored entries per user and mailbox (the server counts as one)
    max_name_length: int = 256  # octets of an entry name


LIMITS = Limits()


class InvalidEntryName(ValueError):
    """The entry name breaks RFC 5464's grammar: ``BAD``."""


class MetadataError(Exception):
    """A SETMETADATA/GETMETADATA that cannot be carried out: ``NO [code] text``."""

    def __init__(self, text: str, code: Optional[str] = None):
        super().__init__(text)
        self.text = text
        self.code = code


def entry_name(raw: bytes, limits: Limits = LIMITS) -> str:
    """The canonical (lower-case) form of an entry name, or InvalidEntryName.

    ``/private`` or ``/shared`` followed by ``/``-separated parts of printable
    US-ASCII, no ``*`` or ``%``, no empty part, no trailing ``/``.
    """
    if not raw:
        raise InvalidEntryName("Empty entry name")
    if len(raw) > limits.max_name_length:
        raise InvalidEntryName(f"Entry name longer than {limits.max_name_length} octets")
    if any(b < 0x20 or b > 0x7E for b in raw):
        raise InvalidEntryName("Entry names must be printable US-ASCII")
    name = raw.decode("ascii").lower()
    if "*" in name or "%" in name:
        raise InvalidEntryName("Entry names must not contain '*' or '%'")
    if not name.startswith("/"):
        raise InvalidEntryName("Entry names start with /private or /shared")
    if "//" in name or name.endswith("/"):
        raise InvalidEntryName("Entry names must not contain '//' or end with '/'")
    if name.split("/")[1] not in ("private", "shared"):
        raise InvalidEntryName("Entry names start with /private or /shared")
    return name


def settable_name(raw: bytes, limits: Limits = LIMITS) -> str:
    """An entry name SETMETADATA may write: below /private or /shared, not the roots."""
    name = entry_name(raw, limits)
    if name.count("/") < 2:
        raise InvalidEntryName(f"{name} is a hierarchy root, not an entry that can hold a value")
    return name


def is_private(name: str) -> bool:
    return name.startswith("/private/") or name == "/private"


def covers(requested: str, name: str, depth: str) -> bool:
    """Does GETMETADATA of ``requested`` with ``depth`` return the stored ``name``?"""
    if name == requested:
        return True
    if depth == "0" or not name.startswith(requested + "/"):
        return False
    return depth == "infinity" or "/" not in name[len(requested) + 1:]


def select(stored: dict[str, bytes], requested: Iterable[str], depth: str = "0",
           maxsize: Optional[int] = None) -> tuple[list[tuple[str, bytes]], int]:
    """The (name, value) pairs GETMETADATA returns, in the order asked for
    (entries below one, in name order), and the size of the largest value
    MAXSIZE held back (0 when none was)."""
    chosen: dict[str, bytes] = {}
    names = sorted(stored)
    for want in requested:
        for name in ([want] if want in stored else []) + [n for n in names if n != want and covers(want, n, depth)]:
            chosen.setdefault(name, stored[name])
    longest_hidden = 0
    out = []
    for name, value in chosen.items():
        if maxsize is not None and len(value) > maxsize:
            longest_hidden = max(longest_hidden, len(value))
        else:
            out.append((name, value))
    return out, longest_hidden
