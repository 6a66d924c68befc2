"""Shared fixtures: a real pushimapd process on 127.0.0.1 over a temp Maildir root."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(REPO, "maildir-sample")
_PORT_LINE = re.compile(rb"IMAPFactory (?:\(TLS\) )?starting on (\d+)")


def env_with_repo() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(*args: str, stdin: bytes = b"", root: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pushimapd.cli", *args]
    if root is not None:
        cmd += ["--maildir-root", root]
    return subprocess.run(cmd, input=stdin, capture_output=True, env=env_with_repo(), timeout=60)


def copy_sample(root: str) -> None:
    """The sample users' Maildirs, as the server's sample copy would lay them out."""
    for user in ("demo", "alice"):
        shutil.copytree(os.path.join(SAMPLE, user), os.path.join(root, user))
        for dirpath, _dirs, files in os.walk(os.path.join(root, user)):
            for name in files:
                m = re.match(r"(\d{9,10})\.", name)
                if m:
                    os.utime(os.path.join(dirpath, name), (int(m.group(1)),) * 2)
        for entry in [""] + [d for d in os.listdir(os.path.join(root, user)) if d.startswith(".")]:
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(root, user, entry, sub), exist_ok=True)


class ServerProcess:
    """A pushimapd started with twistd; ``port`` is read from its log."""

    def __init__(self, root: str, extra_args=(), users=(("demo", "demo"),),
                 listen: str = "tcp:0:interface=127.0.0.1"):
        self.root = root
        self.listen = listen
        self.extra_args = list(extra_args)
        self.users = users
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log = b""

    def add_users(self) -> None:
        for name, password in self.users:
            done = run_cli("user", "add", name, stdin=password.encode() + b"\n", root=self.root)
            assert done.returncode == 0 or b"already exists" in done.stderr, done.stderr

    def start(self, timeout: float = 30) -> "ServerProcess":
        cmd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
               "pushimapd", "--maildir-root", self.root, "--listen", self.listen, *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env_with_repo(), cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.log += line
            m = _PORT_LINE.search(line)
            if m:
                self.port = int(m.group(1))
                # keep draining the log: a full pipe would block the server
                self._drain = threading.Thread(target=self._read_log, daemon=True)
                self._drain.start()
                return self
        self.stop()
        raise RuntimeError("server did not start:\n" + self.log.decode(errors="replace"))

    def _read_log(self) -> None:
        stream = self.proc.stdout
        for line in iter(stream.readline, b""):
            self.log += line

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            drain = getattr(self, "_drain", None)
            if drain is not None:
                drain.join(timeout=10)
            else:
                self.log += self.proc.stdout.read() or b""
            self.proc.stdout.close()
        self.proc = None


@pytest.fixture
def maildir_root(tmp_path):
    root = tmp_path / "mail"
    root.mkdir()
    return str(root)


@pytest.fixture
def server(maildir_root):
    """A server over an empty Maildir root with user demo/demo."""
    srv = ServerProcess(maildir_root)
    srv.add_users()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def sample_server(maildir_root):
    """A server over a copy of maildir-sample with demo/demo and alice/alice."""
    copy_sample(maildir_root)
    srv = ServerProcess(maildir_root, users=(("demo", "demo"), ("alice", "alice")))
    srv.add_users()
    srv.start()
    yield srv
    srv.stop()


def require_binary(name: str) -> str:
    """Path of a client binary; missing fails in CI and skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run must install it)")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory):
    """(cert, key) paths of a self-signed certificate for localhost / 127.0.0.1."""
    openssl = require_binary("openssl")
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2",
         "-keyout", key, "-out", cert], capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return cert, key


def started_server(root: str, users=(("demo", "demo"),), extra_args=(), sample: bool = False) -> ServerProcess:
    """A running server over ``root`` (a copy of maildir-sample first when ``sample``)."""
    if sample:
        copy_sample(root)
    server = ServerProcess(root, users=users, extra_args=list(extra_args))
    server.add_users()
    server.start()
    return server


@pytest.fixture(scope="module")
def tls_srv(tmp_path_factory, self_signed_cert):
    """STARTTLS on the plain listener; no network trusted, so no login before TLS."""
    cert, key = self_signed_cert
    server = started_server(str(tmp_path_factory.mktemp("starttls")),
                            extra_args=["--tls-cert", cert, "--tls-key", key, "--trusted-networks", "none"])
    server.cert = cert
    yield server
    server.stop()
