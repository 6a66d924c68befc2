"""The server's live test bed state: sessions, their traces, push attempts.

`Hub` is what the console reads and streams; `LiveSession` is one
connection's entry (the protocol feeds it bytes and notes). `Monitor` is a
cheap loop (``PRAGMA data_version`` every `MONITOR_INTERVAL`) that picks up
what other processes wrote: faults (``uidvalidity`` ones are applied here,
by the server, on its own shared mailbox objects, so sessions get their BYE
at once) and the events the CLI made (noted in the traces of the user's
sessions before the change itself reaches them).
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import Any, Callable, Optional

from twisted.application import service
from twisted.internet import task
from twisted.logger import Logger

from ..db import database
from .faults import FaultBook, describe, use_once
from .models import Fault, TestbedEvent
from .trace import LineSplitter, SessionTrace, is_literal_head

log = Logger()
MONITOR_INTERVAL = 0.2
CLOSED_KEPT = 50  # closed sessions the console still shows
ATTEMPTS_KEPT = 500
COMMANDS_KEPT = 12
EVENT_LOG_KEPT = 24 * 3600.0  # CLI event rows older than this are pruned


class LiveSession:
    """One connection as the console sees it; fed by the IMAP protocol."""

    def __init__(self, hub: "Hub", session_id: int, peer: str, session):
        self.hub = hub
        self.id = session_id
        self.peer = peer
        self.session = session  # core.session.Session (None once closed)
        self.trace = SessionTrace(session_id, peer, hub.trace_dir, on_line=hub._trace_line)
        self.commands: collections.deque[str] = collections.deque(maxlen=COMMANDS_KEPT)
        self._command_lines = LineSplitter(limit=-1)  # every literal summarised: only command lines count
        self._continued = False  # the next line continues a command after its literal
        self.closed_at: Optional[float] = None
        self._last: dict = {}
        self.trace.note(f"connection from {peer}")

    @property
    def user(self) -> Optional[str]:
        return self.trace.user

    def client(self, shown: bytes) -> None:
        self.trace.client(shown)
        for line in self._command_lines.feed(shown):
            summary = line.startswith(b"{") and line.endswith(b" bytes}")
            if not summary and not self._continued and line.strip():
                self.commands.append(line.strip()[:160].decode("utf-8", "replace"))
            self._continued = summary or is_literal_head(line)
        self.changed()

    def server(self, data: bytes) -> None:
        self.trace.server(data)
        self.changed()

    def note(self, text: str) -> None:
        self.trace.note(text)

    def changed(self) -> None:
        session = self.session
        if session is not None and session.user and self.trace.user is None:
            self.trace.logged_in(session.user)
        self.hub.session_changed(self)

    def close(self) -> None:
        self._last = self.snapshot()
        self.session = None
        self.closed_at = time.time()
        self.trace.close()
        self.hub.session_closed(self)

    def snapshot(self) -> dict:
        session = self.session
        if session is None:
            return dict(self._last, state="closed", closed_at=self.closed_at, commands=list(self.commands))
        selected = session.selected
        enabled = sorted(session.enabled) + (["COMPRESS=DEFLATE"] if session.compressed else [])
        return {"id": self.id, "peer": self.peer, "user": session.user, "state": session.state,
                "selected": selected.mailbox.name if selected is not None else None,
                "read_write": selected.read_write if selected is not None else None,
                "enabled": enabled, "tls": session.secure, "idling": session.idling is not None,
                "started": self.trace.started, "commands": list(self.commands), "trace_file": self.trace.path,
                "closed_at": None}


class Hub:
    def __init__(self, trace_dir: Optional[str] = None, clock=None):
        from twisted.internet import reactor

        self.clock = clock or reactor
        self.trace_dir = trace_dir
        self.live: dict[int, LiveSession] = {}
        self.closed: collections.deque[LiveSession] = collections.deque(maxlen=CLOSED_KEPT)
        self.attempts: collections.deque[dict] = collections.deque(maxlen=ATTEMPTS_KEPT)
        self.subscribers: list[Callable[[str, Any], None]] = []  # console streams: (event, data)
        self.trace_subscribers: dict[int, list[Callable[[str], None]]] = {}
        self._ids = itertools.count(1)
        self._dirty: set[int] = set()
        self._publish_call = None

    # -- sessions ------------------------------------------------------------------------
    def open(self, peer: str, session) -> LiveSession:
        live = LiveSession(self, next(self._ids), peer, session)
        self.live[live.id] = live
        self.session_changed(live)
        return live

    def session(self, session_id: int) -> Optional[LiveSession]:
        return self.live.get(session_id) or next((s for s in self.closed if s.id == session_id), None)

    def sessions_of(self, user: str) -> list[LiveSession]:
        return [s for s in self.live.values() if s.session is not None and s.session.user == user]

    def session_changed(self, live: LiveSession) -> None:
        """Coalesced: one update per session per tenth of a second (only while someone watches)."""
        if not self.subscribers:
            return
        self._dirty.add(live.id)
        if self._publish_call is None:
            self._publish_call = self.clock.callLater(0.1, self._publish_sessions)

    def _publish_sessions(self) -> None:
        self._publish_call = None
        dirty, self._dirty = self._dirty, set()
        for session_id in sorted(dirty):
            live = self.session(session_id)
            if live is not None:
                self.publish("session", live.snapshot())

    def session_closed(self, live: LiveSession) -> None:
        self.live.pop(live.id, None)
        self.closed.append(live)
        self.publish("session", live.snapshot())

    def sessions(self) -> list[dict]:
        return [s.snapshot() for s in self.live.values()] + [s.snapshot() for s in reversed(self.closed)]

    def note_user(self, user: str, text: str, mailbox: Optional[str] = None) -> None:
        """A note in the trace of each session of ``user`` (with ``mailbox`` selected)."""
        for live in self.sessions_of(user):
            selected = live.session.selected
            if mailbox is None or (selected is not None and selected.mailbox.name == mailbox):
                live.note(text)

    # -- streams ---------------------------------------------------------------------------
    def publish(self, event: str, data: Any) -> None:
        for subscriber in list(self.subscribers):
            try:
                subscriber(event, data)
            except Exception:
                log.failure("console stream failed")

    def _trace_line(self, session_id: int, line: str) -> None:
        for subscriber in list(self.trace_subscribers.get(session_id, ())):
            subscriber(line)

    # -- push ------------------------------------------------------------------------------
    def push_attempt(self, event: dict) -> None:
        self.attempts.append(event)
        self.publish("push", event)


class Monitor(service.Service):
    """Picks up faults and events other processes wrote; applies uidvalidity faults."""

    def __init__(self, book: FaultBook, store, hub: Optional[Hub], interval: float = MONITOR_INTERVAL):
        self.book = book
        self.store = store
        self.hub = hub
        self.interval = interval
        self.loop = task.LoopingCall(self.tick)
        self._last_event = 0
        self._applying = False
        book.on_reload.append(self.faults_reloaded)

    def startService(self) -> None:
        super().startService()
        last = TestbedEvent.select(TestbedEvent.id).order_by(TestbedEvent.id.desc()).first()
        self._last_event = last.id if last else 0  # events made while no server ran are not replayed
        TestbedEvent.delete().where(TestbedEvent.created_at < time.time() - EVENT_LOG_KEPT).execute()
        self.book.refresh(force=True)
        self.loop.start(self.interval, now=False)

    def stopService(self):
        if self.loop.running:
            self.loop.stop()
        return super().stopService()

    def tick(self) -> None:
        try:
            self.book.refresh()
        except Exception:
            log.failure("test bed: reading the fault table failed")

    def faults_reloaded(self) -> None:
        self._events()
        if not self._applying:
            self._applying = True
            try:
                for fault in self.book.faults(kind="uidvalidity"):
                    self.apply_uidvalidity(fault)
            finally:
                self._applying = False

    def _events(self) -> None:
        if self.hub is None:
            rows = []
        else:
            rows = list(TestbedEvent.select().where(TestbedEvent.id > self._last_event).order_by(TestbedEvent.id))
        for row in rows:
            self._last_event = row.id
            log.info("test bed: event for {user}: {what}", user=row.user, what=row.description)
            self.hub.note_user(row.user, f"event (pushimapd event): {row.description}")

    def apply_uidvalidity(self, fault: Fault) -> None:
        """The fault's mailbox gets a new UIDVALIDITY; sessions that have it selected get BYE."""
        from ..storage.names import MailboxError

        if not use_once(fault):
            return
        text = f"fault {fault.id} ({describe(fault)})"
        try:
            mailbox = self.store.account(fault.user).open(fault.mailbox)
            if self.hub is not None:
                self.hub.note_user(fault.user, f"{text} fired", mailbox=mailbox.name)
            value = mailbox.rebuild()
        except (MailboxError, OSError) as e:
            log.warn("test bed: {fault} for {user} could not be applied: {error}", fault=text, user=fault.user,
                     error=e)
        else:
            log.info("test bed: {fault} fired for {user}: UIDVALIDITY is now {value}", fault=text,
                     user=fault.user, value=value)
        self.book.changed()


def record_cli_event(user: str, kind: str, description: str) -> int:
    """The CLI writes what it is about to do, so a running server can note it."""
    return TestbedEvent.create(user=user, kind=kind, description=description[:512]).id


def forget_cli_event(event_id: int) -> None:
    with database.atomic():
        TestbedEvent.delete().where(TestbedEvent.id == event_id).execute()
