"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267): SEARCH / SORT RETURN (UPDATE)
and CANCELUPDATE.

An updating search is kept per selected mailbox (`UpdateContexts`, hung on
the session's `SelectedView`), with its keys and its current result (UIDs,
in mailbox order for SEARCH, in sort order for SORT). The view's `flush`,
which writes queued news only where untagged responses are allowed, asks
it for ``* ESEARCH (TAG "t") [UID] REMOVEFROM/ADDTO (...)``: a membership
change through flags after the FETCH FLAGS responses, messages expunged
just before their EXPUNGE (so sequence numbers are still valid), new
messages just after EXISTS. SEARCH updates have position 0 and sets in
mailbox order; SORT updates carry 1-based positions in sort order, one pair
per message (removals last position first, additions first position first:
applied in order, each lands where the new sort order puts it). Searches with WITHIN's OLDER / YOUNGER
are evaluated again at every flush, since time alone changes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..core.dispatch import BAD, OK, SELECT_ONLY, command
from ..storage.sorting import SortSource, sort_messages
from ..wire import serializer as ser
from ..wire.grammar import ParseError

MAX_CONTEXTS = 16  # updating searches per selected mailbox; more are refused with NOUPDATE
_TIMED = {"OLDER", "YOUNGER"}


def _timed(keys) -> bool:
    for key in keys:
        if key.name in _TIMED:
            return True
        nested = key.args[0] if key.name == "AND" else key.args if key.name in ("NOT", "OR") else ()
        if nested and _timed(nested):
            return True
    return False


@dataclass
class UpdateContext:
    tag: str
    uid: bool  # UID SEARCH / UID SORT: updates carry UIDs, else sequence numbers
    keys: tuple
    criteria: Optional[tuple]  # SORT criteria; None for SEARCH
    members: list = field(default_factory=list)  # UIDs in result order
    timed: bool = False


class UpdateContexts:
    """The updating searches of one selected mailbox (see the module docstring)."""

    def __init__(self):
        self.contexts: dict[str, UpdateContext] = {}

    # -- managing ----------------------------------------------------------
    def add(self, context: UpdateContext) -> None:
        context.timed = _timed(context.keys)
        self.contexts[context.tag] = context

    def full(self) -> bool:
        return len(self.contexts) >= MAX_CONTEXTS

    # -- what flush asks ----------------------------------------------------
    def flags_changed(self, view, uids) -> list[bytes]:
        """Messages (already announced) whose flags changed: in or out now?"""
        candidates = {u for u in uids if view.seq_of(u) is not None and not view.is_expunged(u)
                      and u in view.mailbox}
        if not candidates:
            return []
        return self._reevaluate(view, candidates)

    def expunging(self, view, gone) -> list[bytes]:
        """REMOVEFROM for members about to be announced as expunged (sent
        before the EXPUNGE responses, while their numbers hold)."""
        out = []
        for context in self.contexts.values():
            removed = [u for u in context.members if u in gone and view.seq_of(u) is not None]
            if removed:
                before = context.members
                doomed = set(removed)
                context.members = [u for u in before if u not in doomed]
                out.append(self._line(view, context, before, removed, []))
        return out

    def added(self, view, uids) -> list[bytes]:
        """ADDTO for new messages that match (sent after EXISTS)."""
        candidates = {u for u in uids if u in view.mailbox and not view.is_expunged(u)}
        return self._reevaluate(view, candidates) if candidates else []

    def tick(self, view) -> list[bytes]:
        """Searches whose result changes with time alone (WITHIN)."""
        out = []
        for context in self.contexts.values():
            if context.timed:
                live = {u for u in view.uids if not view.is_expunged(u) and u in view.mailbox}
                out.extend(self._reevaluate(view, live, only=context))
        return out

    # -- helpers -------------------------------------------------------------
    def _reevaluate(self, view, candidates: set, only: Optional[UpdateContext] = None) -> list[bytes]:
        from .search import search_view

        out = []
        for context in ([only] if only is not None else list(self.contexts.values())):
            hits = {uid for _, uid in search_view(view, context.keys, only=candidates)}
            before = context.members
            removed = [u for u in before if u in candidates and u not in hits]
            added = hits.difference(before)
            if not removed and not added:
                continue
            doomed = set(removed)
            kept = [u for u in before if u not in doomed]
            if context.criteria is None:
                context.members = sorted(kept + list(added))
            else:
                context.members = self._sorted(view, context, kept + list(added))
            out.append(self._line(view, context, before, removed, [u for u in context.members if u in added]))
        return out

    @staticmethod
    def _sorted(view, context: UpdateContext, uids: list[int]) -> list[int]:
        mailbox = view.mailbox
        source = SortSource(mailbox.header_block, mailbox.internal_date, mailbox.size)
        pairs = [(view.seq_of(u), u) for u in uids]
        return [u for _, u in sort_messages(pairs, list(context.criteria), source)]

    @staticmethod
    def _line(view, context: UpdateContext, before: list[int], removed: list[int], added: list[int]) -> bytes:
        """One ESEARCH update: REMOVEFROM, then ADDTO. SEARCH: position 0
        and sets in mailbox order. SORT (RFC 5267 4.3.3/4.3.4: positions are
        not 0 there): removals at their positions in ``before``, last first,
        and additions at their final positions, first first, so each pair
        is right when the client applies them in order."""
        number = (lambda u: u) if context.uid else view.seq_of
        parts = [b"(TAG " + ser.string(context.tag) + b")"]
        if context.uid:
            parts.append(b"UID")
        if context.criteria is None:
            if removed:
                parts.append(b"REMOVEFROM (0 " + ser.number_set(sorted(number(u) for u in removed)) + b")")
            if added:
                parts.append(b"ADDTO (0 " + ser.number_set(sorted(number(u) for u in added)) + b")")
        else:
            if removed:
                old = {u: i + 1 for i, u in enumerate(before)}
                pairs = [b"%d %d" % (old[u], number(u)) for u in sorted(removed, key=old.get, reverse=True)]
                parts.append(b"REMOVEFROM (" + b" ".join(pairs) + b")")
            if added:
                new = {u: i + 1 for i, u in enumerate(context.members)}
                pairs = [b"%d %d" % (new[u], number(u)) for u in sorted(added, key=new.get)]
                parts.append(b"ADDTO (" + b" ".join(pairs) + b")")
        return b"* ESEARCH " + b" ".join(parts) + b"\r\n"


def prepare_updates(session, cmd):
    """Before an updating search runs: BAD for a tag naming a live context
    (RFC 5267 4.3); an untagged ``NO [NOUPDATE "tag"]`` when too many are
    kept (the command still succeeds, without updates). Returns (BAD result
    or None, whether updates will be kept)."""
    view = session.selected
    if view.result_updates is None:
        view.result_updates = UpdateContexts()
    contexts = view.result_updates
    if cmd.tag in contexts.contexts:
        return BAD("Tag reuse: an updating search with this tag is still active"), False
    if contexts.full():
        session.untagged(b"NO [NOUPDATE " + ser.string(cmd.tag) + b"] Too many updating searches")
        return None, False
    return None, True


def start_updates(session, cmd, keys, criteria, result_uids: list[int]) -> None:
    """Keep the search (its result in result order) up to date from now on."""
    session.selected.result_updates.add(UpdateContext(cmd.tag, cmd.uid, keys, criteria, list(result_uids)))


def _cancel_args(cursor):
    tags = []
    while not cursor.at_end():
        cursor.sp()
        raw = cursor.quoted()
        try:
            tags.append(raw.decode("ascii"))
        except UnicodeDecodeError:
            raise ParseError("Tags are 7-bit") from None
    if not tags:
        raise ParseError("CANCELUPDATE needs the quoted tags of updating searches")
    return tuple(tags)


@command("CANCELUPDATE", SELECT_ONLY, _cancel_args)
def cancel_update(session, cmd):
    contexts = session.selected.result_updates
    unknown = [t for t in cmd.args if contexts is None or t not in contexts.contexts]
    if unknown:
        return BAD(f"No updating search with tag {unknown[0]}")
    for tag in cmd.args:
        contexts.contexts.pop(tag, None)
    return OK("CANCELUPDATE completed")
