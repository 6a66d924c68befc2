"""URLAUTH (RFC 4467): GENURLAUTH, RESETKEY, URLFETCH; URL-PARTIAL (RFC 5550);
and `url_data`, which CATENATE uses to read the part a URL names.

Mechanism INTERNAL: the token is HMAC-SHA256 of the rump URL under the
mailbox's access key (`urlauth.UrlAuthKeys` through ``ServerConfig.urlauth``).
Access: ``anonymous`` and ``authuser`` (any logged-in user), ``user+NAME``
(only NAME); ``submit+NAME`` URLs can be generated but there is no
submission server here to fetch them, so URLFETCH answers NIL for them.
The host and port of a URL are not checked (the server does not know the
name clients reach it by); the user, mailbox, UIDVALIDITY and UID are.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import hmac
import os
import secrets
from typing import Optional

from ..core.dispatch import AUTH, NO, OK, command
from ..storage.names import MailboxError, normalize_name
from ..wire import serializer as ser
from ..wire.grammar import ParseError
from ..wire.imapurl import BadUrl, ImapUrl, parse_url
from ..wire.parser import Cursor, section_spec
from .mailboxes import failure, mailbox_name

MECHANISM = "INTERNAL"


def _token(key: bytes, rump: str) -> str:
    return hmac.new(key, rump.encode("ascii"), hashlib.sha256).hexdigest()


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'*+,;=%")


def badurl_code(text: str) -> str:
    """``BADURL <url>``: the URL with every character a strict response
    parser could stumble on (brackets, parentheses, braces, quotes, spaces,
    8-bit) percent-encoded, which leaves the URL's meaning unchanged."""
    shown = "".join(c if c in _URL_SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8", "replace"))
                    for c in text[:300])
    return "BADURL " + (shown or "%20")


def _section_data(msg, url: ImapUrl) -> Optional[bytes]:
    """BODY[section] of a parsed message (the whole message without a section)."""
    if url.section is None:
        data = msg.raw
    else:
        cursor = Cursor(url.section.encode("ascii", "replace") + b"]")
        try:
            section = section_spec(cursor)
            cursor.expect(b"]")
            cursor.end()
        except ParseError:
            raise BadUrl("Invalid SECTION") from None
        data = msg.section(section.part, section.text, section.fields)
        if data is None:
            return None
    if url.partial is not None:
        offset, length = url.partial
        data = data[offset: offset + length] if length is not None else data[offset:]
    return data


def _open_message(account, url: ImapUrl):
    """(mailbox, parsed message) the URL names in ``account``; raises BadUrl."""
    try:
        mailbox = account.open(url.mailbox)
    except MailboxError:
        raise BadUrl("No such mailbox") from None
    mailbox.sync()
    if url.uidvalidity is not None and url.uidvalidity != mailbox.uidvalidity:
        raise BadUrl("UIDVALIDITY does not match")
    uids = mailbox.uids
    i = bisect.bisect_left(uids, url.uid)
    if i >= len(uids) or uids[i] != url.uid:
        raise BadUrl("No such message")
    msg = mailbox.message(url.uid)
    if msg is None:
        raise BadUrl("No such message")
    return mailbox, msg


def _user_exists(session, user: str) -> bool:
    """Only existing users' Maildirs are opened (opening one creates it)."""
    exists = getattr(session.config.users, "exists", None)
    if exists is not None:
        return exists(user)
    return os.path.isdir(os.path.join(session.config.store.root, user))


def _check_authorized(session, url: ImapUrl):
    """A full URLAUTH URL that this session may use; raises BadUrl."""
    if url.rump is None or url.token is None:
        raise BadUrl("Not a URLAUTH URL")
    if url.mechanism.upper() != MECHANISM:
        raise BadUrl("Unsupported URLAUTH mechanism")
    if url.expire is not None and url.expire <= datetime.datetime.now(datetime.timezone.utc):
        raise BadUrl("The URL has expired")
    kind = url.access_kind
    if kind == "user" and url.access_user != session.user:
        raise BadUrl("The URL is for another user")
    if kind == "submit":
        raise BadUrl("The URL is for a submission server")
    keys = session.config.urlauth
    if keys is None or url.user is None:
        raise BadUrl("URLAUTH is not available")
    try:
        if not _user_exists(session, url.user):
            raise BadUrl("No such user")
        account = session.config.store.account(url.user)
        mailbox, msg = _open_message(account, url)
    except (BadUrl, MailboxError):
        # spend the same HMAC as a real check (RFC 4467 7: no timing oracle on names)
        hmac.compare_digest(_token(secrets.token_bytes(32), url.rump), url.token.lower())
        raise BadUrl("URLAUTH verification failed") from None
    key = keys.key(url.user, normalize_name(url.mailbox), mailbox.uidvalidity, create=False)
    expected = _token(key if key is not None else secrets.token_bytes(32), url.rump)
    if key is None or not hmac.compare_digest(expected, url.token.lower()):
        raise BadUrl("URLAUTH verification failed")
    return msg


def url_data(session, text: str) -> bytes:
    """The octets a URL names, for CATENATE and URLFETCH; raises BadUrl.

    Without URLAUTH the URL must be the session user's own (relative, or
    absolute with that user name); with URLAUTH it may be anyone's.
    """
    url = parse_url(text)
    if url.rump is not None:
        msg = _check_authorized(session, url)
    else:
        if not url.relative and url.user != session.user:
            raise BadUrl("The URL is for another user's mailbox")
        _mailbox, msg = _open_message(session.account, url)
    data = _section_data(msg, url)
    if data is None:
        raise BadUrl("No such section")
    return data


# -- GENURLAUTH ------------------------------------------------------------------------------
def _url_mechanism_pairs(cursor):
    pairs = []
    while not cursor.at_end():
        cursor.sp()
        url = cursor.astring()
        cursor.sp()
        pairs.append((url, cursor.atom()))
    if not pairs:
        raise ParseError("Expected a URL and a mechanism")
    return tuple(pairs)


@command("GENURLAUTH", AUTH, _url_mechanism_pairs)
def genurlauth(session, cmd):
    keys = session.config.urlauth
    if keys is None:
        return NO("URLAUTH is not available", "CANNOT")
    out = []
    for raw, mechanism in cmd.args:
        text = raw.decode("ascii", "replace")
        if mechanism.upper() != MECHANISM:
            return NO(f"Unsupported URLAUTH mechanism {mechanism}", badurl_code(text))
        try:
            url = parse_url(text)
            if url.relative or url.rump is None or url.token is not None:
                raise BadUrl("GENURLAUTH needs an absolute URL ending in ;URLAUTH=<access>")
            if url.user != session.user:
                raise BadUrl("URLs can only be made for your own mailboxes")
            if url.expire is not None and url.expire <= datetime.datetime.now(datetime.timezone.utc):
                raise BadUrl("EXPIRE is in the past")
            mailbox, msg = _open_message(session.account, url)
            if _section_data(msg, url) is None:
                raise BadUrl("No such section")
        except BadUrl as e:
            return NO(f"Invalid URL: {e}", badurl_code(text))
        key = keys.key(session.user, normalize_name(url.mailbox), mailbox.uidvalidity, create=True)
        out.append(url.rump + ":" + MECHANISM.lower() + ":" + _token(key, url.rump))
    session.untagged(b"GENURLAUTH " + b" ".join(ser.string(u) for u in out))
    return OK("GENURLAUTH completed")


# -- RESETKEY -----------------------------------------------------------------------------------
def _resetkey_args(cursor):
    if cursor.at_end():
        return (None, ())
    cursor.sp()
    name = cursor.mailbox()
    mechanisms = []
    while not cursor.at_end():
        cursor.sp()
        mechanisms.append(cursor.atom())
    return (name, tuple(mechanisms))


@command("RESETKEY", AUTH, _resetkey_args)
def resetkey(session, cmd):
    keys = session.config.urlauth
    if keys is None:
        return NO("URLAUTH is not available", "CANNOT")
    raw_name, mechanisms = cmd.args
    for mechanism in mechanisms:
        if mechanism.upper() != MECHANISM:
            return NO(f"Unsupported URLAUTH mechanism {mechanism}")
    if raw_name is None:
        keys.reset(session.user)
        return OK("All URLAUTH keys reset")
    try:
        name = mailbox_name(raw_name, session)
        session.account.open(name)
    except MailboxError as e:
        return failure(e)
    keys.reset(session.user, normalize_name(name))
    return OK("RESETKEY completed")


# -- URLFETCH ----------------------------------------------------------------------------------
def _urls(cursor):
    urls = []
    while not cursor.at_end():
        cursor.sp()
        urls.append(cursor.astring())
    if not urls:
        raise ParseError("Expected at least one URL")
    return tuple(urls)


@command("URLFETCH", AUTH, _urls)
def urlfetch(session, cmd):
    parts = []
    for raw in cmd.args:
        text = raw.decode("ascii", "replace")
        try:
            url = parse_url(text)
            if url.token is None:
                raise BadUrl("URLFETCH needs a URLAUTH-authorized URL")
            value = ser.literal(url_data(session, text))
        except BadUrl:
            value = b"NIL"
        parts.append(ser.string(raw) + b" " + value)
    session.untagged(b"URLFETCH " + b" ".join(parts))
    return OK("URLFETCH completed")
