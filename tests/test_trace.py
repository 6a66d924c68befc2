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
