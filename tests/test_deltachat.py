"""The real Delta Chat core against pushimapd: configure, METADATA, XDELTAPUSH.

Two builds of the core are driven, both offline on 127.0.0.1 (plain IMAP to
pushimapd, plain SMTP to an aiosmtpd that delivers into the Maildir as an
MTA does):

- libdeltachat through the ``deltachat`` package's C API (the FFI the
  Android and iOS apps use). Only that API has
  ``dc_accounts_set_push_device_token``: the app hands the platform's token
  to the core, the core encrypts it for the notification service and
  stores it with ``SETMETADATA "INBOX" (/private/devicetoken {n+} ...)``.
  The test checks the token lands in pushimapd, the core reports itself
  subscribed, and mail delivered through SMTP makes pushimapd POST exactly
  that token to the notifier.
- ``deltachat-rpc-server`` (JSON-RPC, current release): it configures and
  reads the server's METADATA (``/shared/comment``), but its JSON-RPC API
  has no call to set a device token, so it never sends SETMETADATA; the
  form it would send (a quoted string) is replayed byte for byte in
  tests/test_devicetoken.py.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import sys
import threading
import time

import pytest

from push_util import HTTPReceiver, IMAP, PushServer, mta_deliver, wait_until

USERS = (("demo", "demo"),)
COMMENT = "pushimapd test bed"
DEVICE_TOKEN = "fcm-chat.delta:test-device-token-0123456789"
PUSH_CONNECTED = 2  # NotifyState::Connected in the core: subscribed to push for new messages


def _need(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed (the test extra has it)")
        pytest.skip(f"{module} is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver():
    rec = HTTPReceiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def mail(tmp_path, receiver):
    """pushimapd (IMAP, with --trace) and an SMTP submission server delivering into its Maildir."""
    controller_mod = _need("aiosmtpd.controller")
    smtp_mod = _need("aiosmtpd.smtp")
    root = str(tmp_path / "mail")
    os.mkdir(root)
    srv = PushServer(root, users=USERS, extra_args=[
        "--devicetoken-notifier", receiver.url("/notify"), "--push-allow-http", "--push-allow-private",
        "--metadata-comment", COMMENT, "--trace"])
    srv.add_users()
    srv.start()

    class Deliver:
        async def handle_DATA(self, server, session, envelope):
            for rcpt in envelope.rcpt_tos:
                user = rcpt.split("@")[0]
                if os.path.isdir(os.path.join(root, user)):
                    mta_deliver(root, user, data=envelope.original_content)
            return "250 OK delivered"

    def authenticate(server, session, envelope, mechanism, data):
        return smtp_mod.AuthResult(success=(data.login, data.password) == (b"demo", b"demo"))

    smtp = controller_mod.Controller(Deliver(), hostname="127.0.0.1", port=_free_port(),
                                     authenticator=authenticate, auth_require_tls=False)
    smtp.start()
    srv.smtp_port = smtp.port
    yield srv
    smtp.stop()
    srv.stop()


class CoreEvents:
    """Reads the account manager's events in a thread; waits on them with deadlines."""

    def __init__(self, lib, ffi, emitter):
        self.lib, self.ffi, self.emitter = lib, ffi, emitter
        self.events: list = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        lib, ffi = self.lib, self.ffi
        while True:
            event = lib.dc_get_next_event(self.emitter)
            if event == ffi.NULL:
                return
            data2 = lib.dc_event_get_data2_str(event)
            record = (lib.dc_event_get_id(event), lib.dc_event_get_data1_int(event),
                      ffi.string(data2).decode("utf-8", "replace") if data2 != ffi.NULL else None)
            if data2 != ffi.NULL:
                lib.dc_str_unref(data2)
            lib.dc_event_unref(event)
            with self.cond:
                self.events.append(record)
                self.cond.notify_all()

    def wait(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = [e for e in self.events if e[0] in (300, 400)][-10:]
                    raise AssertionError(f"core event not seen in {timeout}s; warnings/errors: {tail}")
                self.cond.wait(left)


def test_libdeltachat_registers_its_device_token_and_is_notified(mail, receiver, tmp_path):
    capi = _need("deltachat.capi")
    lib, ffi = capi.lib, capi.ffi
    accounts = lib.dc_accounts_new(str(tmp_path / "dc-accounts").encode(), 1)
    assert accounts != ffi.NULL
    events = CoreEvents(lib, ffi, lib.dc_accounts_get_event_emitter(accounts))
    try:
        ctx = lib.dc_accounts_get_account(accounts, lib.dc_accounts_add_account(accounts))
        settings = {"addr": "demo@localhost", "mail_pw": "demo", "mail_user": "demo", "mail_server": "127.0.0.1",
                    "mail_port": mail.port, "mail_security": lib.DC_SOCKET_PLAIN, "send_server": "127.0.0.1",
                    "send_port": mail.smtp_port, "send_security": lib.DC_SOCKET_PLAIN, "send_user": "demo",
                    "send_pw": "demo"}
        for key, value in settings.items():
            assert lib.dc_set_config(ctx, key.encode(), str(value).encode()), key
        lib.dc_configure(ctx)
        done = events.wait(lambda e: e[0] == lib.DC_EVENT_CONFIGURE_PROGRESS and e[1] in (0, 1000), 30)
        assert done[1] == 1000, f"configure failed: {done[2]}"

        # what the apps do with the token they get from APNs/FCM
        lib.dc_accounts_set_push_device_token(accounts, DEVICE_TOKEN.encode())
        lib.dc_accounts_start_io(accounts)
        mail.wait_log(rb"device token of demo added \(\d+ octets\)", timeout=30)
        assert b"SETMETADATA \"INBOX\" (/private/devicetoken {" in mail.log
        wait_until(lambda: lib.dc_get_push_state(ctx) == PUSH_CONNECTED, timeout=10,
                   message="the core does not report itself subscribed to push")

        with IMAP(mail.port) as c:
            c.login()
            resp = c.command(b"GETMETADATA INBOX /private/devicetoken")
        line = resp.lines(b"METADATA")[0]
        stored = line.split(b"/private/devicetoken ", 1)[1].rstrip(b")\r\n").strip(b'"')
        # encrypted for the notification service, never the raw token
        assert stored.startswith(b"openpgp:") and DEVICE_TOKEN.encode() not in stored

        # new mail through SMTP -> Maildir -> pushimapd POSTs the token to the notifier
        with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=10) as smtp:
            smtp.sendmail("friend@example.org", ["demo@localhost"],
                          b"From: friend@example.org\r\nTo: demo@localhost\r\nSubject: wake up\r\n"
                          b"Message-ID: <wake-up@example.org>\r\n\r\nnew mail\r\n")
        posted = receiver.wait_for(1, path="/notify")[0]
        assert posted.method == "POST" and posted.body == stored
    finally:
        lib.dc_accounts_stop_io(accounts)
        lib.dc_accounts_unref(accounts)  # ends the event emitter too
        events.thread.join(10)


def test_rpc_server_configures_and_reads_server_metadata(mail, tmp_path):
    client = _need("deltachat_rpc_client")
    server_binary = os.path.join(os.path.dirname(sys.executable), "deltachat-rpc-server")
    if not os.path.exists(server_binary):
        server_binary = shutil.which("deltachat-rpc-server") or server_binary
    with client.Rpc(accounts_dir=str(tmp_path / "rpc-accounts"), rpc_server_path=server_binary) as rpc:
        account = client.DeltaChat(rpc).add_account()
        account.add_or_update_transport({
            "addr": "demo@localhost", "password": "demo", "imapServer": "127.0.0.1", "imapPort": mail.port,
            "imapSecurity": "plain", "imapUser": "demo", "smtpServer": "127.0.0.1",
            "smtpPort": mail.smtp_port, "smtpSecurity": "plain", "smtpUser": "demo"})
        account.start_io()
        try:
            info = wait_until(lambda: (lambda i: i if i.get("imap_server_comment") else None)(account.get_info()),
                              timeout=30, message="the core never read /shared/comment")
            assert info["imap_server_comment"] == f'"{COMMENT}"'
            mail.wait_log(rb'GETMETADATA "" \(/shared/comment /shared/admin ')
        finally:
            account.stop_io()
    # no device token can be given through JSON-RPC, so no registration is attempted
    assert b"SETMETADATA" not in mail.log
