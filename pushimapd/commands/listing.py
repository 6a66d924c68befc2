"""LIST with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154).

    LIST [(selection options)] reference (pattern | (pattern ...)) [RETURN (options)]

Selection: SUBSCRIBED (subscribed names, existing or not: \\NonExistent),
REMOTE (no remote mailboxes here: no effect), RECURSIVEMATCH (with
SUBSCRIBED: a parent whose descendants are subscribed is listed with
``("CHILDINFO" ("SUBSCRIBED"))``), SPECIAL-USE. Return: SUBSCRIBED,
CHILDREN (always sent anyway), SPECIAL-USE (always sent anyway) and
``STATUS (items)``: an untagged STATUS after the LIST line of each
selectable mailbox that meets the selection.
"""

from __future__ import annotations

from ..core.dispatch import AUTH, OK, command
from ..storage.names import SEPARATOR, MailboxError
from ..wire.grammar import ParseError
from ..wire.listmatch import ListPattern
from .mailboxes import (
    _check_patterns, _full_patterns, _list_line, failure, shown_name, status_items, status_response,
)

LIST_SELECTION = {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}
LIST_RETURN = {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"}
CHILDINFO = b' ("CHILDINFO" ("SUBSCRIBED"))'


def _return_options(cursor) -> tuple:
    """``RETURN (opt ... STATUS (items))`` -> (options, status items or None)."""
    cursor.expect(b"RETURN ", "Expected RETURN")
    cursor.expect(b"(", "Expected '(' after RETURN")
    options: list[str] = []
    status = None
    first = True
    while not cursor.try_(b")"):
        if not first:
            cursor.sp()
        first = False
        option = cursor.atom().upper()
        if option not in LIST_RETURN:
            raise ParseError(f"Unsupported LIST return option {option}")
        if option == "STATUS":
            cursor.sp()
            items = status_items(cursor)
            if status is not None and set(items) != set(status):
                raise ParseError("STATUS return option given twice with different items")
            status = items
        options.append(option)
    return tuple(options), status


def _list_args(cursor):
    cursor.sp()
    selection: tuple = ()
    if cursor.peek() == b"(":
        selection = tuple(o.upper() for o in cursor.paren_list(cursor.atom))
        unknown = set(selection) - LIST_SELECTION
        if unknown:
            raise ParseError(f"Unsupported LIST selection option {sorted(unknown)[0]}")
        if "RECURSIVEMATCH" in selection and "SUBSCRIBED" not in selection:
            raise ParseError("RECURSIVEMATCH needs the SUBSCRIBED selection option")
        cursor.sp()
    reference = cursor.mailbox()
    cursor.sp()
    if cursor.peek() == b"(":
        patterns = tuple(cursor.paren_list(cursor.list_mailbox))
        if not patterns:
            raise ParseError("Empty mailbox pattern list")
    else:
        patterns = (cursor.list_mailbox(),)
    _check_patterns(patterns)
    returns, status = (), None
    if not cursor.at_end():
        cursor.sp()
        returns, status = _return_options(cursor)
    return (selection, reference, patterns, returns, status)


def _ordered(names) -> list[str]:
    return sorted(names, key=lambda n: (n != "INBOX", n))


def _ancestors(name: str) -> list[str]:
    parts = name.split(SEPARATOR)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


@command("LIST", AUTH, _list_args)
def list_command(session, cmd):
    selection, _reference, _patterns, returns, status = cmd.args
    try:
        patterns = _full_patterns(cmd, session)
    except MailboxError as e:
        return failure(e)
    if patterns == [""]:
        session.untagged(_list_line(b"LIST", ["\\Noselect"], ""))
        return OK("LIST completed")
    matchers = [ListPattern(p, SEPARATOR) for p in patterns if p]
    account = session.account
    folders = {f.name: f for f in account.folders()}
    special = account.special_use_attributes()
    by_subscription = "SUBSCRIBED" in selection
    subscribed = set(account.subscriptions()) if by_subscription or "SUBSCRIBED" in returns else set()
    candidates = set(folders)
    if by_subscription:
        candidates |= subscribed
    meeting = {n for n in candidates
               if (not by_subscription or n in subscribed)
               and ("SPECIAL-USE" not in selection or n in special)
               and (by_subscription or n in folders)}
    with_children = set()  # RECURSIVEMATCH: names with a descendant that meets the selection
    if "RECURSIVEMATCH" in selection:
        for name in meeting:
            with_children.update(_ancestors(name))
        candidates |= with_children
    for name in _ordered(candidates):
        if name not in meeting and name not in with_children:
            continue
        if not any(m.matches(shown_name(session, name)) for m in matchers):
            continue
        folder = folders.get(name)
        if folder is None:
            attrs = ["\\NonExistent"]
            if any(f.startswith(name + SEPARATOR) for f in folders):
                attrs.append("\\HasChildren")
        else:
            # a parent only implied by its children does not exist: IMAP4rev2 says so (\NonExistent
            # implies \Noselect, RFC 9051 6.3.9.4); IMAP4rev1 clients know \Noselect
            missing = "\\NonExistent" if "IMAP4REV2" in session.enabled else "\\Noselect"
            attrs = [] if folder.selectable else [missing]
            attrs.append("\\HasChildren" if folder.has_children else "\\HasNoChildren")
            attrs.extend(special.get(name, []))
        if name in subscribed:
            attrs.append("\\Subscribed")
        line = _list_line(b"LIST", attrs, name, session)
        if name in with_children:
            line += CHILDINFO
        session.untagged(line)
        if status and name in meeting and folder is not None and folder.selectable:
            try:
                mailbox = account.open(name)
            except MailboxError:
                continue  # deleted meanwhile
            session.untagged(status_response(session, name, mailbox, status))
    return OK("LIST completed")
