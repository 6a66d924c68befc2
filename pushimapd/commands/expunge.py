"""CHECK, CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE (RFC 4315)."""

from __future__ import annotations

from ..core.dispatch import NO, OK, SELECT_ONLY, command


@command("CHECK", SELECT_ONLY)
def check(session, cmd):
    session.selected.mailbox.sync(force=True)
    return OK("CHECK completed")


@command("CLOSE", SELECT_ONLY)
def close(session, cmd):
    view = session.selected
    if view.read_write:
        view.mailbox.expunge()
    session.unselect()  # silently: CLOSE sends no EXPUNGE responses
    return OK("CLOSE completed")


@command("UNSELECT", SELECT_ONLY)
def unselect(session, cmd):
    session.unselect()
    return OK("UNSELECT completed")


def _uid_expunge_args(cursor):
    if cursor.at_end():
        return (None,)
    cursor.sp()
    return (cursor.sequence_set(),)


@command("EXPUNGE", SELECT_ONLY, _uid_expunge_args)
def expunge(session, cmd):
    view = session.selected
    if not view.read_write:
        return NO("Mailbox is read-only", "READ-ONLY")
    (uidset,) = cmd.args
    if cmd.uid != (uidset is not None):
        from ..core.dispatch import BAD

        return BAD("UID EXPUNGE takes a UID set; EXPUNGE takes no arguments")
    if uidset is None:
        view.mailbox.expunge()
    else:
        if uidset.last_result:  # SEARCHRES "$"
            from .fetch import saved_targets

            view.mailbox.expunge([u for _, u in saved_targets(view)])
        else:
            largest = view.uids[-1] if view.uids else 0
            view.mailbox.expunge(uidset.iter_members(view.live_uids(), largest))
    return OK("EXPUNGE completed")
