"""FETCH and UID FETCH, plus the message-set resolution shared with STORE/COPY/SEARCH."""

from __future__ import annotations

import datetime
import time

from ..core.selected import flag_list_bytes
from ..core.session import Action
from ..core.dispatch import BAD, NO, OK, SELECT_ONLY, command
from ..wire import serializer as ser
from ..wire.grammar import FetchItem, ParseError, SequenceSet
from ..wire.parser import fetch_attributes
from . import resync
from .binary import UnknownTransferEncoding, is_binary_item, render_binary
from .fetch_extras import BULK_ITEMS, bulk_renderer
from .fetch_structure import bodystructure, envelope
from ..storage.mime import ParsedMessage

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH_BYTES = [m.encode() for m in _MONTHS]
_SEEN_SETTING = {"RFC822", "RFC822.TEXT"}


class InvalidSet(Exception):
    """A message sequence number beyond the mailbox: answered BAD."""


def saved_targets(view) -> list[tuple[int, int]]:
    """(seq, uid) of the messages of the saved search result "$" (RFC 5182)
    still in the view (always UIDs underneath: expunged ones drop out)."""
    mailbox = view.mailbox
    out = []
    for uid in view.saved_result:
        seq = view.seq_of(uid)
        if seq is not None and uid in mailbox and not view.is_expunged(uid):
            out.append((seq, uid))
    return out


def resolve_set(view, seqset: SequenceSet, uid: bool) -> list[tuple[int, int]]:
    """(seq, uid) pairs a sequence or UID set (or "$") names in this session's view."""
    if seqset.last_result:
        return saved_targets(view)
    return [(p + 1, view.uids[p]) for p in resolve_positions(view, seqset, uid)]


def resolve_positions(view, seqset: SequenceSet, uid: bool) -> list[int]:
    """Positions (seq - 1) in this session's view that a set (or "$") names."""
    if seqset.last_result:
        return [seq - 1 for seq, _ in saved_targets(view)]
    uids = view.uids
    if uid:
        return seqset.positions(uids, uids[-1]) if uids else []
    count = len(uids)
    for start, end in seqset.ranges:
        for n in (start, end):
            if n is not None and n > count:
                raise InvalidSet(f"Invalid message sequence number {n} (mailbox has {count})")
    return seqset.positions(range(1, count + 1), count) if count else []


def format_internal_date(when: datetime.datetime) -> bytes:
    when = when.astimezone(datetime.timezone.utc)
    return b'"%02d-%s-%04d %02d:%02d:%02d +0000"' % (
        when.day, _MONTHS[when.month - 1].encode(), when.year, when.hour, when.minute, when.second)


def _fetch_args(cursor):
    cursor.sp()
    seqset = cursor.sequence_set()
    cursor.sp()
    items = fetch_attributes(cursor)
    modifiers: dict = {}
    if not cursor.at_end():
        cursor.sp()
        modifiers = _fetch_modifiers(cursor)
    return (seqset, items, modifiers)


def _fetch_modifiers(cursor) -> dict:
    """``(CHANGEDSINCE n [VANISHED])`` (RFC 7162)."""
    modifiers = cursor.named_options("FETCH modifier", {
        "CHANGEDSINCE": lambda c: c.mod_sequence(), "VANISHED": None})
    if "VANISHED" in modifiers and "CHANGEDSINCE" not in modifiers:
        raise ParseError("VANISHED needs CHANGEDSINCE")
    return modifiers


def _body_value(msg, item: FetchItem) -> tuple[bytes, bytes]:
    """(label, value) of a BODY[...] item, with the partial applied."""
    section = item.section
    data = msg.section(section.part, section.text, section.fields) if msg is not None else None
    label = b"BODY[" + section.wire() + b"]"
    if data is None:
        return label, b"NIL"
    if item.partial is not None:
        origin, count = item.partial
        data = data[origin : origin + count]
        label += b"<%d>" % origin
    return label, ser.literal(data) if data else b'""'


def render_item(session, uid: int, item: FetchItem) -> bytes:
    mailbox = session.selected.mailbox
    name = item.name
    if name == "UID":
        return b"UID %d" % uid
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % mailbox.modseq(uid)
    if name == "FLAGS":
        return b"FLAGS " + session.selected.flags_of(uid)
    if name == "INTERNALDATE":
        return b"INTERNALDATE " + format_internal_date(mailbox.internal_date(uid))
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % mailbox.size(uid)
    msg = mailbox.message(uid)
    if msg is None:
        raise FileNotFoundError(uid)
    return render_message_item(session, msg, item)


def render_message_item(session, msg: ParsedMessage, item: FetchItem) -> bytes:
    """An item rendered from the message's bytes (all but the metadata items)."""
    name = item.name
    if name == "ENVELOPE":
        return b"ENVELOPE " + envelope(msg)
    if name == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE " + bodystructure(msg, True, "IMAP4REV2" in session.enabled)
    if name == "BODY" and item.section is None:
        return b"BODY " + bodystructure(msg, False, "IMAP4REV2" in session.enabled)
    if name == "RFC822":
        return b"RFC822 " + ser.literal(msg.raw)
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER " + ser.literal(msg.section((), "HEADER"))
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT " + ser.literal(msg.section((), "TEXT"))
    if is_binary_item(item):
        return render_binary(msg, item)
    label, value = _body_value(msg, item)
    return label + b" " + value


def _fast_renderer(view, item: FetchItem):
    """Renderers for the cheap items clients ask for on every message."""
    mailbox = view.mailbox
    if item.name == "UID":
        return lambda uid: b"UID %d" % uid
    if item.name == "MODSEQ":
        modseq = mailbox.modseq
        return lambda uid: b"MODSEQ (%d)" % modseq(uid)
    if item.name == "FLAGS":
        recent, flags = (view.recent if view.shows_recent else ()), mailbox.flags
        return lambda uid: b"FLAGS " + flag_list_bytes(flags(uid), uid in recent)
    if item.name == "RFC822.SIZE":
        size = mailbox.size
        return lambda uid: b"RFC822.SIZE %d" % size(uid)
    if item.name == "INTERNALDATE":
        internal_time = mailbox.internal_time
        return lambda uid: _internal_date_bytes(internal_time(uid))
    return None


_COLUMN_ITEMS = {"UID", "FLAGS", "MODSEQ", "RFC822.SIZE", "INTERNALDATE"}
_COLUMN_OF = {"FLAGS": "flags", "MODSEQ": "modseq", "RFC822.SIZE": "size", "INTERNALDATE": "internal_time"}


def _changed_targets(session, view, uid: bool, seqset: SequenceSet, modifiers: dict) -> list[tuple[int, int]]:
    """(seq, uid) of the named messages changed after CHANGEDSINCE, found from
    the (few) changed UIDs rather than by walking the whole set; VANISHED
    (EARLIER) first when asked (RFC 7162 3.2.6)."""
    mailbox = view.mailbox
    since = modifiers["CHANGEDSINCE"]
    count = len(view.uids)
    if not uid and not seqset.last_result:
        for start, end in seqset.ranges:
            for n in (start, end):
                if n is not None and n > count:
                    raise InvalidSet(f"Invalid message sequence number {n} (mailbox has {count})")
    saved = set(view.saved_result) if seqset.last_result else None  # "$" (RFC 5182)
    if "VANISHED" in modifiers and saved is None:
        gone = resync.vanished_earlier(mailbox, since, seqset)
        if gone:
            session.untagged(b"VANISHED (EARLIER) " + ser.number_set(gone))
    largest_uid = view.uids[-1] if view.uids else 0
    targets = []
    for changed in mailbox.changed_since(since):
        seq = view.seq_of(changed)
        if seq is None:
            continue
        if saved is not None:
            named = changed in saved
        else:
            named = seqset.contains(changed, largest_uid) if uid else seqset.contains(seq, count)
        if named:
            targets.append((seq, changed))
    return targets


_CHUNK = 4096  # FETCH lines written before the reactor gets a turn
_FIRST_CHUNK = 256  # a small first piece, so the client starts reading at once


def column_fetch(session, view, items, positions: list[int]):
    """FETCH of per-message metadata only (UID FLAGS MODSEQ RFC822.SIZE
    INTERNALDATE) while the view is the mailbox: each line is one format of
    values taken from whole columns (a 50,000-message ``UID FETCH 1:*
    (FLAGS)`` is what every client without CONDSTORE sends). None when it
    does not apply; else the command's outcome. A long answer goes out in
    chunks with a reactor turn between them (an ``Action("yield")``), so the
    client parses the first lines while the next are made and other
    connections are served meanwhile."""
    mailbox = view.mailbox
    if any(i.name not in _COLUMN_ITEMS for i in items) or view.has_news() or view.uids != mailbox.uids:
        return None
    uids = view.uids
    templates = {"UID": b"UID %d", "FLAGS": b"FLAGS %s", "MODSEQ": b"MODSEQ (%d)",
                 "RFC822.SIZE": b"RFC822.SIZE %d", "INTERNALDATE": b"%s"}
    line = b"* %d FETCH (" + b" ".join(templates[i.name] for i in items) + b")\r\n"

    def values(item, chunk) -> list:
        if item.name == "UID":
            return [uids[p] for p in chunk]
        column = mailbox.column(_COLUMN_OF[item.name], chunk)
        if item.name == "FLAGS":
            return _flag_lists(view, column, chunk)
        if item.name == "INTERNALDATE":
            return [_internal_date_bytes(t) for t in column]
        return column

    def write(start: int, size: int):
        chunk = positions[start:start + size]
        rows = zip([p + 1 for p in chunk], *(values(item, chunk) for item in items))
        session.send_raw(b"".join([line % row for row in rows]))
        if start + size >= len(positions):
            return OK("FETCH completed")
        return Action("yield", {}, done=lambda _: write(start + size, _CHUNK))

    return write(0, _FIRST_CHUNK)


def _flag_lists(view, flags: list, positions) -> list[bytes]:
    """``(\\Seen ...)`` for each of ``positions`` (``flags`` aligned with
    them): one rendering per distinct flag set, \\Recent added for the
    messages recent in this session."""
    rendered = {f: flag_list_bytes(f, False) for f in set(flags)}
    out = list(map(rendered.__getitem__, flags))
    if view.recent and view.shows_recent:
        uids = view.uids
        for i, p in enumerate(positions):
            if uids[p] in view.recent:
                out[i] = flag_list_bytes(flags[i], True)
    return out


_DAYS: dict[int, bytes] = {}


def _internal_date_bytes(mtime: int) -> bytes:
    """``INTERNALDATE "dd-Mon-yyyy hh:mm:ss +0000"``; the date part is
    computed once per day (big mailboxes have many messages a day)."""
    day, seconds = divmod(mtime, 86400)
    date = _DAYS.get(day)
    if date is None:
        t = time.gmtime(mtime)
        if len(_DAYS) > 100_000:
            _DAYS.clear()
        date = _DAYS[day] = b"%02d-%s-%04d" % (t.tm_mday, _MONTH_BYTES[t.tm_mon - 1], t.tm_year)
    hours, rest = divmod(seconds, 3600)
    return b'INTERNALDATE "%s %02d:%02d:%02d +0000"' % (date, hours, rest // 60, rest % 60)


_HEADER_TEXTS = {"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT"}


def _header_renderer(session, view, item: FetchItem):
    """BODY[HEADER...] and RFC822.HEADER of the top-level message rendered
    from the header bytes alone (what list views ask for): the body is not read."""
    header_only = item.name == "RFC822.HEADER" or (
        item.name == "BODY" and item.section is not None and not item.section.part
        and (item.section.text or "").upper() in _HEADER_TEXTS)
    if not header_only:
        return None
    header_block = view.mailbox.header_block

    def render(uid: int) -> bytes:
        block = header_block(uid)
        if block is None:
            raise FileNotFoundError(uid)
        return render_message_item(session, ParsedMessage(block), item)
    return render


def _slow_renderer(session, item: FetchItem):
    return lambda uid: render_item(session, uid, item)


def sets_seen(item: FetchItem) -> bool:
    return ((item.name in ("BODY", "BINARY") and item.section is not None and not item.peek)
            or item.name in _SEEN_SETTING)


@command("FETCH", SELECT_ONLY, _fetch_args, expunge_ok=False)
def fetch(session, cmd):
    seqset, items, modifiers = cmd.args
    view = session.selected
    mailbox = view.mailbox
    if "VANISHED" in modifiers and not (cmd.uid and resync.QRESYNC in session.enabled):
        return BAD("VANISHED needs UID FETCH and ENABLE QRESYNC")
    names = {i.name for i in items}
    if "MODSEQ" in names or "CHANGEDSINCE" in modifiers:
        resync.enable_condstore(session)
    if cmd.uid and "UID" not in names:
        items = [FetchItem("UID")] + list(items)
    if resync.CONDSTORE in session.enabled and "MODSEQ" not in names and (
            "FLAGS" in names or "CHANGEDSINCE" in modifiers):
        items = list(items) + [FetchItem("MODSEQ")]  # RFC 7162 3.1.4.1 / 3.1.3
    mark_seen = view.read_write and any(sets_seen(i) for i in items)
    try:
        if "CHANGEDSINCE" in modifiers:
            targets = _changed_targets(session, view, cmd.uid, seqset, modifiers)
        else:
            positions = resolve_positions(view, seqset, cmd.uid)
            outcome = None if mark_seen else column_fetch(session, view, items, positions)
            if outcome is not None:
                return outcome
            targets = [(p + 1, view.uids[p]) for p in positions]
    except InvalidSet as e:
        return BAD(str(e))
    wanted = [u for _, u in targets] if BULK_ITEMS & names else []
    renderers = [_fast_renderer(view, item) or bulk_renderer(view, item, wanted) or _header_renderer(session, view, item)
                 or _slow_renderer(session, item)
                 for item in items]
    expunged, out = view.is_expunged, []
    skipped = False  # some were expunged by another session (RFC 2180 4.1.2)
    for seq, uid in targets:
        if uid not in mailbox or expunged(uid):
            skipped = True
            continue
        try:
            parts = [render(uid) for render in renderers]
        except FileNotFoundError:
            skipped = True
            continue  # deleted by another program while we read it
        except UnknownTransferEncoding as e:
            if out:
                session.send_raw(b"".join(out))
            return NO(f"Cannot decode the Content-Transfer-Encoding {e}", "UNKNOWN-CTE")
        if mark_seen and "\\Seen" not in mailbox.flags(uid):
            mailbox.store_flags([uid], ["\\Seen"], "+", origin=view)
            view.flags_changed_here([uid])
            parts = [render_item(session, uid, i) if i.name in ("FLAGS", "MODSEQ") else p
                     for i, p in zip(items, parts)]
            for extra in ("FLAGS", "MODSEQ"):
                if not any(i.name == extra for i in items) and (
                        extra == "FLAGS" or resync.CONDSTORE in session.enabled):
                    parts.append(render_item(session, uid, FetchItem(extra)))
        out.append(b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts)))
        if len(out) >= 256:
            session.send_raw(b"".join(out))
            out.clear()
    if out:
        session.send_raw(b"".join(out))
    if skipped:
        return OK("Some messages were already expunged", "EXPUNGEISSUED")
    return OK("FETCH completed")
