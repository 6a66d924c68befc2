#!/usr/bin/env python3
"""NOTIFY latency (a benchmark, not a test).

One user with ``--folders`` folders; a session that selected INBOX and said
``NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)])
MessageExpunge)) (personal (MessageNew MessageExpunge))`` and then sends
nothing. Deliveries are made the way an MTA makes them (tmp/ then rename
into new/), in turn into INBOX and into the other folders, which no session
has open. Prints p50/p90/p99/max of delivery -> ``* n FETCH`` (INBOX) and
delivery -> ``* STATUS`` (another folder), and, for comparison, delivery ->
``* n EXISTS`` for a plain IDLE session in the same run.

    python3 benchmarks/notify_latency.py [--deliveries 200] [--folders 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import time

from push_latency import IdleClient, deliver, idle_latencies, make_maildir, row
from servers import Pushimapd, same_hash_users


class NotifyClient:
    def __init__(self, port: int, user: str, password: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.line()
        IdleClient.command(self, b"a LOGIN " + user.encode() + b" " + password.encode())
        IdleClient.command(self, b"b SELECT INBOX")
        IdleClient.command(self, b"c NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) "
                                 b"MessageExpunge)) (personal (MessageNew MessageExpunge))")

    line = IdleClient.line

    def wait(self, marker: bytes) -> float:
        while True:
            line = self.line()
            if marker in line:
                return time.monotonic()

    def close(self) -> None:
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
        finally:
            self.sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--folders", type=int, default=20)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="notifybench-")
    root = os.path.join(work, "mail")
    user_dir = os.path.join(root, "notified")
    make_maildir(user_dir)
    folders = [f"Folder{i:03d}" for i in range(args.folders)]
    for folder in folders:
        make_maildir(os.path.join(user_dir, "." + folder))
        open(os.path.join(user_dir, "." + folder, "maildirfolder"), "a").close()
    make_maildir(os.path.join(root, "idler"))
    same_hash_users(os.path.join(root, ".pushimapd.sqlite"), ["notified", "idler"], "secret")
    server = Pushimapd(root).start()
    try:
        time.sleep(1.0)  # let the watcher finish setting up its inotify watches
        client = NotifyClient(server.port, "notified", "secret")
        selected, other = [], []
        try:
            for i in range(args.deliveries):
                if i % 2 == 0:
                    t0 = deliver(user_dir, b"Subject: inbox %d\n\nbody\n" % i)
                    selected.append(client.wait(b" FETCH (UID ") - t0)
                else:
                    folder = folders[(i // 2) % len(folders)]
                    t0 = deliver(os.path.join(user_dir, "." + folder), b"Subject: folder %d\n\nbody\n" % i)
                    other.append(client.wait(b'* STATUS "' + folder.encode() + b'"') - t0)
                time.sleep(0.02)  # pacing: latency, not throughput, is measured
        finally:
            client.close()
        idle = idle_latencies(server.port, os.path.join(root, "idler"), max(args.deliveries // 2, 1), "idler", "secret")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("| path | n | p50 ms | p90 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row("delivery -> NOTIFY EXISTS + FETCH (selected INBOX)", selected))
    print(row(f"delivery -> NOTIFY STATUS (one of {args.folders} folders nobody has open)", other))
    print(row("delivery -> IDLE EXISTS (plain IDLE, same run)", idle))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
