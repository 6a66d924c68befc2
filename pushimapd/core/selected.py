"""One session's view of its selected mailbox: sequence numbers and queued news.

The client's sequence numbers change only when we *tell* it something: a
message expunged by anyone stays in ``uids`` until its ``* n EXPUNGE`` is
sent, which RFC 3501 §7.4.1 forbids during FETCH, STORE and SEARCH. News is
queued here by the shared mailbox and written out by `flush`.
"""

from __future__ import annotations

import bisect
from typing import Callable, Optional

from ..wire.serializer import flag_list, number_set


_FLAG_LISTS: dict[tuple[frozenset, bool], bytes] = {}


def flag_list_bytes(flags: frozenset, recent: bool) -> bytes:
    """``(\\Seen \\Recent)`` for a flag set, memoised (mailboxes have few distinct sets)."""
    key = (flags, recent)
    out = _FLAG_LISTS.get(key)
    if out is None:
        if len(_FLAG_LISTS) > 4096:
            _FLAG_LISTS.clear()
        out = _FLAG_LISTS[key] = flag_list(sorted(flags) + (["\\Recent"] if recent else []))
    return out


class SelectedView:
    def __init__(self, mailbox, read_write: bool, on_news: Optional[Callable[[], None]] = None,
                 on_reset: Optional[Callable[[], None]] = None, enabled: Optional[set] = None):
        self.mailbox = mailbox
        self.read_write = read_write
        self.on_news = on_news  # wakes an idling session
        self.on_reset = on_reset  # the mailbox got a new UIDVALIDITY under us
        self.enabled = enabled if enabled is not None else set()  # the session's ENABLEd extensions
        self.uids: list[int] = list(mailbox.uids)
        self.recent: set[int] = set()
        self._expunged: set[int] = set()  # gone, not yet announced
        self._added: list[int] = []
        self._added_set: set[int] = set()
        self._flags: set[int] = set()
        self.uid_in_flag_fetch = False  # NOTIFY FlagChange: FETCH responses carry UID (RFC 5465 5.1)
        self.saved_result: list[int] = []  # SEARCHRES "$" (RFC 5182): UIDs; a new view starts empty
        # CONTEXT=SEARCH/SORT (RFC 5267): updating searches, told of changes by flush (duck-typed:
        # flags_changed / expunging / added / tick return ESEARCH lines); None until one exists
        self.result_updates = None
        self._flags_here: set[int] = set()  # flags this session changed itself (no FETCH owed)
        self.recent = mailbox.add_listener(self, read_write)

    def close(self) -> None:
        self.mailbox.remove_listener(self)

    # -- the mailbox calls these -------------------------------------------
    def messages_added(self, uids: list[int], recent: list[int] = ()) -> None:
        last = self.uids[-1] if self.uids else 0
        for uid in uids:
            if uid not in self._added_set and (uid > last or self.seq_of(uid) is None):
                self._added.append(uid)
                self._added_set.add(uid)
        self.recent.update(recent)
        self._wake()

    def messages_expunged(self, uids: list[int]) -> None:
        for uid in uids:
            if uid in self._added_set:
                self._added.remove(uid)
                self._added_set.discard(uid)
            else:
                self._expunged.add(uid)
            self.recent.discard(uid)
        self._wake()

    def flags_changed(self, uids: list[int]) -> None:
        self._flags.update(uids)
        self._wake()

    def flags_changed_here(self, uids) -> None:
        """This session changed these flags (its STORE answered them): only
        updating searches still need to look at them."""
        if self.result_updates is not None:
            self._flags_here.update(uids)

    def mailbox_reset(self) -> None:
        if self.on_reset is not None:
            self.on_reset()

    def _wake(self) -> None:
        if self.on_news is not None:
            self.on_news()

    # -- numbering -----------------------------------------------------------
    @property
    def exists(self) -> int:
        return len(self.uids)

    def uid_at(self, seq: int) -> int:
        return self.uids[seq - 1]

    def seq_of(self, uid: int) -> Optional[int]:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def is_expunged(self, uid: int) -> bool:
        return uid in self._expunged

    def has_news(self) -> bool:
        return bool(self._expunged or self._added or self._flags)

    def news_count(self) -> int:
        return len(self._expunged) + len(self._added) + len(self._flags)

    def pending_added(self) -> list[int]:
        """UIDs the next flush announces with EXISTS."""
        return list(self._added)

    def live_uids(self) -> list[int]:
        return [u for u in self.uids if u not in self._expunged]

    # -- announcing ------------------------------------------------------------
    @property
    def shows_recent(self) -> bool:
        """IMAP4rev2 (RFC 9051) has no \\Recent flag and no RECENT response."""
        return "IMAP4REV2" not in self.enabled

    def flags_of(self, uid: int) -> bytes:
        """The message's ``(flags)`` list as this session sees it (with \\Recent, but not under IMAP4rev2)."""
        return flag_list_bytes(self.mailbox.flags(uid), uid in self.recent and self.shows_recent)

    def flag_fetch(self, seq: int, uid: int, with_flags: bool = True, with_uid: bool = False) -> bytes:
        """``* n FETCH (...)`` telling a flag change: UID when asked or under
        QRESYNC, MODSEQ once CONDSTORE is on (RFC 7162)."""
        parts = []
        if with_uid or self.uid_in_flag_fetch or "QRESYNC" in self.enabled:
            parts.append(b"UID %d" % uid)
        if with_flags:
            parts.append(b"FLAGS " + self.flags_of(uid))
        if "CONDSTORE" in self.enabled:
            parts.append(b"MODSEQ (%d)" % self.mailbox.modseq(uid))
        return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts))

    def flush(self, allow_expunge: bool, with_flags: bool = True) -> list[bytes]:
        """Untagged responses for queued news: FETCH FLAGS (unless held back
        with ``with_flags``), EXPUNGE (or VANISHED under QRESYNC), EXISTS,
        RECENT; updating searches add their ESEARCH responses after the
        FETCHes, before the EXPUNGEs and after EXISTS (RFC 5267 4.3.3/4.3.4)."""
        out: list[bytes] = []
        updates = self.result_updates
        touched: set[int] = set()
        if with_flags:
            touched, self._flags_here = self._flags_here, set()
        if self._flags and with_flags:
            mailbox = self.mailbox
            for uid in sorted(self._flags):
                seq = self.seq_of(uid)
                if seq is not None and uid not in self._expunged and uid in mailbox:
                    out.append(self.flag_fetch(seq, uid))
            touched |= self._flags
            self._flags.clear()
        if updates is not None and touched:
            out.extend(updates.flags_changed(self, touched))
        if allow_expunge and self._expunged:
            if updates is not None:
                out.extend(updates.expunging(self, self._expunged))
            if "QRESYNC" in self.enabled:
                gone = self._expunged
                vanished = [u for u in self.uids if u in gone]
                if vanished:
                    self.uids = [u for u in self.uids if u not in gone]
                    out.append(b"* VANISHED " + number_set(vanished) + b"\r\n")
            else:
                for uid in sorted(self._expunged, reverse=True):
                    seq = self.seq_of(uid)
                    if seq is not None:
                        del self.uids[seq - 1]
                        out.append(b"* %d EXPUNGE\r\n" % seq)
            self._expunged.clear()
        if self._added:
            before = len(self.uids)
            added = sorted(self._added)
            for uid in added:
                if not self.uids or uid > self.uids[-1]:
                    self.uids.append(uid)
                else:
                    bisect.insort(self.uids, uid)
            self._added.clear()
            self._added_set.clear()
            if len(self.uids) != before:
                out.append(b"* %d EXISTS\r\n" % len(self.uids))
                if self.shows_recent:
                    out.append(b"* %d RECENT\r\n" % len(self.recent))
            if updates is not None:
                out.extend(updates.added(self, added))
        if updates is not None:
            out.extend(updates.tick(self))
        return out
