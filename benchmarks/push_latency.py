#!/usr/bin/env python3
"""Push and IDLE latency (a benchmark, not a test).

N deliveries, each into the INBOX of one of 1,000 users who each hold a push
registration, made the way an MTA makes them (tmp/ then rename into new/);
prints p50/p90/p99/max of delivery -> PUT received. Then M deliveries into
the INBOX of a session idling there: delivery -> ``* n EXISTS``, for
pushimapd and for Dovecot (Debian's dovecot-imapd, started privately on
loopback over a copy of the same Maildir), measured in the same run.

    python3 benchmarks/push_latency.py [--deliveries 200] [--users 1000] [--idle 100]
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

from servers import Dovecot, Missing, Pushimapd, free_port, hash_password, same_hash_users


class Receiver(http.server.ThreadingHTTPServer):
    """Records the arrival time of the request to each path (handler: the PUT one by default)."""

    daemon_threads = True

    def __init__(self, port: int, handler=None):
        self.arrivals: dict[str, float] = {}
        self.cond = threading.Condition()
        super().__init__(("127.0.0.1", port), handler or _Handler)

    def arrived(self, path: str, when: float) -> None:
        with self.cond:
            self.arrivals[path] = when
            self.cond.notify_all()

    def wait_for(self, path: str, timeout: float) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: path in self.arrivals, timeout):
                raise TimeoutError(f"no PUT to {path} within {timeout}s")
            return self.arrivals[path]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self):
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.arrived(self.path, arrived)

    def log_message(self, *args):
        pass


def make_maildir(path: str) -> None:
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


_seq = 0


def deliver(user_dir: str, body: bytes) -> float:
    """Write like an MTA; returns the monotonic time just before the rename."""
    global _seq
    _seq += 1
    name = f"{int(time.time())}.M{_seq}P{os.getpid()}.bench"
    tmp = os.path.join(user_dir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(body)
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(user_dir, "new", name))
    return t0


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": q[49] * 1000, "p90": q[89] * 1000, "p99": q[98] * 1000, "max": ordered[-1] * 1000}


def push_latencies(root: str, users: list[str], receiver: Receiver) -> list[float]:
    """Deliver into each user's INBOX in turn; delivery -> the receiver's arrival time, in seconds."""
    out = []
    for i, user in enumerate(users):
        t0 = deliver(os.path.join(root, user), b"Subject: push %d\n\nbody\n" % i)
        out.append(receiver.wait_for("/" + user, timeout=30) - t0)
        time.sleep(0.01)  # pacing: latency, not throughput, is measured
    return out


def row(label: str, values: list[float]) -> str:
    p = percentiles(values)
    return f"| {label} | {len(values)} | {p['p50']:.1f} | {p['p90']:.1f} | {p['p99']:.1f} | {p['max']:.1f} |"


class IdleClient:
    def __init__(self, port: int, user: str, password: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.line()
        self.command(b"a LOGIN " + user.encode() + b" " + password.encode())
        self.command(b"b SELECT INBOX")
        self.sock.sendall(b"c IDLE\r\n")
        while not self.line().startswith(b"+"):
            pass

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, data: bytes) -> None:
        tag = data.split(b" ", 1)[0]
        self.sock.sendall(data + b"\r\n")
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line)
                return

    def wait_exists(self) -> float:
        while True:
            line = self.line()
            if line.endswith(b" EXISTS"):
                return time.monotonic()

    def close(self) -> None:
        try:
            self.sock.sendall(b"DONE\r\nz LOGOUT\r\n")
        finally:
            self.sock.close()


def idle_latencies(port: int, user_dir: str, count: int, user: str, password: str) -> list[float]:
    client = IdleClient(port, user, password)
    out = []
    try:
        for i in range(count):
            t0 = deliver(user_dir, b"Subject: idle %d\n\nbody\n" % i)
            out.append(client.wait_exists() - t0)
            time.sleep(0.02)  # pacing between deliveries: latency, not throughput, is measured
    finally:
        client.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--skip-dovecot", action="store_true")
    args = parser.parse_args()
    if args.deliveries > args.users:
        parser.error("--deliveries must not exceed --users (each delivery consumes one user's registration)")

    work = tempfile.mkdtemp(prefix="pushbench-")
    os.chmod(work, 0o755)  # Dovecot runs as nobody and must reach its files
    root = os.path.join(work, "mail")
    users = [f"user{i:04d}" for i in range(args.users)]
    for user in users + ["idler"]:
        make_maildir(os.path.join(root, user))
    db = os.path.join(root, ".pushimapd.sqlite")
    same_hash_users(db, users + ["idler"], "secret")
    http_port = free_port()
    from pushimapd.db import database, open_database
    from pushimapd.push.models import Registration

    open_database(db)
    with database.atomic():
        Registration.insert_many([
            {"user": u, "url": f"http://127.0.0.1:{http_port}/{u}".encode(), "payload": b"wake=1", "updated": i + 1}
            for i, u in enumerate(users)]).execute()
    database.close()

    receiver = Receiver(http_port)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = Pushimapd(root, ["--push-allow-http", "--push-allow-private"]).start()
    results = []
    try:
        time.sleep(1.0)  # let the watcher finish setting up its inotify watches
        push = push_latencies(root, users[:args.deliveries], receiver)
        results.append(row("pushimapd: delivery -> PUT received", push))
        idle = idle_latencies(server.port, os.path.join(root, "idler"), args.idle, "idler", "secret")
        results.append(row("pushimapd: delivery -> * EXISTS (IDLE)", idle))
    finally:
        server.stop()
        receiver.shutdown()

    dovecot_idle = None
    if not args.skip_dovecot:
        dmail = os.path.join(work, "dovecot-mail")
        make_maildir(os.path.join(dmail, "idler"))
        try:
            # the same scheme as pushimapd's users (argon2id), as {ARGON2ID} in Dovecot's passwd-file
            dovecot = Dovecot(os.path.join(work, "dovecot"), dmail, hashes={"idler": hash_password("secret")}).start()
        except Missing as e:
            print(f"dovecot skipped: {e}", file=sys.stderr)
        else:
            try:
                dovecot_idle = idle_latencies(dovecot.port, os.path.join(dmail, "idler"), args.idle,
                                              "idler", "secret")
                results.append(row("dovecot: delivery -> * EXISTS (IDLE)", dovecot_idle))
            finally:
                dovecot.stop()

    print(f"push_latency: {args.deliveries} deliveries over {args.users} registered users; "
          f"{args.idle} IDLE deliveries; times in ms")
    print("| measurement | n | p50 | p90 | p99 | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    for line in results:
        print(line)
    if dovecot_idle:
        ours = percentiles(idle)
        theirs = percentiles(dovecot_idle)
        print(f"IDLE p50 ratio pushimapd/dovecot: {ours['p50'] / theirs['p50']:.2f}; "
              f"p99 ratio: {ours['p99'] / theirs['p99']:.2f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
