"""CONDSTORE and QRESYNC (RFC 7162): enabling, and what SELECT (QRESYNC ...)
and UID FETCH (VANISHED) tell a client that comes back.

The modifiers themselves live with their commands (FETCH CHANGEDSINCE in
fetch.py, STORE UNCHANGEDSINCE in store.py, SEARCH MODSEQ in search.py,
SELECT parameters in mailboxes.py); this module holds what they share.
"""

from __future__ import annotations

from typing import Optional

from ..wire import serializer as ser
from ..wire.grammar import ParseError, SequenceSet

CONDSTORE = "CONDSTORE"
QRESYNC = "QRESYNC"


def enable_condstore(session) -> None:
    """A CONDSTORE-enabling command (RFC 7162 3.1): from now on FETCH
    responses carry MODSEQ; a selected mailbox's HIGHESTMODSEQ is told now."""
    if CONDSTORE in session.enabled:
        return
    session.enabled.add(CONDSTORE)
    if session.selected is not None:
        session.untagged(b"OK [HIGHESTMODSEQ %d] Highest" % session.selected.mailbox.highestmodseq)


def vanished_earlier(mailbox, modseq: int, known: Optional[SequenceSet]) -> list[int]:
    """UIDs among ``known`` (all when None) expunged after ``modseq``.

    With the full expunge history this is exact; when the history was
    trimmed below ``modseq``, every known UID that does not exist is listed
    (RFC 7162 3.2.5.2 allows a superset: the client ignores UIDs it never had).
    """
    largest = max(mailbox.uidnext - 1, 0)
    gone, exact = mailbox.vanished_since(modseq)
    if not exact:
        present = set(mailbox.uids)
        gone = [u for u in range(1, largest + 1) if u not in present]
    if known is None:
        return gone
    return [u for u in gone if known.contains(u, largest)]


def select_qresync_args(cursor) -> dict:
    """``(uidvalidity modseq [known-uids [(seqs uids)]])`` after QRESYNC."""
    cursor.expect(b"(", "Expected '(' after QRESYNC")
    uidvalidity = cursor.number(nonzero=True)
    cursor.sp()
    modseq = cursor.mod_sequence(nonzero=True)
    known, match = None, None
    if cursor.try_(b" "):
        if cursor.peek() != b"(":
            known = cursor.sequence_set()
            cursor.try_(b" ")
        if cursor.peek() == b"(":
            cursor.pos += 1
            seqs = cursor.sequence_set()
            cursor.sp()
            uids = cursor.sequence_set()
            cursor.expect(b")", "Expected ')' after the sequence match data")
            match = (seqs, uids)
    cursor.expect(b")", "Expected ')' after the QRESYNC parameters")
    if any(s is not None and s.last_result for s in (known, *(match or ()))):
        raise ParseError("$ (SEARCHRES) cannot be used in SELECT parameters")
    return {"uidvalidity": uidvalidity, "modseq": modseq, "known": known, "match": match}


def select_params(cursor) -> dict:
    """SELECT/EXAMINE ``(CONDSTORE)`` / ``(QRESYNC (...))`` parameters."""
    return cursor.named_options("SELECT parameter", {CONDSTORE: None, QRESYNC: select_qresync_args})


def qresync_after_select(session, view, params: dict) -> None:
    """The VANISHED (EARLIER) and FETCH responses of SELECT (QRESYNC ...):
    only when the client's UIDVALIDITY is still the mailbox's."""
    mailbox = view.mailbox
    if params["uidvalidity"] != mailbox.uidvalidity:
        return
    modseq, known = params["modseq"], params["known"]
    gone = vanished_earlier(mailbox, modseq, known)
    if gone:
        session.untagged(b"VANISHED (EARLIER) " + ser.number_set(gone))
    largest = max(mailbox.uidnext - 1, 0)
    out = []
    for uid in mailbox.changed_since(modseq):
        if known is not None and not known.contains(uid, largest):
            continue
        seq = view.seq_of(uid)
        if seq is not None:
            out.append(view.flag_fetch(seq, uid, with_uid=True))
    if out:
        session.send_raw(b"".join(out))
