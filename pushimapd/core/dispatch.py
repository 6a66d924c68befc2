"""The command table: name -> argument parser, handler, allowed states, flags.

Command modules register themselves with `command`; the session looks
commands up here, so "where is MOVE?" is answered by grepping for
``@command("MOVE"``. Sequence safety is declared here, as Dovecot does with
its command flags: ``expunge_ok=False`` holds EXPUNGE responses back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

NOT_AUTHENTICATED = "not authenticated"
AUTHENTICATED = "authenticated"
SELECTED = "selected"
LOGOUT = "logout"

ANY = frozenset({NOT_AUTHENTICATED, AUTHENTICATED, SELECTED})
AUTH = frozenset({AUTHENTICATED, SELECTED})
SELECT_ONLY = frozenset({SELECTED})
NOT_AUTH_ONLY = frozenset({NOT_AUTHENTICATED})


@dataclass(frozen=True)
class Result:
    """The tagged response of a finished command."""

    status: str  # OK, NO, BAD
    text: str
    code: Optional[str] = None  # response code without brackets

    def line(self, tag: str) -> bytes:
        code = f"[{self.code}] " if self.code else ""
        return f"{tag} {self.status} {code}".encode("utf-8", "replace") + printable_text(self.text) + b"\r\n"


_NOT_TEXT = re.compile(r"[^\x20-\x7e]")
_LITERAL_LIKE_END = re.compile(r"\{[0-9]*\+?\}\Z")


def printable_text(text: str) -> bytes:
    """resp-text is printable 7-bit text: whatever a client sent that ends up
    in a reason (a charset name, a command) cannot break the line, nor end it
    with ``{n}``, which a client would take for a literal announcement."""
    text = _NOT_TEXT.sub("?", text)
    if _LITERAL_LIKE_END.search(text):
        text += "."
    return text.encode("ascii")


ANSWERED = Result("", "")  # the handler wrote its own tagged response


def OK(text: str = "Completed", code: Optional[str] = None) -> Result:
    return Result("OK", text, code)


def NO(text: str, code: Optional[str] = None) -> Result:
    return Result("NO", text, code)


def BAD(text: str, code: Optional[str] = None) -> Result:
    return Result("BAD", text, code)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    parse: Callable  # Cursor -> args tuple
    handler: Callable  # (session, Command) -> Result | Action
    states: frozenset
    expunge_ok: bool = True  # may EXPUNGE responses go out after this command?
    uid_expunge_ok: bool = True  # ... and after its UID form?


COMMANDS: dict[str, CommandSpec] = {}


def no_arguments(cursor) -> tuple:
    return ()


def command(name: str, states: frozenset, parse: Callable = no_arguments, expunge_ok: bool = True):
    """Register the decorated function as the handler of ``name``."""

    def register(handler: Callable) -> Callable:
        COMMANDS[name] = CommandSpec(name, parse, handler, states, expunge_ok)
        _PARSERS.clear()
        return handler

    return register


_PARSERS: dict[str, Callable] = {}


def parsers() -> dict[str, Callable]:
    """name -> argument parser (made once; every command asks for it)."""
    if not _PARSERS:  # emptied whenever a command is registered
        _PARSERS.update({name: spec.parse for name, spec in COMMANDS.items()})
    return _PARSERS
