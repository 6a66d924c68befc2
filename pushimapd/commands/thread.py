"""THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT, REFERENCES and REFS.

The messages matching the search keys are threaded by `storage.threads`;
the answer is one ``* THREAD`` response of nested thread lists.
"""

from __future__ import annotations

from ..core.dispatch import OK, SELECT_ONLY, command
from ..storage.sorting import SortFacts, SortSource, decoded_header
from ..storage.threads import ALGORITHMS, build_threads, format_threads, thread_message
from ..wire.grammar import ParseError
from .search import search_view
from .sort import charset_and_keys


def _thread_args(cursor):
    cursor.sp()
    algorithm = cursor.atom().upper()
    if algorithm not in ALGORITHMS:
        raise ParseError(f"Unsupported threading algorithm {algorithm}")
    cursor.sp()
    charset, keys = charset_and_keys(cursor)
    return (algorithm, charset, keys)


@command("THREAD", SELECT_ONLY, _thread_args, expunge_ok=False)
def thread(session, cmd):
    algorithm, _charset, keys = cmd.args
    view = session.selected
    mailbox = view.mailbox
    source = SortSource(mailbox.header_block, mailbox.internal_date, mailbox.size)
    messages = []
    for seq, uid in search_view(view, keys):
        facts = SortFacts(source, seq, uid)
        headers = facts.headers
        messages.append(thread_message(seq, uid, lambda name: decoded_header(headers, name) or None,
                                       facts.sent()))
    roots = build_threads(algorithm, messages)
    text = format_threads(roots, (lambda m: m.uid) if cmd.uid else (lambda m: m.seq))
    session.untagged(b"THREAD" + (b" " + text.encode("ascii") if text else b""))
    return OK("THREAD completed")
