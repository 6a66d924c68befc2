"""One IMAP connection's state machine, sans-IO.

Bytes go in through `receive_data`; bytes to send come out of
`data_to_send`. Steps that must wait for something outside (a slow password
check, switching to TLS, closing) are handed to the transport as an `Action`;
the transport performs it and calls `Action.done`. IDLE news arrives through
`SelectedView.on_news` and is announced through `on_output`; so are NOTIFY
(RFC 5465) notifications, written by ``session.notify`` (commands.notify)
through the hooks below whenever no command is running.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from twisted.logger import Logger

from ..wire import reader as rd
from ..wire.grammar import Command
from ..wire.parser import CommandError, parse_command
from . import dispatch
from .dispatch import AUTHENTICATED, LOGOUT, NOT_AUTHENTICATED, SELECTED, Result
from .selected import SelectedView

BASE_CAPABILITIES = [
    "IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
    "UNSELECT", "CHILDREN", "UIDPLUS", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH",
    "CONDSTORE", "QRESYNC",
    "BINARY", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "THREAD=REFS",
    "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
    "MULTIAPPEND", "CATENATE", "URLAUTH", "URL-PARTIAL",
    "WITHIN", "SAVEDATE", "PREVIEW", "SEARCHRES", "CONTEXT=SEARCH", "CONTEXT=SORT", "UTF8=ACCEPT",
]
SMALL_LITERAL = 64 * 1024
MAX_PIPELINED = 4 * 1024 * 1024  # input buffered while a command waits on the transport
log = Logger()


def log_one_line(what: str, error: BaseException) -> None:
    """A failure caused by one client's input is one log line (where it
    happened, not a traceback a client could inflate); the traceback is
    kept for debug level."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    text = repr(str(error)[:200])[1:-1]  # client bytes may sit in the message: no line breaks
    log.error("{what}: {kind}: {error}{where}", what=what, kind=type(error).__name__, error=text, where=where)
    log.debug("{trace}", trace="".join(traceback.format_exception(error)))


@dataclass
class ServerConfig:
    """What every session shares: storage, users, limits, capabilities."""

    store: Any  # an interfaces.IMailStore (storage.maildir.account.MailStore)
    users: Any  # auth.UserDirectory-like: verify(name, password) -> bool
    max_append: int = 64 * 1024 * 1024
    allow_insecure_auth: bool = False  # plaintext auth on non-TLS non-loopback links
    tls_available: bool = False
    push: Any = None  # push registry, when push is enabled
    metadata: Any = None  # METADATA store (metadata_db.MetadataStore), when enabled
    quiet_folders: tuple = ("Junk", "Spam")
    extra_capabilities: tuple = ()
    quotas: Any = None  # quota.Quotas: limits per user and usage; None: no quotas
    urlauth: Any = None  # urlauth.UrlAuthKeys: URLAUTH mailbox keys; None: no URLAUTH
    faults: Any = None  # testbed.faults.FaultBook: faults that fire on commands; None: no test bed


@dataclass
class Action:
    """Something the transport must do before the session goes on."""

    kind: str  # "verify-password", "start-tls", "start-compression", "delay", "close"
    args: dict = field(default_factory=dict)
    done: Callable[[Any], None] = lambda result: None


class Session:
    def __init__(self, config: ServerConfig, secure: bool = False, local: bool = True):
        self.config = config
        self.secure = secure  # TLS is on
        self.local = local  # the peer is on loopback
        self.state = NOT_AUTHENTICATED
        self.user: Optional[str] = None
        self.account = None
        self.selected: Optional[SelectedView] = None
        self.reader = rd.CommandReader(self._literal_limit, precheck=self._before_literal,
                                       oversize=self._oversize_literal)
        self.enabled: set[str] = set()
        self.pending: Optional[Action] = None
        self.on_output: Callable[[], None] = lambda: None
        self.on_note: Callable[[str], None] = lambda text: None  # test bed: a fault fired (trace, log)
        self.idling: Optional[str] = None  # tag of the running IDLE
        self.sasl: Optional[Callable[[bytes], Any]] = None  # AUTHENTICATE continuation
        self._out: list[bytes] = []
        self._current: Optional[Command] = None
        self.closed = False
        self.paused = False  # the client is not reading our answers: take no new commands
        self.compressed = False  # COMPRESS=DEFLATE is on (the transport deflates and inflates)
        self.notify: Any = None  # NOTIFY state (commands.notify.Notifications) while NOTIFY SET is on

    # -- transport side ---------------------------------------------------------
    def greeting(self) -> None:
        self.untagged(b"OK [CAPABILITY " + self.capabilities().encode() + b"] pushimapd ready")

    def receive_data(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.paused or (self.pending is not None and self.pending.kind != "close")
        if waiting and self.reader.buffered > MAX_PIPELINED:
            # a client pouring data in while we wait (e.g. on a password check)
            self.untagged(b"BYE Too much data sent ahead of the server's answers")
            self.closed = True
            self.pending = Action("close")
            return
        self._run()

    def pause(self) -> None:
        """Stop taking commands (the client is not reading what we send)."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        if self.notify is not None:
            self.notify.resumed()  # notifications held while the client was not reading
        self._run()

    def data_to_send(self) -> bytes:
        data = b"".join(self._out)
        self._out.clear()
        return data

    def connection_lost(self) -> None:
        self.closed = True
        if self.notify is not None:
            self.notify.close()
        self.unselect()

    def between_commands(self) -> bool:
        """True when untagged data may go out now, outside any command (NOTIFY, IDLE)."""
        return self._current is None and self.pending is None and not self.closed and not self.paused

    # -- output helpers -----------------------------------------------------------
    def untagged(self, line: bytes) -> None:
        self._out.append(b"* " + line + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        self._out.append(data)

    def plaintext_allowed(self) -> bool:
        """LOGIN / AUTH=PLAIN: over TLS, from a trusted network, or if the operator says so."""
        return self.secure or self.local or self.config.allow_insecure_auth

    def capabilities(self) -> str:
        """The CAPABILITY list for this session's state."""
        caps = list(BASE_CAPABILITIES)
        if self.state == NOT_AUTHENTICATED:
            if self.config.tls_available and not self.secure:
                caps.append("STARTTLS")
            caps.append("AUTH=PLAIN" if self.plaintext_allowed() else "LOGINDISABLED")
        elif not self.compressed:
            caps.append("COMPRESS=DEFLATE")  # RFC 4978: command-auth, and only once
        caps.extend(self.config.extra_capabilities)
        return " ".join(caps)

    def _literal_limit(self, name: str) -> int:
        if name == "SETMETADATA" and self.config.metadata is not None:
            return max(SMALL_LITERAL, self.config.metadata.limits.max_value_size)
        return self.config.max_append if name == "APPEND" else SMALL_LITERAL

    def _oversize_literal(self, name: str):
        """RFC 5464: a value over the limit is ``NO [METADATA MAXSIZE n]``, before ``+``."""
        if name == "SETMETADATA" and self.config.metadata is not None:
            limit = self.config.metadata.limits.max_value_size
            return ("NO", f"[METADATA MAXSIZE {limit}] Values are limited to {limit} octets")
        return None

    def _before_literal(self, tag: str, name: str, first_line: bytes):
        """Refuse before ``+``: wrong state, or APPEND to a mailbox that is missing."""
        spec = dispatch.COMMANDS.get(name.split(" ")[-1])
        if spec is None:
            return ("BAD", f"Unknown command {name}")
        if self.state not in spec.states:
            return ("BAD", f"{spec.name} is not allowed in the {self.state} state")
        if self.user is not None and self.config.faults is not None:  # test bed: refused before "+"
            hit = self.config.faults.check(self, spec.name, uid=name.upper().startswith("UID "), before_literal=True)
            if hit is not None:
                self.on_note(f"fault {hit.fault_id} ({hit.description}) fired on {tag} {name}")
                return (hit.status, (f"[{hit.code}] " if hit.code else "") + hit.text)
        if name == "APPEND" and self.account is not None:
            from ..wire.parser import Cursor

            cursor = Cursor(first_line)
            try:
                cursor.pos = first_line.upper().index(b" APPEND ") + 8
                mailbox = cursor.astring() if not cursor.at_literal() else None
            except Exception:
                return None  # let the parser report it once the command is complete
            if mailbox is not None:
                from ..storage.names import MailboxError, from_utf8, validate_name

                try:  # UTF-8 names once UTF8=ACCEPT (RFC 6855) or IMAP4rev2 is enabled
                    utf8 = bool(self.enabled & {"UTF8=ACCEPT", "IMAP4REV2"})
                    name = validate_name(from_utf8(mailbox) if utf8 else mailbox.decode("ascii"))
                except (UnicodeDecodeError, MailboxError):
                    return ("NO", "[CANNOT] Invalid mailbox name")
                if not self.account.exists(name):
                    return ("NO", "[TRYCREATE] Mailbox does not exist")
        return None

    # -- main loop ---------------------------------------------------------------
    def _run(self) -> None:
        while self.pending is None and not self.closed and not self.paused:
            event = self.reader.next_event()
            if event is rd.NEED_DATA:
                break
            if isinstance(event, rd.Continue):
                self.send_raw(b"+ Ready for literal data\r\n")
            elif isinstance(event, rd.Rejected):
                self.send_raw(f"{event.tag} {event.status} {event.text}\r\n".encode())
                if event.fatal:
                    self.untagged(b"BYE Cannot resynchronise the command stream")
                    self._close()
            elif isinstance(event, rd.Line):
                self._line(event.data)
            elif isinstance(event, rd.CommandBytes):
                self._command(event.data)
                if self._out and self.pending is None:
                    # hand each answer over at once: a transport whose buffer
                    # fills pauses us (back-pressure) before the next command
                    self.on_output()

    def _line(self, data: bytes) -> None:
        if self.idling is not None:
            if data.strip().upper() == b"DONE":
                tag, self.idling = self.idling, None
                self.reader.set_line_mode(False)
                self.flush_news(allow_expunge=True)
                self.send_raw(dispatch.OK("IDLE terminated").line(tag))
            else:
                self.untagged(b"BAD Expected DONE")
            return
        if self.sasl is not None:
            step, self.sasl = self.sasl, None
            self.reader.set_line_mode(False)
            self._finish(self._current, step(data))

    def _command(self, data: bytes) -> None:
        try:
            cmd = parse_command(data, dispatch.parsers())
        except Exception as e:
            if not isinstance(e, CommandError):  # a parser bug: one log line, a BAD, go on
                tag, name = rd.guess_tag_and_command(data)
                log_one_line(f"parsing {name or 'a command'} failed", e)
                e = CommandError(tag, "Invalid command")
            self.send_raw(dispatch.Result(e.status, e.text).line(e.tag))
            if self.state == SELECTED:
                self.flush_news(allow_expunge=False)
            return
        spec = dispatch.COMMANDS[cmd.name]
        if self.state not in spec.states:
            self._finish_with(cmd, dispatch.BAD(f"{cmd.name} is not allowed in the {self.state} state"))
            return
        self._current = cmd
        if self.user is not None and self.config.faults is not None and (self._fault(cmd, spec) or self.closed):
            return
        self._finish(cmd, self._execute(cmd, spec))

    def _execute(self, cmd: Command, spec):
        try:
            if self.state == SELECTED:
                self.selected.mailbox.sync()
            self._act(self)  # the origin of what this command changes (NOTIFY leaves out our own)
            return spec.handler(self, cmd)
        except Exception as e:  # never drop the connection over one command
            log_one_line(f"command {cmd.name} failed", e)
            return dispatch.NO("Internal server error", "SERVERBUG")
        finally:
            self._act(None)

    def _fault(self, cmd: Command, spec) -> bool:
        """Test bed: a fault that fires on this command takes it over (True)."""
        hit = self.config.faults.check(self, cmd.name, uid=cmd.uid)
        if hit is None:
            return False
        self.on_note(f"fault {hit.fault_id} ({hit.description}) fired on {cmd.tag} {'UID ' if cmd.uid else ''}{cmd.name}")
        if hit.kind == "respond":
            self._finish_with(cmd, Result(hit.status, hit.text, hit.code))
        elif hit.kind == "delay":
            self._finish(cmd, Action("delay", {"seconds": hit.seconds}, done=lambda _: self._execute(cmd, spec)))
        elif hit.kind == "bye":
            self.untagged(b"BYE " + hit.text.encode("ascii", "replace"))
            self._drop()
        elif hit.kind == "cut":  # half of the answer, then the connection drops
            start = len(self._out)
            outcome = self._execute(cmd, spec)
            if not isinstance(outcome, Action):
                self._finish(cmd, outcome)
            answer = b"".join(self._out[start:])
            del self._out[start:]
            self._out.append(answer[: len(answer) // 2])
            self._drop()
        else:  # "drop": not a word
            self._drop()
        return True

    def _drop(self) -> None:
        self._current = None
        self.closed = True
        self.pending = Action("close")

    def _act(self, session) -> None:
        if self.config.store is not None:
            self.config.store.acting = session

    def _finish(self, cmd: Command, outcome) -> None:
        if isinstance(outcome, Action):
            original = outcome.done

            def done(result: Any) -> None:
                self.pending = None
                self._finish(cmd, original(result))
                self._run()
                self.on_output()

            outcome.done = done
            self.pending = outcome
            return
        if outcome is dispatch.ANSWERED:
            self._current = None
            return
        if outcome is None:  # the command keeps running (IDLE, AUTHENTICATE)
            self._current = None if self.idling else cmd
            return
        self._finish_with(cmd, outcome)

    def _finish_with(self, cmd: Command, result: Result) -> None:
        if self.state == SELECTED and self.selected is not None:
            self.selected.mailbox.save_cache()
            spec = dispatch.COMMANDS.get(cmd.name)
            allow = spec is None or spec.expunge_ok or cmd.uid
            if self.notify is not None:
                allow = allow or self.notify.expunges_anytime
            self.flush_news(allow_expunge=allow)
        if self.notify is not None:
            self.notify.write_pending()
        self.send_raw(result.line(cmd.tag))
        self._current = None
        if self.state == LOGOUT:
            self._close()

    def _close(self) -> None:
        self.pending = Action("close")

    # -- selected mailbox ---------------------------------------------------------
    def select(self, mailbox, read_write: bool) -> SelectedView:
        self.unselect()
        self.selected = SelectedView(mailbox, read_write, on_news=self._news_arrived, on_reset=self._mailbox_reset,
                                     enabled=self.enabled)
        self.state = SELECTED
        return self.selected

    def unselect(self) -> None:
        if self.selected is not None:
            self.selected.close()
            self.selected = None
        if self.state == SELECTED:
            self.state = AUTHENTICATED

    def _mailbox_reset(self) -> None:
        """The selected mailbox got a new UIDVALIDITY (rebuilt elsewhere):
        the client's UIDs mean nothing any more; it must reconnect."""
        self.untagged(b"BYE Mailbox UIDVALIDITY changed; reconnect and resynchronise")
        self.closed = True
        self.pending = Action("close")
        self.on_output()

    def _news_arrived(self) -> None:
        if self.notify is not None:  # NOTIFY decides what goes out when (RFC 5465 4, 6.1)
            self.notify.selected_news()
            return
        if self.idling is not None and self._current is None:
            self.flush_news(allow_expunge=True)
            self.on_output()

    def flush_news(self, allow_expunge: bool, with_flags: bool = True) -> None:
        view = self.selected
        if view is not None:
            notify = self.notify
            added = view.pending_added() if notify is not None else None
            if notify is not None:
                view.uid_in_flag_fetch = notify.flag_uid
            for line in view.flush(allow_expunge, with_flags):
                self.send_raw(line)
            if added:
                notify.messages_announced(added)  # MessageNew's FETCH after the EXISTS
