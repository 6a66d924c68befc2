"""``pushimapd fault ...`` and ``pushimapd event ...`` (docs/testbed.md).

    pushimapd fault add USER KIND [--after N] [--command NAME] [--ms M] [--with NO|BAD]
                       [--code CODE] [--count K] [--status S] [--retry-after SECONDS] [--mailbox M]
    pushimapd fault list [USER]
    pushimapd fault clear [USER | --id ID]
    pushimapd event USER KIND [--mailbox M] [--uid U] [--to N] [--folder F] [--sample] [FLAGS]
"""

from __future__ import annotations

import datetime
import sys


class CommandFailed(Exception):
    """A one-line reason; `cli.main` prints it and exits with status 1."""


def _failed(text: str) -> CommandFailed:
    return CommandFailed(text)


def _open(args):
    from ..cli import _open as open_root

    return open_root(args)


def cmd_fault(args) -> None:
    from .faults import FaultError, clear_faults, describe, list_faults, make_fault

    root, users = _open(args)
    if args.action == "add":
        if not users.exists(args.user):
            raise _failed(f"no such user {args.user}")
        if args.kind == "respond" and args.status is not None and args.with_ is None:
            args.with_, args.status = args.status, None  # --status NO is understood too
        status = args.with_ if args.kind == "respond" else args.status
        if args.kind != "respond" and args.with_ is not None:
            raise _failed("--with applies to respond faults only")
        try:
            fields = make_fault(args.user, args.kind, after=args.after, command=args.command, ms=args.ms,
                                status=status, code=args.code, count=args.count,
                                retry_after=args.retry_after, mailbox=args.mailbox)
        except FaultError as e:
            raise _failed(str(e)) from None
        if fields["kind"] == "uidvalidity":
            from ..storage.maildir.account import MailStore
            from .events import imap_name

            fields["mailbox"] = imap_name(fields["mailbox"])
            if not MailStore(root).account(args.user).exists(fields["mailbox"]):
                raise _failed(f"no mailbox {fields['mailbox']} for {args.user}")
        from .faults import add_fault

        fault = add_fault(fields)
        print(fault.id)
        print(f"pushimapd: fault {fault.id} for {fault.user}: {describe(fault)}", file=sys.stderr)
    elif args.action == "list":
        for fault in list_faults(args.user):
            left = "until cleared" if fault.remaining is None else f"{fault.remaining} left"
            when = datetime.datetime.fromtimestamp(fault.created_at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            print(f"{fault.id}\t{fault.user}\t{describe(fault)}\t{left}\tfired {fault.fired}\tadded {when}")
    else:
        if args.user is not None and args.id is not None:
            raise _failed("give a user or --id, not both")
        count = clear_faults(args.user, args.id)
        print(f"cleared {count} fault(s)")


def cmd_event(args) -> None:
    from ..storage.maildir.account import MailStore
    from .events import Event, EventError, apply_event, check, sample_message
    from .hub import forget_cli_event, record_cli_event

    root, users = _open(args)
    if not users.exists(args.user):
        raise _failed(f"no such user {args.user}")
    data = None
    if args.kind == "deliver":
        if args.sample:
            data = sample_message(args.user)
        elif sys.stdin.isatty():
            raise _failed("deliver reads the message from standard input (or use --sample)")
        else:
            data = sys.stdin.buffer.read()
            if not data:
                raise _failed("no message on standard input")
    event = Event(user=args.user, kind=args.kind, mailbox=args.mailbox, uid=args.uid, flags=args.flags, to=args.to,
                  folder=args.folder, data=data)
    store = MailStore(root)
    try:
        check(event)
        noted = record_cli_event(args.user, args.kind, event.describe())  # a running server notes it first
        try:
            result = apply_event(store, root, event)
        except BaseException:
            forget_cli_event(noted)
            raise
    except EventError as e:
        raise _failed(str(e)) from None
    finally:
        store.close()
    print(result)


def add_parsers(sub, common) -> None:
    from .events import EVENT_KINDS
    from .faults import KINDS

    fault = sub.add_parser("fault", help="make the server misbehave on purpose (test bed)")
    fault_sub = fault.add_subparsers(dest="action", required=True)
    p = fault_sub.add_parser("add", parents=[common], help="add a fault; prints its id")
    p.add_argument("user")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--after", type=int, help="matching commands answered normally first (default 0)")
    p.add_argument("--command", help="only this command (FETCH, UID FETCH, APPEND, SELECT ...)")
    p.add_argument("--ms", type=int, help="delay: milliseconds")
    p.add_argument("--with", dest="with_", metavar="NO|BAD", help="respond: the answer")
    p.add_argument("--code", help="respond: response code, e.g. OVERQUOTA or UNAVAILABLE")
    p.add_argument("--count", type=int, help="how many times it fires (default 1; 0: until cleared)")
    p.add_argument("--status", help="push: the HTTP status the endpoint seems to answer (429, 500, 410 ...)")
    p.add_argument("--retry-after", type=float, metavar="SECONDS", help="push: the Retry-After it comes with")
    p.add_argument("--mailbox", help="uidvalidity: the mailbox that gets a new UIDVALIDITY")
    p.set_defaults(func=cmd_fault)
    p = fault_sub.add_parser("list", parents=[common], help="list the faults not used up")
    p.add_argument("user", nargs="?")
    p.set_defaults(func=cmd_fault)
    p = fault_sub.add_parser("clear", parents=[common], help="remove faults (all, a user's, or one)")
    p.add_argument("user", nargs="?")
    p.add_argument("--id", type=int)
    p.set_defaults(func=cmd_fault)

    event = sub.add_parser("event", parents=[common], help="make a change another client would make (test bed)")
    event.add_argument("user")
    event.add_argument("kind", choices=EVENT_KINDS)
    event.add_argument("--mailbox", help="the mailbox (flags, expunge, move, rename, create, delete)")
    event.add_argument("--uid", type=int, help="the message's UID (flags, expunge, move)")
    event.add_argument("--to", help="move: the target mailbox; rename: the new name")
    event.add_argument("--flags", metavar="FLAGS",
                       help="flags: +FLAGS, -FLAGS or =FLAGS, e.g. '+\\Seen \\Flagged' (may also stand alone)")
    event.add_argument("--folder", default="INBOX", help="deliver: the folder (default INBOX)")
    event.add_argument("--sample", action="store_true", help="deliver: a built-in sample message instead of stdin")
    event.set_defaults(func=cmd_event)


def flag_arguments(argv: list[str]) -> list[str]:
    """``pushimapd event demo flags ... +\\Seen``: a FLAGS argument standing
    alone becomes ``--flags=...`` (argparse would take ``-\\Seen`` for an
    option). Values starting with ``+``, ``=``, ``-\\`` or ``-$`` are
    recognised; other ``-KEYWORD`` values need ``--flags=-KEYWORD``."""
    if "event" not in argv or "flags" not in argv:
        return argv
    out, after_option = [], False
    for arg in argv:
        standalone = not after_option and arg.startswith(("+", "=", "-\\", "-$"))
        out.append(f"--flags={arg}" if standalone else arg)
        after_option = arg in ("--flags", "--mailbox", "--to", "--folder")
    return out
