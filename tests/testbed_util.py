"""Helpers for the test bed tests: a server with --trace-dir (and --console),
faults and events through the real CLI, trace files parsed line by line."""

from __future__ import annotations

import glob
import os
import re

from conftest import run_cli, started_server
from push_util import wait_until

TRACE_LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([CS*]) (.*)\Z")
CONSOLE_LINE = re.compile(rb"test bed console listening on http://(?:127\.0\.0\.1|\[::1?\]|[\d.]+):(\d+)/")


def start_testbed(root: str, trace_dir: str, console: bool = False, users=(("demo", "demo"),),
                   extra_args=(), sample: bool = True):
    args = ["--trace-dir", trace_dir, *extra_args]
    if console:
        args += ["--console", "tcp:0:interface=127.0.0.1"]
    server = started_server(root, users=users, extra_args=args, sample=sample)
    if console:
        m = wait_until(lambda: CONSOLE_LINE.search(server.log), message="the console never started")
        server.console_port = int(m.group(1))
    return server


def cli(root: str, *args: str, stdin: bytes = b"") -> str:
    done = run_cli(*args, stdin=stdin, root=root)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout.decode()


def add_fault(root: str, user: str, kind: str, *options: str) -> int:
    out = cli(root, "fault", "add", user, kind, *options)
    return int(out.split()[0])


def clear_faults(root: str) -> None:
    cli(root, "fault", "clear")


def trace_files(trace_dir: str, user: str = "*") -> list[str]:
    return sorted(glob.glob(os.path.join(trace_dir, f"*-{user}-*.log")), key=os.path.getmtime)


def parse_trace(path: str) -> list[tuple[str, str, str]]:
    """Every line must be ``timestamp direction bytes``; returns them as tuples."""
    out = []
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            m = TRACE_LINE.match(line.rstrip("\n"))
            assert m, f"{path}:{number}: not a trace line: {line!r}"
            out.append(m.groups())
    return out


def wait_trace(trace_dir: str, pattern: str, user: str = "*", timeout: float = 15.0) -> str:
    """The newest trace file of ``user`` with a line matching ``pattern``."""
    regex = re.compile(pattern, re.M)

    def found():
        for path in reversed(trace_files(trace_dir, user)):
            with open(path, encoding="ascii") as f:
                if regex.search(f.read()):
                    return path
        return None

    return wait_until(found, timeout, message=f"no trace with {pattern!r}")
