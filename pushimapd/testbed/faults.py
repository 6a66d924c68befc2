"""Faults: a server that misbehaves on purpose, per user, from the next command on.

A fault is a row in the database (`models.Fault`), made by ``pushimapd fault
add``, by the console, or by a test. The server re-reads the table only when
another process committed to the database (``PRAGMA data_version``: one cheap
query per command and per monitor tick), so a fault added by the CLI applies
from the next command of every session of that user, and survives restarts.

Kinds (docs/testbed.md has the exact behaviour):

- ``disconnect``: drop the connection without a word when the command after
  ``after`` (matching) ones arrives; with ``command``, answer half of that
  command's response, then drop.
- ``bye``: ``* BYE`` and close instead of answering.
- ``delay``: answer ``ms`` milliseconds late (nothing else is read meanwhile).
- ``respond``: answer ``NO``/``BAD`` ``[code]`` instead of running the command
  (an APPEND is refused before its literal).
- ``uidvalidity``: the mailbox gets a new UIDVALIDITY and new UIDs, as a
  rebuild would; the running server applies it at once.
- ``push``: the user's push deliveries behave as if the endpoint had answered
  ``http_status`` (with a Retry-After); no request is sent.

Each firing uses one of ``remaining`` (None: until cleared); a fault used up
is deleted. ``after`` counts per session, from the moment it sees the fault.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Optional

from twisted.logger import Logger

from ..db import data_version, database
from .models import Fault

log = Logger()

SESSION_KINDS = ("disconnect", "bye", "delay", "respond")
KINDS = SESSION_KINDS + ("uidvalidity", "push")
_CODE = re.compile(r"[A-Z0-9-]+(?: [\x21-\x5c\x5e-\x7e]+)?", re.I)  # an atom, maybe with an argument
_COMMAND = re.compile(r"(?:UID )?[A-Z][A-Z0-9-]*")


class FaultError(ValueError):
    """A fault that cannot be made (unknown kind, missing or bad option)."""


def make_fault(user: str, kind: str, *, after: Optional[int] = None, command: Optional[str] = None,
               ms: Optional[int] = None, status: Optional[str] = None, code: Optional[str] = None,
               count: Optional[int] = None, retry_after: Optional[float] = None,
               mailbox: Optional[str] = None) -> dict:
    """Check the options of a fault and return its row's fields.

    ``status`` is NO/BAD for ``respond`` and the HTTP status for ``push``;
    ``count`` 0 means until cleared (default 1)."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise FaultError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
    if not user or not re.fullmatch(r"[A-Za-z0-9._@+-]+", user) or user.startswith("."):
        raise FaultError(f"invalid user name {user!r}")
    fields: dict[str, Any] = {"user": user, "kind": kind}
    if command is not None:
        command = " ".join(command.upper().split())
        if not _COMMAND.fullmatch(command):
            raise FaultError(f"invalid command name {command!r}")
    if after is not None and after < 0:
        raise FaultError("--after cannot be negative")
    if count is not None and count < 0:
        raise FaultError("--count cannot be negative")
    fields["remaining"] = None if count == 0 else (count or 1)
    if kind in SESSION_KINDS:
        fields["after"] = after or 0
        fields["command"] = command
    elif after or command:
        raise FaultError(f"--after and --command do not apply to {kind} faults")
    if kind == "delay":
        if ms is None or ms < 0 or ms > 600_000:
            raise FaultError("delay needs --ms between 0 and 600000")
        fields["ms"] = ms
    elif ms is not None:
        raise FaultError("--ms applies to delay faults only")
    if kind == "respond":
        status = (status or "").upper()
        if status not in ("NO", "BAD"):
            raise FaultError("respond needs --with NO or --with BAD")
        if command is None:
            raise FaultError("respond needs --command NAME")
        if code is not None:
            code = code.strip().strip("[]")
            if not _CODE.fullmatch(code):
                raise FaultError(f"invalid response code {code!r}")
        fields.update(status=status, code=code or None)
    elif code is not None:
        raise FaultError("--code applies to respond faults only")
    if kind == "push":
        try:
            http_status = int(status) if status is not None else None
        except ValueError:
            http_status = None
        if http_status is None or not 100 <= http_status <= 599:
            raise FaultError("push needs --status with an HTTP status (100-599)")
        if retry_after is not None and retry_after < 0:
            raise FaultError("--retry-after cannot be negative")
        fields.update(http_status=http_status, retry_after=retry_after)
    elif retry_after is not None:
        raise FaultError("--retry-after applies to push faults only")
    elif kind not in ("respond",) and status is not None:
        raise FaultError(f"--status/--with do not apply to {kind} faults")
    if kind == "uidvalidity":
        if not mailbox:
            raise FaultError("uidvalidity needs --mailbox NAME")
        fields["mailbox"] = mailbox
        fields["remaining"] = 1
    elif mailbox is not None:
        raise FaultError("--mailbox applies to uidvalidity faults only")
    return fields


def describe(fault: Fault) -> str:
    """``disconnect after 2 on FETCH`` — for logs, traces and ``fault list``."""
    parts = [fault.kind]
    if fault.kind in SESSION_KINDS and fault.after:
        parts.append(f"after {fault.after}")
    if fault.command:
        parts.append(f"on {fault.command}")
    if fault.kind == "delay":
        parts.append(f"{fault.ms} ms")
    if fault.kind == "respond":
        parts.append(f"with {fault.status}" + (f" [{fault.code}]" if fault.code else ""))
    if fault.kind == "push":
        parts.append(f"status {fault.http_status}")
        if fault.retry_after is not None:
            parts.append(f"Retry-After {fault.retry_after:g}")
    if fault.kind == "uidvalidity":
        parts.append(f"mailbox {fault.mailbox}")
    return " ".join(parts)


def as_dict(fault: Fault) -> dict:
    return {"id": fault.id, "user": fault.user, "kind": fault.kind, "command": fault.command,
            "after": fault.after, "ms": fault.ms, "status": fault.status, "code": fault.code,
            "http_status": fault.http_status, "retry_after": fault.retry_after, "mailbox": fault.mailbox,
            "remaining": fault.remaining, "fired": fault.fired, "created_at": fault.created_at,
            "description": describe(fault)}


def add_fault(fields: dict) -> Fault:
    return Fault.create(**fields)


def clear_faults(user: Optional[str] = None, fault_id: Optional[int] = None) -> int:
    query = Fault.delete()
    if fault_id is not None:
        query = query.where(Fault.id == fault_id)
    elif user is not None:
        query = query.where(Fault.user == user)
    return query.execute()


def list_faults(user: Optional[str] = None) -> list[Fault]:
    query = Fault.select().order_by(Fault.id)
    if user is not None:
        query = query.where(Fault.user == user)
    return list(query)


def use_once(fault: Fault) -> bool:
    """Count one firing; False when another session used it up first. A
    fault with nothing left is deleted."""
    with database.atomic():
        if fault.remaining is None:
            done = Fault.update(fired=Fault.fired + 1).where(Fault.id == fault.id).execute()
        else:
            done = (Fault.update(fired=Fault.fired + 1, remaining=Fault.remaining - 1)
                    .where((Fault.id == fault.id) & (Fault.remaining > 0)).execute())
            Fault.delete().where((Fault.id == fault.id) & (Fault.remaining <= 0)).execute()
    return bool(done)


@dataclass
class Hit:
    """What the session must do with the command a fault fired on."""

    kind: str  # "drop", "cut", "bye", "delay", "respond"
    fault_id: int
    description: str
    seconds: float = 0.0
    status: str = ""
    code: Optional[str] = None

    @property
    def text(self) -> str:
        return f"pushimapd test bed: fault {self.fault_id} ({self.description})"


class FaultBook:
    """The server's view of the fault table; sessions ask it before each command."""

    def __init__(self) -> None:
        self._version: Optional[int] = None
        self._faults: list[Fault] = []
        self._seen: "weakref.WeakKeyDictionary[Any, dict[int, int]]" = weakref.WeakKeyDictionary()
        self.on_reload: list[Callable[[], None]] = []  # the monitor applies new uidvalidity faults here
        self.on_fired: Callable[[Optional[Any], Fault, str], None] = lambda session, fault, where: None

    # -- keeping up with the table --------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Re-read the table when another process committed to the database."""
        version = data_version()
        if version == self._version and not force:
            return False
        self._version = version
        self._faults = list(Fault.select().order_by(Fault.id))
        for listener in list(self.on_reload):
            listener()
        return True

    def changed(self) -> None:
        """This process wrote to the table: read it again."""
        self.refresh(force=True)

    def faults(self, user: Optional[str] = None, kind: Optional[str] = None) -> list[Fault]:
        return [f for f in self._faults if (user is None or f.user == user) and (kind is None or f.kind == kind)]

    def add(self, fields: dict) -> Fault:
        fault = add_fault(fields)
        self.changed()
        return fault

    def clear(self, user: Optional[str] = None, fault_id: Optional[int] = None) -> int:
        count = clear_faults(user, fault_id)
        self.changed()
        return count

    def _use(self, fault: Fault) -> bool:
        used = use_once(fault)
        self.changed()
        return used

    # -- sessions ---------------------------------------------------------------------
    def check(self, session, name: str, uid: bool = False, before_literal: bool = False) -> Optional[Hit]:
        """The fault that fires on this command of ``session``, if any.

        Every session fault of the user that matches the command counts it
        (``after``); the first one whose count is reached fires. Before an
        APPEND's literal only ``respond`` faults are looked at (and nothing
        is counted: the command is counted when it is complete)."""
        user = getattr(session, "user", None)
        if user is None:
            return None
        self.refresh()
        seen = self._seen.setdefault(session, {})
        labels = {name.upper(), ("UID " + name.upper()) if uid else name.upper()}
        fired: Optional[Fault] = None
        for fault in self._faults:
            if fault.user != user or fault.kind not in SESSION_KINDS:
                continue
            if fault.command is not None and fault.command not in labels:
                continue
            if before_literal and fault.kind != "respond":
                continue
            count = seen.get(fault.id, 0)
            if fired is None and count >= fault.after:
                if self._use(fault):
                    fired = fault
                    continue
            if not before_literal:
                seen[fault.id] = count + 1
        if fired is None:
            return None
        return self._hit(session, fired, name)

    def _hit(self, session, fault: Fault, name: str) -> Hit:
        description = describe(fault)
        self.on_fired(session, fault, name)
        if fault.kind == "disconnect":
            return Hit("cut" if fault.command else "drop", fault.id, description)
        if fault.kind == "bye":
            return Hit("bye", fault.id, description)
        if fault.kind == "delay":
            return Hit("delay", fault.id, description, seconds=(fault.ms or 0) / 1000.0)
        return Hit("respond", fault.id, description, status=fault.status, code=fault.code)

    # -- push ---------------------------------------------------------------------------
    def push_answer(self, row) -> Optional[tuple[int, Optional[float], str]]:
        """(HTTP status, Retry-After, description) a push fault of the
        delivery's user makes it get instead of a real answer."""
        self.refresh()
        for fault in self.faults(row.user, "push"):
            if self._use(fault):
                self.on_fired(None, fault, "push")
                return fault.http_status, fault.retry_after, describe(fault)
        return None
