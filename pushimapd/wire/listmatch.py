"""LIST/LSUB mailbox patterns (``*`` and ``%``) matched in linear time.

A pattern compiled to a backtracking regex is exponential in the number of
wildcards (``*%*%*%*%y`` against a long name stalls the whole reactor), so
names are matched by simulating the pattern's automaton: the set of pattern
positions reachable after each character, O(len(pattern) × len(name)).
Dovecot's imap-match.c does the same job.
"""

from __future__ import annotations

MAX_PATTERN = 1024  # longer patterns are refused (BAD) before matching


class ListPattern:
    """One compiled pattern; ``matches(name)`` is case-sensitive except for
    INBOX and its children, whose names match case-insensitively (RFC 3501)."""

    def __init__(self, pattern: str, separator: str = "."):
        self.pattern = _squeeze(pattern)
        self.separator = separator
        self._folded = self.pattern.upper()

    def matches(self, name: str) -> bool:
        if _run(self.pattern, name, self.separator):
            return True
        upper = name.upper()
        if upper == "INBOX" or upper.startswith("INBOX" + self.separator):
            return _run(self._folded, upper, self.separator)
        return False

    def matches_prefix(self, name: str) -> bool:
        """True when some name starting with ``name + separator`` could match
        (LIST-EXTENDED CHILDINFO and LSUB's parents need this)."""
        return _run(self.pattern, name, self.separator, prefix=True)


def _squeeze(pattern: str) -> str:
    """Collapse runs of wildcards: any run holding ``*`` is ``*``, else ``%``."""
    out: list[str] = []
    for ch in pattern:
        if ch in "*%" and out and out[-1] in "*%":
            if ch == "*":
                out[-1] = "*"
            continue
        out.append(ch)
    return "".join(out)


def _closure(pattern: str, states: set[int]) -> set[int]:
    """Wildcards match the empty string: step over them."""
    todo = list(states)
    size = len(pattern)
    while todo:
        i = todo.pop()
        if i < size and pattern[i] in "*%" and i + 1 not in states:
            states.add(i + 1)
            todo.append(i + 1)
    return states


def _run(pattern: str, name: str, separator: str, prefix: bool = False) -> bool:
    size = len(pattern)
    states = _closure(pattern, {0})
    for ch in name:
        following: set[int] = set()
        for i in states:
            if i >= size:
                continue
            p = pattern[i]
            if p == "*" or (p == "%" and ch != separator):
                following.add(i)
            elif p == ch:
                following.add(i + 1)
        if not following:
            return False
        states = _closure(pattern, following)
    if prefix:
        # the name continues with the separator and then anything at all
        return any(i < size and (pattern[i] == "*" or pattern[i] == separator) for i in states)
    return size in states
