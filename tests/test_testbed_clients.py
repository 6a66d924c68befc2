"""A real client against the test bed's faults: mbsync must recover.

mbsync (isync 1.4) syncs, then the server drops its connection in the middle
of a FETCH answer (the run fails, as it should), then a folder gets a new
UIDVALIDITY; each time the next run must end with both sides in sync.
"""

from __future__ import annotations

import os
import re

from clients_util import deliver, make_message, make_server_folder, run_client
from push_util import wait_until
from test_client_mbsync import Mbsync, assert_in_sync
from testbed_util import add_fault, start_testbed, wait_trace


def test_mbsync_recovers_from_disconnect_and_uidvalidity(tmp_path):
    root, traces = str(tmp_path / "mail"), str(tmp_path / "traces")
    os.makedirs(root)
    server = start_testbed(root, traces, sample=False)
    server.root = root
    try:
        make_server_folder(server, "Sent")
        for n in range(3):
            deliver(server, make_message(f"before the faults {n}", f"body {n}\n"))
        deliver(server, make_message("sent one", "s\n"), "Sent")
        mb = Mbsync(tmp_path, server)
        mb.sync()
        assert_in_sync(mb)

        # new mail, then the server cuts the next UID FETCH answer in half
        for n in range(2):
            deliver(server, make_message(f"after the first sync {n}", "x\n" * 2000))
        fault = add_fault(root, "demo", "disconnect", "--command", "UID FETCH")
        cut = run_client([mb.binary, "-c", mb.rc, "-a", "-V"], mb.env, ok=(0, 1))
        assert cut.returncode != 0 and b"unexpected EOF" in cut.stdout + cut.stderr
        wait_until(lambda: re.search(rb"test bed: fault %d \(disconnect on UID FETCH\) fired" % fault, server.log))
        wait_trace(traces, r"\{\d+ of \d+ bytes\}|\* fault %d " % fault, user="demo")
        mb.sync()  # the next run finishes what the cut one started
        assert_in_sync(mb)

        # a rebuild on the server: INBOX gets a new UIDVALIDITY and new UIDs
        fault = add_fault(root, "demo", "uidvalidity", "--mailbox", "INBOX")
        wait_until(lambda: re.search(rb"test bed: fault %d \(uidvalidity mailbox INBOX\) fired" % fault, server.log))
        deliver(server, make_message("after the rebuild", "y\n"))
        done = mb.sync()
        assert b"far side box INBOX: Recovered from change of UIDVALIDITY" in done.stdout + done.stderr
        assert_in_sync(mb)
        mb.sync()  # and stays so
        assert_in_sync(mb)
    finally:
        server.stop()
