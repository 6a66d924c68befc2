"""TLS: STARTTLS, implicit TLS, the injection attempt, LOGINDISABLED, TLS >= 1.2."""

import socket
import ssl
import subprocess

import pytest
from imapclient import IMAPClient

from conftest import ServerProcess, require_binary


@pytest.fixture(scope="module")
def imaps_server(tmp_path_factory, self_signed_cert):
    cert, key = self_signed_cert
    root = str(tmp_path_factory.mktemp("mail"))
    # only an implicit-TLS listener (IMAPS)
    listen = f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"
    srv = ServerProcess(root, extra_args=["--trusted-networks", "none"], listen=listen)
    srv.add_users()
    srv.start()
    yield srv
    srv.stop()


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_until(sock, marker: bytes, limit=65536) -> bytes:
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_plaintext_login_refused_without_tls_from_untrusted_peer(tls_srv):
    with socket.create_connection(("127.0.0.1", tls_srv.port), timeout=10) as s:
        greeting = read_until(s, b"\r\n")
        assert b"LOGINDISABLED" in greeting and b"STARTTLS" in greeting and b"AUTH=PLAIN" not in greeting
        s.sendall(b"a LOGIN demo demo\r\n")
        assert read_until(s, b"a ").startswith(b"a NO [PRIVACYREQUIRED]")
        s.sendall(b"b AUTHENTICATE PLAIN AGRlbW8AZGVtbw==\r\n")
        assert b"b NO" in read_until(s, b"b ")


def test_starttls_then_login_with_imapclient(tls_srv):
    c = IMAPClient("127.0.0.1", port=tls_srv.port, ssl=False, timeout=10)
    assert b"LOGINDISABLED" in c.capabilities()
    c.starttls(insecure_context())
    caps = c.capabilities()
    assert b"AUTH=PLAIN" in caps and b"LOGINDISABLED" not in caps and b"STARTTLS" not in caps
    c.login("demo", "demo")
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    c.logout()


def test_commands_pipelined_after_starttls_are_discarded(tls_srv):
    with socket.create_connection(("127.0.0.1", tls_srv.port), timeout=10) as raw:
        read_until(raw, b"\r\n")
        raw.sendall(b"a STARTTLS\r\nb LOGIN demo demo\r\nc CAPABILITY\r\n")
        answer = read_until(raw, b"a OK")
        assert answer.startswith(b"a OK")
        assert b"b " not in answer and b"c " not in answer
        tls = insecure_context().wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"d NOOP\r\n")
        reply = read_until(tls, b"d ")
        assert reply == b"d OK NOOP completed\r\n", reply  # nothing from b or c, ever
        tls.sendall(b"e LOGOUT\r\n")
        assert b"e OK" in read_until(tls, b"e OK")


def test_starttls_twice_or_after_login_is_refused(tls_srv):
    with socket.create_connection(("127.0.0.1", tls_srv.port), timeout=10) as raw:
        read_until(raw, b"\r\n")
        raw.sendall(b"a STARTTLS\r\n")
        read_until(raw, b"a OK")
        tls = insecure_context().wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"b STARTTLS\r\n")
        assert read_until(tls, b"\r\n").startswith(b"b BAD")
        tls.sendall(b"c LOGIN demo demo\r\n")
        assert b"c OK" in read_until(tls, b"c OK")
        tls.sendall(b"d STARTTLS\r\n")
        assert read_until(tls, b"\r\n").startswith(b"d BAD")


def test_tls_1_1_is_refused(tls_srv):
    with socket.create_connection(("127.0.0.1", tls_srv.port), timeout=10) as raw:
        read_until(raw, b"\r\n")
        raw.sendall(b"a STARTTLS\r\n")
        read_until(raw, b"a OK")
        ctx = insecure_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            ctx.wrap_socket(raw, server_hostname="localhost")


def test_openssl_s_client_starttls(tls_srv):
    openssl = require_binary("openssl")
    done = subprocess.run(
        [openssl, "s_client", "-starttls", "imap", "-connect", f"127.0.0.1:{tls_srv.port}", "-quiet"],
        input=b"a LOGIN demo demo\r\nb LOGOUT\r\n", capture_output=True, timeout=30)
    assert b"a OK" in done.stdout and b"b OK" in done.stdout, done.stdout + done.stderr


def test_curl_over_starttls(tls_srv):
    curl = require_binary("curl")
    done = subprocess.run([curl, "-sS", "--ssl-reqd", "-k", f"imap://127.0.0.1:{tls_srv.port}/",
                           "-u", "demo:demo"], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert b'"INBOX"' in done.stdout


def test_curl_over_implicit_tls(imaps_server):
    curl = require_binary("curl")
    done = subprocess.run([curl, "-sS", "-k", f"imaps://127.0.0.1:{imaps_server.port}/", "-u", "demo:demo"],
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert b'"INBOX"' in done.stdout


def test_implicit_tls_greeting_allows_plain_auth(imaps_server):
    c = IMAPClient("127.0.0.1", port=imaps_server.port, ssl=True, ssl_context=insecure_context(), timeout=10)
    caps = c.capabilities()
    assert b"AUTH=PLAIN" in caps and b"STARTTLS" not in caps and b"LOGINDISABLED" not in caps
    c.login("demo", "demo")
    c.logout()
