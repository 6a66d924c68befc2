"""CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE, STARTTLS, ID, ENABLE."""

from __future__ import annotations

import base64
import binascii

from .. import __version__
from ..core.dispatch import ANSWERED, ANY, AUTH, AUTHENTICATED, LOGOUT, NOT_AUTH_ONLY, BAD, NO, OK, command
from ..core.session import Action
from ..wire import serializer as ser
from ..wire.grammar import ParseError

@command("CAPABILITY", ANY)
def capability(session, cmd):
    session.untagged(b"CAPABILITY " + session.capabilities().encode())
    return OK("CAPABILITY completed")


@command("NOOP", ANY)
def noop(session, cmd):
    return OK("NOOP completed")


@command("LOGOUT", ANY | {LOGOUT})
def logout(session, cmd):
    session.untagged(b"BYE pushimapd logging out")
    session.unselect()
    session.state = LOGOUT
    return OK("LOGOUT completed")


def _login_args(cursor):
    cursor.sp()
    user = cursor.astring()
    cursor.sp()
    password = cursor.astring()
    return (user, password)


def _logged_in(session, user: str):
    def done(ok: bool):
        if not ok:
            return NO("Invalid user name or password", "AUTHENTICATIONFAILED")
        session.user = user
        session.account = session.config.store.account(user)
        session.state = AUTHENTICATED
        return OK("Logged in", "CAPABILITY " + session.capabilities())

    return done


def _verify(session, user: bytes, password: bytes):
    try:
        name = user.decode("utf-8")
        secret = password.decode("utf-8")
    except UnicodeDecodeError:
        return NO("Invalid user name or password", "AUTHENTICATIONFAILED")
    return Action("verify-password", {"user": name, "password": secret}, _logged_in(session, name))


@command("LOGIN", NOT_AUTH_ONLY, _login_args)
def login(session, cmd):
    if not session.plaintext_allowed():
        return NO("Plaintext login is disabled on an unencrypted connection; use STARTTLS", "PRIVACYREQUIRED")
    user, password = cmd.args
    return _verify(session, user, password)


def _authenticate_args(cursor):
    cursor.sp()
    mechanism = cursor.atom().upper()
    initial = None
    if not cursor.at_end():
        cursor.sp()
        initial = cursor._match(__import__("re").compile(rb"[A-Za-z0-9+/]*=*"), "an initial response")
    return (mechanism, initial)


def _plain_response(session, data: bytes):
    if data.strip() == b"*":
        return BAD("AUTHENTICATE cancelled")
    try:
        decoded = base64.b64decode(data.strip() or b"", validate=True) if data.strip() != b"=" else b""
    except (binascii.Error, ValueError):
        return BAD("Invalid base64 in AUTHENTICATE response")
    parts = decoded.split(b"\0")
    if len(parts) != 3:
        return BAD("Invalid PLAIN response")
    authzid, authcid, password = parts
    if authzid and authzid != authcid:
        return NO("Cannot authorize as another user", "AUTHORIZATIONFAILED")
    return _verify(session, authcid, password)


@command("AUTHENTICATE", NOT_AUTH_ONLY, _authenticate_args)
def authenticate(session, cmd):
    mechanism, initial = cmd.args
    if mechanism != "PLAIN":
        return NO(f"Unsupported authentication mechanism {mechanism}", "CANNOT")
    if not session.plaintext_allowed():
        return NO("Plaintext authentication is disabled on an unencrypted connection", "PRIVACYREQUIRED")
    if initial is not None:
        return _plain_response(session, initial)
    session.send_raw(b"+ \r\n")
    session.sasl = lambda line: _plain_response(session, line)
    session.reader.set_line_mode(True)
    return None


@command("STARTTLS", NOT_AUTH_ONLY)
def starttls(session, cmd):
    if session.secure:
        return BAD("TLS is already active")
    if not session.config.tls_available:
        return NO("STARTTLS is not configured on this server", "CANNOT")
    dropped = session.reader.discard_buffered()  # never run plaintext-injected commands
    session.send_raw(OK("Begin TLS negotiation now").line(cmd.tag))

    def started(_):
        session.secure = True
        return ANSWERED

    session.tls_dropped = dropped
    return Action("start-tls", {}, started)


def _id_args(cursor):
    cursor.sp()
    if cursor.try_(b"NIL"):
        return (None,)
    cursor.expect(b"(", "Expected '(' or NIL")
    items = []
    while not cursor.try_(b")"):
        if items:
            cursor.sp()
        items.append(cursor.string())  # field names are strings, never NIL (RFC 2971)
        cursor.sp()
        items.append(cursor.nstring_or_nil())
        if len(items) > 60:
            raise ParseError("Too many ID fields")
    return (items,)


@command("ID", ANY, _id_args)
def id_command(session, cmd):
    session.untagged(b"ID " + ser.plist([
        ser.string("name"), ser.string("pushimapd"),
        ser.string("version"), ser.string(__version__),
    ]))
    return OK("ID completed")


def _enable_args(cursor):
    caps = []
    while not cursor.at_end():
        cursor.sp()
        caps.append(cursor.atom().upper())
    if not caps:
        raise ParseError("ENABLE needs at least one capability")
    return tuple(caps)


ENABLEABLE = {"CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"}
SPELLING = {"IMAP4REV2": "IMAP4rev2"}  # how ENABLED names them (session.enabled holds upper case)


@command("ENABLE", AUTH, _enable_args)
def enable(session, cmd):
    """RFC 5161: ``* ENABLED`` lists what this command newly switched on.
    QRESYNC implies CONDSTORE (RFC 7162 3.2.3). IMAP4rev2 switches the
    session to RFC 9051's rules (see docs/imap4rev2.md)."""
    newly = []
    for capability in cmd.args:
        if capability in ENABLEABLE and capability not in session.enabled and capability not in newly:
            newly.append(capability)
    for capability in newly:
        if capability in ("CONDSTORE", "QRESYNC"):
            from .resync import enable_condstore

            enable_condstore(session)
        session.enabled.add(capability)
    session.untagged(b"ENABLED" + b"".join(b" " + SPELLING.get(c, c).encode() for c in newly))
    return OK("ENABLE completed")
