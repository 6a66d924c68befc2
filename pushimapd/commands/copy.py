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


def copy_messages(session, cmd):
    """Copy the named messages; returns (source uids, new uids, target) or a Result."""
    seqset, raw_target = cmd.args
    view = session.selected
    source = view.mailbox
    try:
        targets = resolve_set(view, seqset, cmd.uid)
    except InvalidSet as e:
        return BAD(str(e))
    target = open_target(session, raw_target)
    if isinstance(target, Result):
        return target
    uids = [u for _, u in targets]
    if any(view.is_expunged(u) or u not in source for u in uids):
        return NO("Some of the messages were expunged", "EXPUNGEISSUED")
    try:
        created = source.copy_into(target, uids)
    except OSError:
        return NO("Some of the messages could not be copied", "EXPUNGEISSUED")
    target.announce(created)
    return uids, created, target


@command("COPY", SELECT_ONLY, _copy_args)
def copy(session, cmd):
    refusal = check_copy(session, cmd)
    if refusal is not None:
        return refusal
    outcome = copy_messages(session, cmd)
    if not isinstance(outcome, tuple):
        return outcome
    uids, created, target = outcome
    if not uids:
        return OK("COPY completed (no messages)")
    return OK("COPY completed", copyuid(target, uids, created))


@command("MOVE", SELECT_ONLY, _copy_args)
def move(session, cmd):
    view = session.selected
    if not view.read_write:
        return NO("Mailbox is read-only", "READ-ONLY")
    seqset, raw_target = cmd.args
    try:
        targets = resolve_set(view, seqset, cmd.uid)
    except InvalidSet as e:
        return BAD(str(e))
    target = open_target(session, raw_target)
    if isinstance(target, Result):
        return target
    source = view.mailbox
    uids = [u for _, u in targets]
    if any(view.is_expunged(u) or u not in source for u in uids):
        return NO("Some of the messages were expunged", "EXPUNGEISSUED")
    if not uids:
        return OK("MOVE completed (no messages)")
    if target is source:
        return _copy_then_expunge(session, cmd, uids)
    try:
        created = source.move_to(target, uids)
    except OSError:  # not one file system (or a name clash): copy, then expunge
        return _copy_then_expunge(session, cmd, uids)
    moved = uids[: len(created)]
    target.announce(created)
    session.untagged(b"OK [" + copyuid(target, moved, created).encode() + b"] Moved")
    if len(moved) < len(uids):
        return NO("Some of the messages could not be moved", "EXPUNGEISSUED")
    return OK("MOVE completed")


def _copy_then_expunge(session, cmd, uids: list[int]):
    """MOVE as COPY + expunge (into the same folder, or across file systems)."""
    outcome = copy_messages(session, cmd)
    if not isinstance(outcome, tuple):
        return outcome
    uids, created, target = outcome
    session.untagged(b"OK [" + copyuid(target, uids, created).encode() + b"] Moved")
    session.selected.mailbox.expunge(uids, deleted_only=False)
    return OK("MOVE completed")
