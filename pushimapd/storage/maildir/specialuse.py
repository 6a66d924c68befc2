"""SPECIAL-USE attributes (RFC 6154): defaults from folder names, overrides per user.

Without configuration a top-level folder named like a well-known one gets its
attribute (``Sent`` -> ``\\Sent``, ``Junk``/``Spam`` -> ``\\Junk``, ...).
CREATE-SPECIAL-USE and the server option record explicit ones in the user's
``pushimapd-special-use`` file (one ``name attribute...`` line per folder),
which then win over the name defaults for that attribute.
"""

from __future__ import annotations

import os
from typing import Iterable

ATTRIBUTES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
SUPPORTED = ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")
FILENAME = "pushimapd-special-use"
DEFAULT_NAMES = {
    "sent": "\\Sent", "sent items": "\\Sent", "sent messages": "\\Sent",
    "drafts": "\\Drafts",
    "junk": "\\Junk", "spam": "\\Junk",
    "trash": "\\Trash", "deleted items": "\\Trash", "deleted messages": "\\Trash",
    "archive": "\\Archive", "archives": "\\Archive",
}


def canonical(attribute: str) -> str:
    for known in ATTRIBUTES:
        if known.lower() == attribute.lower():
            return known
    return attribute


class SpecialUse:
    """The special-use map of one user (explicit entries + name defaults)."""

    def __init__(self, user_root: str, configured: dict[str, str] | None = None):
        self.path = os.path.join(user_root, FILENAME)
        self.configured = dict(configured or {})  # server option: folder -> attribute

    def explicit(self) -> dict[str, list[str]]:
        entries: dict[str, list[str]] = {}
        for name, attr in self.configured.items():
            entries.setdefault(name, []).append(attr)
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 2:
                        entries[parts[0]] = [canonical(a) for a in parts[1:]]
        except FileNotFoundError:
            pass
        return entries

    def attributes(self, folder_names: Iterable[str]) -> dict[str, list[str]]:
        """folder name -> special-use attributes, for the folders that exist."""
        names = list(folder_names)
        explicit = self.explicit()
        taken = {a for attrs in explicit.values() for a in attrs}
        result = {n: list(explicit[n]) for n in names if n in explicit}
        for name in names:
            default = DEFAULT_NAMES.get(name.lower()) if "." not in name else None
            if default and default not in taken and name not in result:
                result[name] = [default]
        return result

    def assign(self, folder: str, attributes: list[str]) -> None:
        entries = {k: v for k, v in self.explicit().items() if k not in self.configured}
        entries[folder] = [canonical(a) for a in attributes]
        self._write(entries)

    def rename(self, old: str, new: str) -> None:
        entries = {k: v for k, v in self.explicit().items() if k not in self.configured}
        moved = {}
        for name, attrs in entries.items():
            if name == old or name.startswith(old + "."):
                moved[new + name[len(old):]] = attrs
            else:
                moved[name] = attrs
        if moved != entries:
            self._write(moved)

    def forget(self, folder: str) -> None:
        entries = {k: v for k, v in self.explicit().items() if k not in self.configured}
        if folder in entries:
            del entries[folder]
            self._write(entries)

    def _write(self, entries: dict[str, list[str]]) -> None:
        with open(self.path + ".tmp", "w", encoding="utf-8") as f:
            for name, attrs in sorted(entries.items()):
                f.write(name + " " + " ".join(attrs) + "\n")
        os.replace(self.path + ".tmp", self.path)
