#!/usr/bin/env python3
"""Web push latency (a benchmark, not a test).

1,000 users each hold a WEBPUSH registration with their own subscription
keys; N deliveries, each into one user's INBOX, made as an MTA makes them;
the time from the rename into new/ until the receiver has the POST *and* has
decrypted its aes128gcm body (with the subscriber's key, as the browser
would) to the registered payload. Prints p50/p90/p99/max. Target: p99 ≤ 15 ms.

Reuses push_latency.py's receiver, delivery and statistics, and the
subscriber code of examples/webpush_receiver.py.

    python3 benchmarks/webpush_latency.py [--deliveries 200] [--users 1000]
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

from push_latency import Receiver, make_maildir, percentiles, push_latencies, row  # noqa: E402
from servers import Pushimapd, free_port, same_hash_users  # noqa: E402
from webpush_receiver import Subscriber  # noqa: E402

PAYLOAD = b'{"type":"new-mail","account":"bench"}'
TARGET_P99_MS = 15.0


class WebPushHandler(http.server.BaseHTTPRequestHandler):
    """201 to a POST once its body has been decrypted for the path's subscriber."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        plaintext = self.server.subscribers[self.path.lstrip("/")].decrypt(body)
        arrived = time.monotonic()
        ok = plaintext == PAYLOAD and self.headers.get("Content-Encoding") == "aes128gcm"
        self.send_response(201 if ok else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if not ok:
            self.server.errors.append(f"{self.path}: {plaintext!r}")
        self.server.arrived(self.path, arrived)

    def log_message(self, *args):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary Maildirs and the server log")
    args = parser.parse_args()
    if args.deliveries > args.users:
        parser.error("--deliveries must not exceed --users (each delivery consumes one user's registration)")

    work = tempfile.mkdtemp(prefix="webpushbench-")
    root = os.path.join(work, "mail")
    users = [f"user{i:04d}" for i in range(args.users)]
    for user in users:
        make_maildir(os.path.join(root, user))
    db = os.path.join(root, ".pushimapd.sqlite")
    same_hash_users(db, users, "secret")
    http_port = free_port()
    subscribers = {u: Subscriber() for u in users}
    from pushimapd.db import database, open_database
    from pushimapd.push.models import Registration

    open_database(db)
    with database.atomic():
        rows = [{"user": u, "url": f"http://127.0.0.1:{http_port}/{u}".encode(), "payload": PAYLOAD,
                 "updated": i + 1, "registered_at": time.time(), "kind": "webpush",
                 "p256dh": subscribers[u].public_raw, "auth": subscribers[u].auth_secret}
                for i, u in enumerate(users)]
        for i in range(0, len(rows), 300):
            Registration.insert_many(rows[i:i + 300]).execute()
    database.close()

    receiver = Receiver(http_port, WebPushHandler)
    receiver.subscribers = subscribers
    receiver.errors = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = Pushimapd(root, ["--push-allow-http", "--push-allow-private"]).start()
    try:
        time.sleep(1.0)  # let the watcher finish setting up its inotify watches
        latencies = push_latencies(root, users[:args.deliveries], receiver)
    finally:
        server.stop()
        receiver.shutdown()
    if receiver.errors:
        print("webpush_latency: bodies that did not decrypt to the payload: " + "; ".join(receiver.errors[:5]),
              file=sys.stderr)
        return 1
    p = percentiles(latencies)
    print(f"webpush_latency: {args.deliveries} deliveries over {args.users} users with web push registrations; "
          f"times in ms")
    print("| measurement | n | p50 | p90 | p99 | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row("pushimapd: delivery -> web push POST received and decrypted", latencies))
    print(f"target p99 ≤ {TARGET_P99_MS:.0f} ms: {'met' if p['p99'] <= TARGET_P99_MS else 'MISSED'}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
