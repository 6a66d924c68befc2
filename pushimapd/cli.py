"""``pushimapd``: the administration commands (documented in the README).

    pushimapd user add|passwd|del NAME | user list
    pushimapd user quota NAME [--storage KIB|none] [--messages N|none]
    pushimapd deliver NAME [--folder FOLDER] < message
    pushimapd push list [NAME] [--show-urls]
    pushimapd push vapid [--rotate]
    pushimapd fault add|list|clear ..., pushimapd event USER KIND ...   (testbed/cli.py)

They use the same --maildir-root/--db defaults as the server.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .auth import UserDirectory, UserError
from .db import open_database
from .sample import ensure_sample_users, resolve_paths


class CommandFailed(Exception):
    """A one-line reason; ``status`` is the exit status (1 unless a sysexits code says more)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def _read_password(prompt: str = "Password: ") -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise CommandFailed("passwords do not match")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CommandFailed("no password on standard input")
    return line.rstrip("\r\n")


def _open(args) -> tuple[str, UserDirectory]:
    root, db_path, is_sample = resolve_paths(args.maildir_root, getattr(args, "db", None))
    open_database(db_path)
    users = UserDirectory()
    if is_sample:
        ensure_sample_users(users)
    return root, users


def cmd_user(args) -> None:
    root, users = _open(args)
    try:
        if args.action == "list":
            for name in users.names():
                print(name)
        elif args.action == "add":
            password = _read_password()
            if not password:
                raise CommandFailed("empty password")
            users.add(args.name, password)
            from .storage.maildir.account import MailStore

            MailStore(root).account(args.name)  # creates the Maildir if missing
            print(f"user {args.name} added, Maildir {os.path.join(root, args.name)}")
        elif args.action == "passwd":
            if not users.exists(args.name):
                raise CommandFailed(f"no such user {args.name}")
            users.set_password(args.name, _read_password("New password: "))
            print(f"password of {args.name} changed")
        elif args.action == "del":
            users.delete(args.name)
            from .metadata_db import forget_user as forget_metadata
            from .push.tokens import forget_user as forget_tokens

            entries, tokens = forget_metadata(args.name), forget_tokens(args.name)
            print(f"user {args.name} deleted with {entries} METADATA entries and {tokens} device tokens "
                  "(the Maildir was left in place)")
    except UserError as e:
        raise CommandFailed(str(e)) from None


def _limit(text: str | None, what: str):
    """--storage/--messages: a count, or "none" for no limit; absent: unchanged."""
    from .quota import UNCHANGED

    if text is None:
        return UNCHANGED
    if text.strip().lower() in ("none", "unlimited"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise CommandFailed(f"{what} must be a whole number or 'none'") from None
    if value < 0:
        raise CommandFailed(f"{what} cannot be negative")
    return value


def cmd_quota(args) -> None:
    """Set (or, without options, show) a user's quota limits, and show the usage."""
    from .quota import Quotas
    from .storage.maildir.account import MailboxError, MailStore

    root, users = _open(args)
    if not users.exists(args.name):
        raise CommandFailed(f"no such user {args.name}")
    quotas = Quotas()
    storage, messages = _limit(args.storage, "--storage"), _limit(args.messages, "--messages")
    limits = quotas.set_limits(args.name, storage, messages)
    try:
        usage = quotas.usage.usage(MailStore(root).account(args.name))
    except (MailboxError, OSError) as e:
        raise CommandFailed(f"cannot read the Maildir of {args.name}: {e}") from None
    storage_limit = "no limit" if limits.storage_kib is None else f"{limits.storage_kib} KiB"
    message_limit = "no limit" if limits.messages is None else str(limits.messages)
    print(f"{args.name}: storage {usage.kib} KiB of {storage_limit}, messages {usage.messages} of {message_limit}")


def cmd_deliver(args) -> None:
    from .deliver import EX_NOUSER, EX_TEMPFAIL, DeliveryError, deliver

    try:
        root, users = _open(args)
        known = users.exists(args.name)
    except Exception as e:  # the database is locked, unreadable, ...: try again later
        raise CommandFailed(f"cannot read the user database: {e}", EX_TEMPFAIL) from None
    if not known:
        raise CommandFailed(f"no such user {args.name}", EX_NOUSER)
    data = sys.stdin.buffer.read()
    try:
        path = deliver(root, args.name, args.folder, data)
    except DeliveryError as e:
        raise CommandFailed(str(e), e.status) from None
    except OSError as e:  # disk full, permissions: the MTA keeps the message and retries
        raise CommandFailed(f"cannot write the message: {e}", EX_TEMPFAIL) from None
    print(f"delivered {len(data)} bytes to {path}")


def cmd_push(args) -> None:
    from .push.admin import print_push_list

    root, users = _open(args)
    if args.name and not users.exists(args.name):
        raise CommandFailed(f"no such user {args.name}")
    print_push_list(args.name, show_secrets=args.show_urls)


def cmd_push_vapid(args) -> None:
    """Print the VAPID public key (made if missing); --rotate replaces the pair first."""
    from .push.webpush import VapidKeys

    _open(args)
    keys = VapidKeys()
    if args.rotate:
        registrations, deliveries = keys.rotate()
        print(f"pushimapd: new VAPID key; dropped web push registrations: {registrations}, "
              f"unfinished web push deliveries: {deliveries}", file=sys.stderr)
    print(keys.public_key())


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--maildir-root", help="directory with one Maildir++ per user (default: the sample copy)")
    common.add_argument("--db", help="sqlite database (default: .pushimapd.sqlite in the maildir root)")
    parser = argparse.ArgumentParser(prog="pushimapd", description="Administer a pushimapd server.")
    sub = parser.add_subparsers(dest="command", required=True)
    user = sub.add_parser("user", help="add, change, delete or list users")
    user_sub = user.add_subparsers(dest="action", required=True)
    for action in ("add", "passwd", "del"):
        p = user_sub.add_parser(action, parents=[common])
        p.add_argument("name")
        p.set_defaults(func=cmd_user)
    p = user_sub.add_parser("list", parents=[common])
    p.set_defaults(func=cmd_user, name=None)
    p = user_sub.add_parser("quota", parents=[common], help="set or show a user's quota (RFC 9208)")
    p.add_argument("name")
    p.add_argument("--storage", metavar="KIB", help="storage limit in KiB, or 'none'")
    p.add_argument("--messages", metavar="N", help="message count limit, or 'none'")
    p.set_defaults(func=cmd_quota)
    deliver = sub.add_parser("deliver", parents=[common], help="deliver a message from stdin as an MTA would")
    deliver.add_argument("name")
    deliver.add_argument("--folder", default="INBOX")
    deliver.set_defaults(func=cmd_deliver)
    push = sub.add_parser("push", help="inspect push registrations; the VAPID key")
    push_sub = push.add_subparsers(dest="action", required=True)
    p = push_sub.add_parser("list", parents=[common])
    p.add_argument("name", nargs="?")
    p.add_argument("--show-urls", action="store_true",
                   help="print URLs and device tokens in full (they carry secrets)")
    p.set_defaults(func=cmd_push)
    p = push_sub.add_parser("vapid", parents=[common], help="print the VAPID public key (base64url) for web push")
    p.add_argument("--rotate", action="store_true",
                   help="make a new key pair and drop every pending web push registration")
    p.set_defaults(func=cmd_push_vapid)
    from .testbed.cli import add_parsers  # fault ..., event ...

    add_parsers(sub, common)
    return parser


def main(argv=None) -> int:
    from .testbed.cli import CommandFailed as TestbedFailed, flag_arguments

    args = build_parser().parse_args(flag_arguments(list(sys.argv[1:] if argv is None else argv)))
    try:
        args.func(args)
    except (CommandFailed, TestbedFailed) as e:
        print(f"pushimapd: {e}", file=sys.stderr)
        return getattr(e, "status", 1)
    except OSError as e:
        print(f"pushimapd: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
