"""A client that does not read its answers does not make the server buffer
them all: the server stops taking commands until the client catches up."""

import re
import socket

from conftest import run_cli

BODY = b"Subject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * 1000  # ~100 KB
COMMANDS = 2000  # ~200 MB of answers if they were all buffered at once


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def test_unread_answers_are_not_all_buffered(server):
    assert run_cli("deliver", "demo", stdin=BODY, root=server.root).returncode == 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.recv(4096)
        s.sendall(b"l LOGIN demo demo\r\ns SELECT INBOX\r\n")
        data = b""
        while b"s OK" not in data:
            data += s.recv(65536)
        before = peak_rss_mb(server.proc.pid)
        s.sendall(b"".join(b"f%d FETCH 1 BODY.PEEK[]\r\n" % i for i in range(COMMANDS)))
        marker = b" OK FETCH completed\r\n"
        received, done, tail = 0, 0, b""
        while done < COMMANDS:
            chunk = s.recv(1 << 20)
            assert chunk, "server closed the connection"
            received += len(chunk)
            data = tail + chunk
            done += data.count(marker)
            tail = data[-(len(marker) - 1):]  # too short to hold a whole, already counted marker
    assert received > COMMANDS * len(BODY)  # every answer arrived
    grown = peak_rss_mb(server.proc.pid) - before
    assert grown < 60, f"the server buffered {grown:.0f} MB of unread answers"


def test_unread_answers_inside_tls_do_not_stall_the_stream(tls_srv):
    """The same pipeline after STARTTLS: pausing must not stall the TLS layer."""
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", tls_srv.port), timeout=30) as raw:
        raw.recv(4096)
        raw.sendall(b"t STARTTLS\r\n")
        assert raw.recv(4096).startswith(b"t OK")
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"l LOGIN demo demo\r\n")
        data = b""
        while b"l OK" not in data:
            data += s.recv(65536)
        s.sendall(b"".join(b"c%d CAPABILITY\r\n" % i for i in range(3000)))
        marker = b" OK CAPABILITY completed\r\n"
        done, tail = 0, b""
        while done < 3000:
            chunk = s.recv(1 << 20)
            assert chunk, "server closed the connection"
            data = tail + chunk
            done += data.count(marker)
            tail = data[-(len(marker) - 1):]
        s.sendall(b"z LOGOUT\r\n")
