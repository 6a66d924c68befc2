"""Run inside a private network namespace (``unshare -n``) by test_testbed_console.

The namespace is made by the test itself: its loopback interface gets a
second, non-loopback address (10.77.0.1/32), so a connection to it comes
from a non-loopback peer without any traffic leaving this process tree.
Starts pushimapd with ``--console tcp:0:interface=0.0.0.0`` over the Maildir
root given as argv[1] and prints, as JSON, what the console answered.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import started_server  # noqa: E402
from push_util import wait_until  # noqa: E402

ADDRESS = "10.77.0.1"


def status(url: str, headers=None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], check=True)
    server = started_server(sys.argv[1], extra_args=["--console", "tcp:0:interface=0.0.0.0"])
    try:
        port = int(wait_until(lambda: re.search(rb"console listening on http://[\d.]+:(\d+)/", server.log)).group(1))
        token = wait_until(lambda: re.search(rb"console token \(needed from non-loopback addresses\): (\S+)",
                                             server.log)).group(1).decode()
        far, near = f"http://{ADDRESS}:{port}", f"http://127.0.0.1:{port}"
        result = {
            "no_token": status(far + "/api/sessions"),
            "page_no_token": status(far + "/"),
            "wrong_token": status(far + "/api/sessions", {"X-Console-Token": "wrong"}),
            "header_token": status(far + "/api/sessions", {"X-Console-Token": token}),
            "query_token": status(far + f"/api/sessions?token={token}"),
            "loopback": status(near + "/api/sessions"),
        }
    finally:
        server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
