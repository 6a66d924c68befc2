"""--trace logs the protocol but never a password, however it is sent."""

import base64
import socket

from conftest import ServerProcess

PASSWORD = "Sup3r-s3cret-pw"


def exchange(port, chunks):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.recv(4096)
        for chunk, wait_for in chunks:
            s.sendall(chunk)
            data = b""
            while wait_for not in data:
                data += s.recv(4096)
    return data


def test_trace_shows_commands_but_no_password(maildir_root):
    srv = ServerProcess(maildir_root, extra_args=["--trace"], users=(("demo", PASSWORD),))
    srv.add_users()
    srv.start()
    try:
        pw = PASSWORD.encode()
        exchange(srv.port, [(b"a LOGIN demo " + pw + b"\r\n", b"a OK"), (b"b LOGOUT\r\n", b"b OK")])
        exchange(srv.port, [(b"a LOGIN {4}\r\n", b"+"), (b"demo {%d}\r\n" % len(pw), b"+"),
                            (pw + b"\r\n", b"a OK"), (b"b LOGOUT\r\n", b"b OK")])
        exchange(srv.port, [(b"a LOGIN demo {%d+}\r\n" % len(pw) + pw + b"\r\n", b"a OK"),
                            (b"b LOGOUT\r\n", b"b OK")])
        token = base64.b64encode(b"\0demo\0" + pw)
        exchange(srv.port, [(b"a AUTHENTICATE PLAIN " + token + b"\r\n", b"a OK"), (b"b LOGOUT\r\n", b"b OK")])
        exchange(srv.port, [(b"a AUTHENTICATE PLAIN\r\n", b"+"), (token + b"\r\n", b"a OK"),
                            (b"b NOOP\r\n", b"b OK")])
    finally:
        srv.stop()
    log = srv.log
    assert b"LOGOUT" in log and b"NOOP" in log  # the trace is there
    assert pw not in log and token not in log


def test_redaction_keeps_line_ends():
    """A redacted line keeps its CRLF: Thunderbird's SASL PLAIN response (sent
    after the ``+`` continuation) used to lose it, so the trace file showed it
    joined to the next command, e.g. ``[18 bytes redacted]80 namespace``,
    stamped with that command's time."""
    from pushimapd.service import _redact

    token = base64.b64encode(b"\0demo\0" + PASSWORD.encode())
    assert _redact(token + b"\r\n", True) == b"[%d bytes redacted]\r\n" % len(token)
    assert _redact(b"secret", True) == b"[6 bytes redacted]"  # a chunk without a line end
    assert _redact(b"79 authenticate PLAIN\r\n", False) == b"79 authenticate [redacted]\r\n"
    assert _redact(b"a LOGIN demo " + PASSWORD.encode() + b"\r\nb NOOP\r\n", False) == (
        b"a LOGIN [redacted]\r\nb NOOP\r\n")
    assert _redact(b"a LOGIN {4}\r\n", False) == b"a LOGIN [redacted]\r\n"
    assert _redact(token + b"\r\n", False) == b"[%d bytes redacted]\r\n" % len(token)
    assert _redact(b"a NOOP\n", False) == b"a NOOP\n"
