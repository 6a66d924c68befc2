"""Flags in Maildir file names (``base:2,FRS`` plus keyword letters a-z).

System flags map to the upper-case letters of the Maildir spec; keywords map
to lower-case letters through the folder's ``dovecot-keywords`` file, as
Dovecot stores them, so both servers can share one Maildir.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Optional

SYSTEM_TO_LETTER = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
LETTER_TO_SYSTEM = {v: k for k, v in SYSTEM_TO_LETTER.items()}
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORDS = 26
_SIZE_FIELD = re.compile(r",([SW])=(\d+)")
_KEYWORD = re.compile(r"[^\x00-\x20\x7f-\U0010ffff(){%*\"\\\[\]]+")  # an IMAP atom, without "["


def split_name(filename: str) -> tuple[str, Optional[str]]:
    """``base:2,FS`` -> (``base``, ``FS``); no info part -> (name, None)."""
    base, sep, info = filename.partition(":")
    if not sep:
        return filename, None
    if info.startswith("2,"):
        return base, info[2:]
    return base, ""


def size_fields(base: str) -> dict[str, int]:
    """The ``,S=`` (file size) and ``,W=`` (CRLF size) fields of a base name."""
    return {m.group(1): int(m.group(2)) for m in _SIZE_FIELD.finditer(base)}


class Keywords:
    """A folder's keyword <-> letter table, persisted in ``dovecot-keywords``."""

    def __init__(self, folder_path: str):
        self.path = os.path.join(folder_path, KEYWORDS_FILE)
        self.names: list[str] = []
        self.version = 0  # bumped whenever the table changes
        self._mtime: Optional[float] = None
        self.reload()

    def reload(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if st.st_mtime_ns == self._mtime:
            return
        names: dict[int, str] = {}
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                idx, _, name = line.rstrip("\n").partition(" ")
                if idx.isdigit() and name and int(idx) < MAX_KEYWORDS:
                    names[int(idx)] = name
        self.names = [names.get(i, "") for i in range(max(names) + 1)] if names else []
        self._mtime = st.st_mtime_ns
        self.version += 1

    def letter_for(self, keyword: str, create: bool) -> Optional[str]:
        lowered = keyword.lower()
        for i, name in enumerate(self.names):
            if name.lower() == lowered:
                return chr(ord("a") + i)
        if not create or len(self.names) >= MAX_KEYWORDS:
            return None
        if not _KEYWORD.fullmatch(keyword):
            raise ValueError(f"not a valid keyword: {keyword!r}")
        self._save(self.names + [keyword])
        self.names.append(keyword)
        self.version += 1
        return chr(ord("a") + len(self.names) - 1)

    def _save(self, names: list[str]) -> None:
        """Write the table (tmp + rename); on failure nothing is left behind."""
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("".join(f"{i} {name}\n" for i, name in enumerate(names) if name))
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self._mtime = os.stat(self.path).st_mtime_ns

    def canonical(self, flag: str) -> str:
        """Keywords compare case-insensitively: use the spelling already stored."""
        if flag.startswith("\\"):
            return flag
        lowered = flag.lower()
        return next((n for n in self.names if n and n.lower() == lowered), flag)

    def can_create(self) -> bool:
        return len(self.names) < MAX_KEYWORDS

    def flags_from_info(self, info: Optional[str]) -> frozenset[str]:
        flags = set()
        for ch in info or "":
            if ch in LETTER_TO_SYSTEM:
                flags.add(LETTER_TO_SYSTEM[ch])
            elif "a" <= ch <= "z":
                idx = ord(ch) - ord("a")
                if idx < len(self.names) and self.names[idx]:
                    flags.add(self.names[idx])
        return frozenset(flags)

    def info_from_flags(self, flags: Iterable[str], keep_unknown: str = "") -> str:
        """Sorted info letters; letters of ``keep_unknown`` we cannot map are kept."""
        letters = set()
        for flag in flags:
            if flag in SYSTEM_TO_LETTER:
                letters.add(SYSTEM_TO_LETTER[flag])
            elif not flag.startswith("\\"):
                letter = self.letter_for(flag, create=True)
                if letter:
                    letters.add(letter)
        for ch in keep_unknown:
            if ch == "P" or (ch.isupper() and ch not in LETTER_TO_SYSTEM):
                letters.add(ch)  # e.g. P (passed): not an IMAP flag, kept as is
        return "".join(sorted(letters))
