"""QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA, and the checks APPEND and COPY make.

Every user has at most one quota root, ``""``, covering all their folders;
it exists when the administrator set a limit (``pushimapd user quota``).
Resources: STORAGE (KiB, the sum of RFC822.SIZE) and MESSAGE. A message
that would go over a limit is refused with ``NO [OVERQUOTA]``; MOVE between
the user's folders adds nothing and is never refused; mail delivered by an
MTA is never refused here but counts. STATUS gains DELETED and
DELETED-STORAGE (RFC 9208 4.2).
"""

from __future__ import annotations

from typing import Optional

from ..core.dispatch import AUTH, NO, OK, Result, command
from ..wire import serializer as ser
from .mailboxes import STATUS_ITEMS, failure, mailbox_name, wire_name
from ..storage.names import MailboxError

ROOT = ""
RESOURCES = ("STORAGE", "MESSAGE")


def _deleted(mailbox) -> int:
    return sum(1 for u in mailbox.uids if "\\Deleted" in mailbox.flags(u))


def _deleted_storage(mailbox) -> int:
    """The RFC822.SIZE sum of \\Deleted messages (what EXPUNGE would free)."""
    return sum(mailbox.size(u) for u in mailbox.uids if "\\Deleted" in mailbox.flags(u))


STATUS_ITEMS.setdefault("DELETED", _deleted)
STATUS_ITEMS.setdefault("DELETED-STORAGE", _deleted_storage)


def _limits(session):
    quotas = session.config.quotas
    return quotas.limits(session.user) if quotas is not None else None


def quota_refusal(session, add_octets: int, add_messages: int) -> Optional[Result]:
    """``NO [OVERQUOTA]`` if adding this much would exceed a limit, else None."""
    limits = _limits(session)
    if limits is None or not limits.any:
        return None
    usage = session.config.quotas.usage.usage(session.account)
    if limits.messages is not None and usage.messages + add_messages > limits.messages:
        return NO(f"Quota exceeded: at most {limits.messages} messages", "OVERQUOTA")
    if limits.storage_kib is not None and usage.octets + add_octets > limits.storage_kib * 1024:
        return NO(f"Quota exceeded: at most {limits.storage_kib} KiB", "OVERQUOTA")
    return None


def _quota_line(session, limits) -> bytes:
    usage = session.config.quotas.usage.usage(session.account)
    parts = []
    if limits.storage_kib is not None:
        parts.append(b"STORAGE %d %d" % (usage.kib, limits.storage_kib))
    if limits.messages is not None:
        parts.append(b"MESSAGE %d %d" % (usage.messages, limits.messages))
    return b"QUOTA " + ser.string(ROOT) + b" (" + b" ".join(parts) + b")"


def _one_astring(cursor):
    cursor.sp()
    return (cursor.astring(),)


@command("GETQUOTAROOT", AUTH, _one_astring)
def getquotaroot(session, cmd):
    try:
        name = mailbox_name(cmd.args[0], session)
        if not session.account.exists(name):
            return NO("Mailbox does not exist", "NONEXISTENT")
    except MailboxError as e:
        return failure(e)
    limits = _limits(session)
    has_root = limits is not None and limits.any
    session.untagged(b"QUOTAROOT " + wire_name(session, name, atom=True) + (b" " + ser.string(ROOT) if has_root else b""))
    if has_root:
        session.untagged(_quota_line(session, limits))
    return OK("GETQUOTAROOT completed")


@command("GETQUOTA", AUTH, _one_astring)
def getquota(session, cmd):
    limits = _limits(session)
    if cmd.args[0] != ROOT.encode() or limits is None or not limits.any:
        return NO("No such quota root", "NONEXISTENT")
    session.untagged(_quota_line(session, limits))
    return OK("GETQUOTA completed")


def _setquota_args(cursor):
    cursor.sp()
    root = cursor.astring()
    cursor.sp()
    cursor.expect(b"(", "Expected '(' and resource limits")
    limits = []
    while not cursor.try_(b")"):
        if limits:
            cursor.sp()
        resource = cursor.atom().upper()
        cursor.sp()
        limits.append((resource, cursor.number()))
    return (root, tuple(limits))


@command("SETQUOTA", AUTH, _setquota_args)
def setquota(session, cmd):
    return NO("Quota limits are set by the administrator", "NOPERM")


def check_copy(session, cmd) -> Optional[Result]:
    """COPY's quota check: the size and count of the messages it names."""
    from .fetch import InvalidSet, resolve_set

    limits = _limits(session)
    if limits is None or not limits.any:
        return None
    view = session.selected
    try:
        targets = resolve_set(view, cmd.args[0], cmd.uid)
    except InvalidSet:
        return None  # COPY itself answers BAD
    mailbox = view.mailbox
    uids = [u for _s, u in targets if not view.is_expunged(u)]
    try:
        octets = sum(mailbox.size(u) for u in uids)
    except KeyError:
        return None  # some are gone: COPY itself answers NO [EXPUNGEISSUED]
    return quota_refusal(session, octets, len(uids))

