"""COPY, UID COPY, MOVE and UID MOVE (RFC 6851), with COPYUID (RFC 4315)."""

from __future__ import annotations

from ..core.dispatch import BAD, NO, OK, SELECT_ONLY, Result, command
from ..wire import serializer as ser
from .fetch import InvalidSet, resolve_set
from .mailboxes import open_target
from .quota import check_copy


def uid_set_text(uids: list[int]) -> str:
    """1,2,3,7 -> "1:3,7" (order kept, runs folded)."""
    return ser.number_set(uids).decode()


def copyuid(target, uids: list[int], created: list[int]) -> str:
    """The COPYUID response code (RFC 4315) of a COPY or MOVE."""
    return f"COPYUID {target.uidvalidity} {uid_set_text(uids)} {uid_set_text(created)}"


def _copy_args(cursor):
    cursor.sp()
    seqset = cursor.sequence_set()
    cursor.sp()
    return (seqset, cursor.mailbox())


def _named(session, cmd):
    """(UIDs the command names, the target mailbox) or the Result refusing
    it: a bad set is BAD, a missing target TRYCREATE, and a message another
    session expunged makes the whole COPY/MOVE NO [EXPUNGEISSUED] (RFC 2180
    4.4.1: copying what is gone cannot be done in part)."""
    seqset, raw_target = cmd.args
    view = session.selected
    try:
        targets = resolve_set(view, seqset, cmd.uid)
    except InvalidSet as e:
        return BAD(str(e))
    target = open_target(session, raw_target)
    if isinstance(target, Result):
        return target
    uids = [u for _, u in targets]
    if any(view.is_expunged(u) or u not in view.mailbox for u in uids):
        return NO("Some of the messages were expunged", "EXPUNGEISSUED")
    return uids, target


def copy_messages(session, uids: list[int], target):
    """Copy ``uids`` into ``target``; returns the new UIDs, or a Result."""
    try:
        created = session.selected.mailbox.copy_into(target, uids)
    except OSError:
        return NO("Some of the messages could not be copied", "EXPUNGEISSUED")
    target.announce(created)
    return created


@command("COPY", SELECT_ONLY, _copy_args)
def copy(session, cmd):
    refusal = check_copy(session, cmd)
    if refusal is not None:
        return refusal
    named = _named(session, cmd)
    if isinstance(named, Result):
        return named
    uids, target = named
    if not uids:
        return OK("COPY completed (no messages)")
    created = copy_messages(session, uids, target)
    if isinstance(created, Result):
        return created
    return OK("COPY completed", copyuid(target, uids, created))


@command("MOVE", SELECT_ONLY, _copy_args)
def move(session, cmd):
    view = session.selected
    if not view.read_write:
        return NO("Mailbox is read-only", "READ-ONLY")
    named = _named(session, cmd)
    if isinstance(named, Result):
        return named
    uids, target = named
    if not uids:
        return OK("MOVE completed (no messages)")
    source = view.mailbox
    if target is not source:
        try:
            created = source.move_to(target, uids)
        except OSError:  # not one file system (or a name clash): copy, then expunge
            created = None
        if created is not None:
            moved = uids[: len(created)]
            target.announce(created)
            session.untagged(b"OK [" + copyuid(target, moved, created).encode() + b"] Moved")
            if len(moved) < len(uids):
                return NO("Some of the messages could not be moved", "EXPUNGEISSUED")
            return OK("MOVE completed")
    # into the same folder, or across file systems: COPY, then expunge
    created = copy_messages(session, uids, target)
    if isinstance(created, Result):
        return created
    session.untagged(b"OK [" + copyuid(target, uids, created).encode() + b"] Moved")
    source.expunge(uids, deleted_only=False)
    return OK("MOVE completed")
