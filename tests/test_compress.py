"""COMPRESS=DEFLATE (RFC 4978): the codec, the command, and whole sessions over real sockets.

imaplib, imapclient and curl do not speak COMPRESS; the raw-socket client of
tests/imap_raw.py does once `start_compression` swaps its socket for a
`DeflateSocket` (raw deflate both ways, as RFC 4978 peers do, sync-flushed
after every write). Real clients that do: mutt 2.2 (``imap_deflate``),
mbsync 1.4 and the Delta Chat core (always, when the server offers it); all
three are run at the end.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import ssl
import sys
import threading
import zlib

import pytest

from clients_util import (  # noqa: F401  (imap_server, imap_sample_server are fixtures)
    by_message_id, crlf, deliver, imap_sample_server, imap_server, make_message, server_messages,
    write_local_message,
)
from conftest import ServerProcess, run_cli, started_server
from imap_raw import ConnectionClosed, RawIMAP
from push_util import mta_deliver, wait_until
from test_deltachat import _need, mail, receiver  # noqa: F401  (mail, receiver are fixtures)
from pushimapd.core.session import MAX_PIPELINED
from pushimapd.wire.deflate import FREE_BYTES, MAX_RATIO, CompressionError, DeflateCodec

MIB = 1 << 20


# -- a compressing client ---------------------------------------------------------------------------


class DeflateSocket:
    """A (TLS or plain) socket that deflates what is sent and inflates what is received."""

    def __init__(self, sock, already_received: bytes = b""):
        self.sock = sock
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)
        self.ready = self.inflater.decompress(already_received)
        self.received = len(already_received)  # compressed bytes

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH))

    def send_compressed(self, data: bytes) -> None:
        """Bytes already deflated (or deliberately not deflate at all)."""
        self.sock.sendall(data)

    def recv(self, n: int) -> bytes:
        while not self.ready:
            chunk = self.sock.recv(n)
            if not chunk:
                return b""
            self.received += len(chunk)
            self.ready = self.inflater.decompress(chunk)
        out, self.ready = self.ready, b""
        return out

    def settimeout(self, timeout) -> None:
        self.sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()


def start_compression(conn: RawIMAP) -> DeflateSocket:
    """COMPRESS DEFLATE: the tagged OK arrives in clear, nothing after it does."""
    r = conn.command("COMPRESS DEFLATE")
    assert r.ok, r.tagged
    assert r.untagged == [], r.untagged
    assert conn.buf == b"", f"bytes after the tagged OK must be compressed: {conn.buf!r}"
    conn.sock = DeflateSocket(conn.sock)
    return conn.sock


def logged_in(port: int) -> RawIMAP:
    conn = RawIMAP(port)
    conn.login()
    return conn


def capabilities(text: bytes) -> list[str]:
    return text.decode().split()


def server_files(root: str, user: str = "demo") -> list[bytes]:
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(root, user, sub)
        out += [open(os.path.join(d, name), "rb").read() for name in sorted(os.listdir(d))]
    return out


def wait_log(server, pattern: bytes) -> None:
    """The server's log is read by a thread: wait for the line to come through."""
    wait_until(lambda: re.search(pattern, server.log), 10, message=lambda: server.log.decode()[-3000:])


def rss_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(field + r":\s+(\d+)", f.read()).group(1))


def reset_peak_rss(pid: int) -> int:
    """Start measuring the server's peak RSS now (the argon2 check at LOGIN set a high one);
    the RSS at this moment, in KiB."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # Linux: reset VmHWM to the current RSS
    return rss_kib(pid, "VmHWM")


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def big_message(size: int, seed: str = "x") -> bytes:
    """A CRLF message of about ``size`` bytes of base64 (random: it barely compresses)."""
    body = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (f"Subject: big {seed}\r\nMessage-ID: <big-{seed}-{os.getpid()}@example.com>\r\n\r\n").encode() + body


# -- the codec, sans IO ----------------------------------------------------------------------------


def test_codec_round_trip_in_bounded_pieces():
    server, client_out, client_in = DeflateCodec(), zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
    commands = b"".join(b"t%d FETCH %d (FLAGS BODY.PEEK[])\r\n" % (i, i) for i in range(20000))
    wire = client_out.compress(commands) + client_out.flush(zlib.Z_SYNC_FLUSH)
    for i in range(0, len(wire), 1000):  # as TCP might cut it
        server.feed(wire[i:i + 1000])
    pieces = []
    while True:
        piece = server.inflate(4096)
        if not piece:
            break
        assert len(piece) <= 4096
        pieces.append(piece)
    assert b"".join(pieces) == commands
    assert server.backlog == 0 and not server.has_input
    # every compress() result is complete for the peer: the sync flush leaves nothing behind
    for response in (b"* 1 EXISTS\r\n", b"t1 OK done\r\n", os.urandom(70000)):
        assert client_in.decompress(server.compress(response)) == response


def test_codec_keeps_what_it_was_not_asked_for_compressed():
    codec = DeflateCodec()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    wire = c.compress(os.urandom(300_000)) + c.flush(zlib.Z_SYNC_FLUSH)
    codec.feed(wire)
    assert len(codec.inflate(1000)) == 1000
    assert len(wire) - 20_000 < codec.backlog <= len(wire)  # zlib was given one slice, not everything


def test_codec_refuses_a_decompression_bomb_early():
    codec = DeflateCodec()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = bytes(MIB)
    wire = b"".join(c.compress(piece) + c.flush(zlib.Z_SYNC_FLUSH) for _ in range(64))  # 64 MiB -> ~66 KB
    codec.feed(wire)
    inflated = 0
    with pytest.raises(CompressionError, match=f"expands more than {MAX_RATIO}:1"):
        while True:
            piece = codec.inflate(64 * 1024)
            assert piece, "the bomb inflated completely"
            inflated += len(piece)
    assert inflated <= FREE_BYTES + MAX_RATIO * len(wire)


def test_codec_accepts_ordinary_compressible_input_past_the_free_allowance():
    codec = DeflateCodec()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    text = b"".join(b"t%d UID FETCH %d:* (FLAGS)\r\n" % (i, i * 7) for i in range(400_000))  # ~11 MB
    wire = c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH)
    assert len(text) > FREE_BYTES and len(text) / len(wire) < MAX_RATIO
    codec.feed(wire)
    got = []
    while piece := codec.inflate(64 * 1024):
        got.append(piece)
    assert b"".join(got) == text


def test_codec_corrupt_stream_and_data_after_the_end():
    codec = DeflateCodec()
    codec.feed(b"\xff" * 8)  # block type 3 does not exist
    with pytest.raises(CompressionError, match="corrupt"):
        codec.inflate(1000)

    codec = DeflateCodec()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    codec.feed(c.compress(b"a NOOP\r\n") + c.flush(zlib.Z_FINISH) + b"more")
    with pytest.raises(CompressionError, match="after the end"):
        while codec.inflate(1000):
            pass


# -- the command ------------------------------------------------------------------------------------


def test_offered_only_after_login_and_refused_before(server):
    with RawIMAP(server.port) as conn:
        assert b"COMPRESS=DEFLATE" not in conn.greeting
        r = conn.command("COMPRESS DEFLATE")
        assert r.status == "BAD", r.tagged  # RFC 4978: command-auth, not valid before login
        conn.ok("NOOP")  # still in clear
        r = conn.login()
        assert "COMPRESS=DEFLATE" in capabilities(r.code.encode()), r.code
        (line,) = conn.ok("CAPABILITY").lines(b"CAPABILITY")
        assert b" COMPRESS=DEFLATE" in line


def test_unknown_mechanism_is_bad_and_leaves_the_connection_in_clear(server):
    with logged_in(server.port) as conn:
        for text in ("COMPRESS LZW", "COMPRESS", "COMPRESS DEFLATE EXTRA"):
            r = conn.command(text)
            assert r.status == "BAD", (text, r.tagged)
        conn.ok("NOOP")
        start_compression(conn)
        conn.ok("NOOP")


def test_a_session_after_compress(server):
    fetched = big_message(2 * MIB, "fetch")
    assert run_cli("deliver", "demo", stdin=fetched, root=server.root).returncode == 0
    with logged_in(server.port) as conn:
        conn.select()
        client = start_compression(conn)
        # a second COMPRESS: NO [COMPRESSIONACTIVE], and it is no longer offered
        r = conn.command("COMPRESS DEFLATE")
        assert (r.status, r.code) == ("NO", "COMPRESSIONACTIVE"), r.tagged
        (line,) = conn.ok("CAPABILITY").lines(b"CAPABILITY")
        assert b"COMPRESS=DEFLATE" not in line and b"IMAP4rev1" in line

        # a 2 MiB literal comes back intact
        r = conn.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
        ((seq, items),) = r.fetches()
        assert seq == 1 and int(items["RFC822.SIZE"]) == len(fetched)
        assert items["BODY[]"] == fetched

        # APPEND with a synchronising literal (the "+" comes compressed) and with LITERAL+
        synced = make_message("appended with a synchronising literal", eol=b"\r\n")
        r = conn.command_with_literals(["APPEND INBOX (\\Seen) ", synced])
        assert r.ok and "APPENDUID" in r.code, r.tagged
        plus = big_message(300_000, "literal-plus")
        conn.append("INBOX", plus)
        assert conn.ok("SEARCH ALL").search() == [1, 2, 3]
        assert sorted(server_files(server.root)) == sorted([fetched, synced, plus])

        r = conn.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert len(r.fetches()) == 3
        r = conn.command("LOGOUT")
        assert r.ok and r.lines(b"BYE")
        assert conn.is_closed()
        assert client.received < len(fetched) + len(plus)  # the answers did come compressed


def test_commands_sent_right_after_compress_are_not_lost(server):
    """RFC 4978 says to wait for the OK; a client that does not still has its commands run."""
    with logged_in(server.port) as conn:
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        conn.send(b"c1 COMPRESS DEFLATE\r\n"
                  + deflater.compress(b"c2 SELECT INBOX\r\nc3 NOOP\r\n") + deflater.flush(zlib.Z_SYNC_FLUSH))
        while b"\r\n" not in conn.buf:
            conn._fill()
        ok, rest = conn.buf.split(b"\r\n", 1)
        assert ok.startswith(b"c1 OK"), ok
        conn.buf = b""
        conn.sock = DeflateSocket(conn.sock, already_received=rest)
        conn.sock.deflater = deflater
        assert conn.read_until_tagged(b"c2").ok
        assert conn.read_until_tagged(b"c3").ok


def test_idle_news_from_another_process_arrive_at_once(server):
    with logged_in(server.port) as conn:
        conn.select()
        start_compression(conn)
        conn.send(b"i1 IDLE\r\n")
        assert conn.read_response().startswith(b"+ ")
        done = run_cli("deliver", "demo", stdin=make_message("news while idling", eol=b"\r\n"), root=server.root)
        assert done.returncode == 0, done.stderr
        # the EXISTS must not wait in the server's compressor: it arrives while we only listen
        conn.sock.settimeout(10)
        news = [conn.read_response(), conn.read_response()]
        assert b"* 1 EXISTS\r\n" in news, news
        conn.send(b"DONE\r\n")
        assert conn.read_until_tagged(b"i1").ok


def test_protocol_trace_shows_the_protocol_not_deflate(imap_server):
    with logged_in(imap_server.port) as conn:
        start_compression(conn)
        conn.ok("NOOP", tag=b"traced1")
        conn.ok("CAPABILITY", tag=b"traced2")
    wait_log(imap_server, rb"traced2 OK CAPABILITY completed")
    trace = imap_server.trace()
    assert "C: b'traced1 NOOP\\r\\n'" in trace, trace[-3000:]
    assert "S: b'traced1 OK NOOP completed\\r\\n'" in trace, trace[-3000:]


# -- TLS outside, deflate inside --------------------------------------------------------------------


def compressed_session_checks(conn: RawIMAP, root: str) -> None:
    message = big_message(200_000, "tls")
    r = conn.append("INBOX", message)
    r = conn.ok("FETCH 1 BODY.PEEK[]")
    assert r.fetch_map()[1]["BODY[]"] == message
    assert message in server_files(root)
    r = conn.command("COMPRESS DEFLATE")
    assert r.code == "COMPRESSIONACTIVE"
    r = conn.command("LOGOUT")
    assert r.ok and r.lines(b"BYE")


def test_compress_inside_starttls(tls_srv):
    conn = RawIMAP(tls_srv.port)
    try:
        assert conn.ok("STARTTLS")
        conn.sock = insecure_context().wrap_socket(conn.sock, server_hostname="localhost")
        conn.login()
        conn.select()
        tls = conn.sock
        start_compression(conn)
        assert conn.sock.sock is tls  # deflate runs inside the TLS session
        compressed_session_checks(conn, tls_srv.root)
    finally:
        conn.close()


def test_compress_over_implicit_tls(tmp_path, self_signed_cert):
    cert, key = self_signed_cert
    root = str(tmp_path / "mail")
    os.mkdir(root)
    srv = ServerProcess(root, listen=f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1")
    srv.add_users()
    srv.start()
    try:
        conn = RawIMAP(srv.port, read_greeting=False)
        conn.sock = insecure_context().wrap_socket(conn.sock, server_hostname="localhost")
        assert conn.read_response().startswith(b"* OK")
        conn.login()
        conn.select()
        start_compression(conn)
        compressed_session_checks(conn, root)
        conn.close()
    finally:
        srv.stop()


# -- hostile and careless clients -------------------------------------------------------------------


def test_corrupt_stream_is_one_log_line_and_a_close(tmp_path):
    srv = started_server(str(tmp_path))
    try:
        with logged_in(srv.port) as conn:
            client = start_compression(conn)
            conn.ok("NOOP")
            client.send_compressed(b"\xff" * 64)  # not deflate
            assert conn.read_response().startswith(b"* BYE Corrupt compressed data")
            assert conn.is_closed()
        with logged_in(srv.port) as other:  # the server goes on
            start_compression(other)
            other.ok("NOOP")
    finally:
        srv.stop()
    log = srv.log.decode()
    assert len(re.findall(r"closing the compressed connection from 127\.0\.0\.1:\d+: Corrupt compressed data",
                          log)) == 1, log
    assert "Traceback" not in log


def test_input_limits_apply_to_the_inflated_stream(server):
    with logged_in(server.port) as conn:
        start_compression(conn)
        r = conn.command(b"NOOP " + b"x" * 200_000)  # one line over the 64 KiB limit
        assert r.status == "BAD" and b"Line too long" in r.tagged, r.tagged
        conn.ok("NOOP")


def zeros_bomb(prefix: bytes, mebibytes: int):
    """(head, piece, count): head + piece * count inflates to ``prefix`` + ``mebibytes`` MiB of
    one byte value; deflate's output for each further MiB repeats, so it is cheap to build."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    fill = (b"x" if prefix else b"\0") * MIB
    head = c.compress(prefix) + c.flush(zlib.Z_SYNC_FLUSH)
    head += b"".join(c.compress(fill) + c.flush(zlib.Z_SYNC_FLUSH) for _ in range(3))
    piece = c.compress(fill) + c.flush(zlib.Z_SYNC_FLUSH)
    assert c.compress(fill) + c.flush(zlib.Z_SYNC_FLUSH) == piece
    return head, piece, mebibytes - 4


@pytest.mark.parametrize("shape", ["zeros", "one long line"])
def test_decompression_bomb(server, shape):
    """10 GiB inflated from ~10 MB sent: BYE (or a closed connection), memory stays flat,
    and another client is served all along."""
    prefix = b"" if shape == "zeros" else b"t9 NOOP "
    head, piece, count = zeros_bomb(prefix, 10 * 1024)
    other = logged_in(server.port)
    start_compression(other)
    other.ok("NOOP")
    bomber = logged_in(server.port)
    client = start_compression(bomber)
    bomber.ok("NOOP")
    before = reset_peak_rss(server.proc.pid)
    answers = bytearray()

    def read_all():
        try:
            while chunk := client.recv(65536):
                answers.extend(chunk)
        except OSError:
            pass  # reset: the server closed while we were still sending

    reader = threading.Thread(target=read_all)
    reader.start()
    sent = 0
    try:
        client.send_compressed(head)
        sent += len(head)
        batch = piece * 256
        for _ in range(count // 256):
            client.send_compressed(batch)
            sent += len(batch)
    except OSError:
        pass  # the server closed the connection
    reader.join(timeout=60)
    assert not reader.is_alive(), "the bomb connection was not closed"
    bomber.close()
    grown_mb = (rss_kib(server.proc.pid, "VmHWM") - before) / 1024
    print(f"{shape}: sent {sent / 1e6:.1f} MB of {(len(head) + count * len(piece)) / 1e6:.1f} MB; "
          f"peak RSS grew {grown_mb:.1f} MB; answers {bytes(answers[-200:])!r}")
    # BYE with the reason (unless the reset ate it): the server said why it closed
    byes = re.findall(rb"\* BYE [^\r]*", answers)
    assert byes in ([], [b"* BYE Compressed input expands more than %d:1" % MAX_RATIO]), bytes(answers[-300:])
    wait_log(server, rb"closing the compressed connection from 127\.0\.0\.1:\d+: Compressed input expands")
    assert grown_mb < 64, f"the bomb cost {grown_mb:.0f} MB"
    assert sent < 10 * MIB  # cut off long before the whole bomb went in
    other.ok("NOOP")  # the other client was never affected
    other.close()


def test_sending_ahead_while_the_server_waits_is_bounded(server):
    """A client that reads nothing while it pours compressed data in: its input waits
    compressed, and past 4 MiB it gets BYE, as it would without COMPRESS."""
    message = big_message(100_000, "ahead")
    assert run_cli("deliver", "demo", stdin=message, root=server.root).returncode == 0
    with logged_in(server.port) as conn:
        conn.select()
        client = start_compression(conn)
        conn.sock.settimeout(60)
        before = reset_peak_rss(server.proc.pid)

        def pour():
            try:
                conn.send(b"".join(b"f%d FETCH 1 BODY.PEEK[]\r\n" % i for i in range(400)))  # ~40 MB of answers
                junk = base64.b64encode(os.urandom(MAX_PIPELINED * 3 // 2))  # ~6 MiB once compressed
                conn.send(b"j NOOP " + junk + b"\r\n")
            except OSError:
                pass  # closed by the server while we were still sending

        sender = threading.Thread(target=pour)
        sender.start()
        last, fetched = b"", 0
        try:
            while True:
                last = conn.read_response()
                fetched += last.startswith(b"* 1 FETCH")
        except ConnectionClosed:
            pass  # EOF, or a reset (the server closes with our unread junk in its socket)
        sender.join(timeout=60)
        assert not sender.is_alive()
    grown_mb = (rss_kib(server.proc.pid, "VmHWM") - before) / 1024
    print(f"{fetched} FETCH answers read, then {last[:80]!r}; {client.received / 1e6:.1f} MB received; "
          f"peak RSS grew {grown_mb:.1f} MB")
    wait_log(server, rb"closing the compressed connection from \S+: Too much data sent ahead")
    # the BYE, unless the reset ate it and what was in flight: never an answer to the junk
    assert re.match(rb"\* 1 FETCH |f\d+ OK FETCH completed\r\n\Z|\* BYE Too much data sent ahead", last), last[:200]
    assert 0 < fetched < 400
    assert grown_mb < 30


BACKPRESSURE_COMMANDS = 800  # ~80 MB of answers (~62 MB compressed) if they were all buffered at once


def test_unread_answers_are_not_all_buffered_with_compression(server):
    """tests/test_backpressure.py with COMPRESS on (with an incompressible body, so the
    compressed answers really fill the socket)."""
    message = big_message(100_000, "pressure")
    assert run_cli("deliver", "demo", stdin=message, root=server.root).returncode == 0
    with logged_in(server.port) as conn:
        conn.select()
        client = start_compression(conn)
        before = reset_peak_rss(server.proc.pid)
        conn.sock.settimeout(60)
        conn.send(b"".join(b"f%d FETCH 1 BODY.PEEK[]\r\n" % i for i in range(BACKPRESSURE_COMMANDS)))
        marker = b" OK FETCH completed\r\n"
        received, done, tail = 0, 0, b""
        while done < BACKPRESSURE_COMMANDS:
            chunk = client.recv(1 << 20)
            assert chunk, "server closed the connection"
            received += len(chunk)
            data = tail + chunk
            done += data.count(marker)
            tail = data[-(len(marker) - 1):]
        conn.ok("NOOP")
    assert received > BACKPRESSURE_COMMANDS * len(message)  # every answer arrived
    grown = (rss_kib(server.proc.pid, "VmHWM") - before) / 1024
    print(f"compressed {client.received / 1e6:.1f} MB for {received / 1e6:.1f} MB; peak RSS grew {grown:.1f} MB")
    assert grown < 30, f"the server buffered {grown:.0f} MB of unread answers"


# -- real clients -----------------------------------------------------------------------------------


def trace_after_logouts(server, count: int) -> str:
    """The server's trace once it holds ``count`` finished LOGOUTs (a thread reads the log)."""
    wait_until(lambda: server.log.count(b" OK LOGOUT completed") >= count, 10,
               message=lambda: server.trace()[-3000:])
    return server.trace()


def compress_in_trace(trace: str) -> bool:
    return bool(re.search(r"C: b'(\S+) COMPRESS DEFLATE\\r\\n'.*\n.*S: b'\1 OK DEFLATE active", trace))


def test_mutt_with_imap_deflate(tmp_path, imap_sample_server):
    from test_client_mutt import Mutt

    files = server_messages(imap_sample_server)
    run = Mutt(tmp_path, imap_sample_server, imap_deflate="yes").run()
    run.assert_no_error()
    assert run.status["total"] == len(files) == 36
    assert sorted(line.message_id for line in run.index) == sorted(by_message_id(files))
    trace = trace_after_logouts(imap_sample_server, 1)
    assert compress_in_trace(trace), "mutt did not send COMPRESS DEFLATE"
    after = trace[trace.index("OK DEFLATE active"):]
    assert re.search(r"C: b'\S+ (UID )?FETCH", after), "no FETCH after COMPRESS"


def test_mbsync_compresses_on_its_own(tmp_path, imap_server):
    from test_client_mbsync import Mbsync, without_tuid

    sent = [make_message(f"for mbsync {i}", "body line\n" * 200) for i in range(5)]
    for data in sent:
        deliver(imap_server, data)
    mb = Mbsync(tmp_path, imap_server)
    mb.sync()
    assert compress_in_trace(trace_after_logouts(imap_server, 1)), "mbsync did not send COMPRESS DEFLATE"
    local = by_message_id(mb.messages("INBOX"))
    remote = by_message_id(server_messages(imap_server))
    assert sorted(local) == sorted(remote) and len(local) == 5
    for mid, f in remote.items():
        assert crlf(without_tuid(local[mid].data)[0]) == crlf(f.data)  # mbsync adds X-TUID
    # and back: a message written locally is uploaded (APPEND) through the compressed stream
    write_local_message(mb.folder_path("INBOX"), make_message("uploaded by mbsync", "up\n"))
    mb.sync()
    uploaded = [f for f in server_messages(imap_server) if b"uploaded by mbsync" in f.data]
    assert len(uploaded) == 1 and crlf(uploaded[0].data).endswith(b"\r\n\r\nup\r\n")
    assert len(re.findall(r"C: b'\S+ APPEND ", trace_after_logouts(imap_server, 2))) == 1


def test_delta_chat_core_compresses_every_connection_and_hears_idle_news(mail, tmp_path):
    """deltachat-rpc-server (the chatmail core, async-imap) sends COMPRESS DEFLATE on every
    connection; a delivery reaches its IDLE as a compressed EXISTS, and it goes on to fetch."""
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
            mail.wait_log(rb"S: b'(\S+) OK DEFLATE active\\r\\n'(?s:.*)C: b'\S+ IDLE\\r\\n'", timeout=30)
            mta_deliver(mail.root, "demo", data=make_message("for delta chat", eol=b"\r\n"))
            mail.wait_log(rb"S: b'\* 1 EXISTS(?s:.*)C: b'DONE\\r\\n'(?s:.*)C: b'\S+ UID FETCH 1", timeout=30)
        finally:
            account.stop_io()
    log = mail.log
    assert log.count(b" COMPRESS DEFLATE\\r\\n'") == log.count(b"login ok for demo") >= 1
    assert log.count(b" OK DEFLATE active\\r\\n'") == log.count(b" COMPRESS DEFLATE\\r\\n'")
