"""Start the servers being compared, privately, on loopback, over given Maildirs.

Nothing here installs anything: a missing program is reported with the
command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


class Missing(RuntimeError):
    pass


def need(program: str, install: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise Missing(f"{program} is not installed; install it with: {install}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def same_hash_users(db_path: str, names: list[str], password: str) -> None:
    """Create many users quickly: one argon2id hash shared by all (same password)."""
    from pushimapd.auth import _hasher
    from pushimapd.db import User, database, open_database

    open_database(db_path)
    hashed = _hasher.hash(password)
    with database.atomic():
        for i in range(0, len(names), 500):
            User.insert_many([{"name": n, "password_hash": hashed} for n in names[i:i + 500]]).on_conflict_ignore().execute()
    database.close()


class Pushimapd:
    name = "pushimapd"

    def __init__(self, root: str, extra=()):
        self.root = root
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self) -> "Pushimapd":
        env = dict(os.environ, PYTHONPATH=REPO)
        self.log = open(os.path.join(self.root, "..", "pushimapd.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
             "pushimapd", "--maildir-root", self.root, "--listen", f"tcp:{self.port}:interface=127.0.0.1",
             *self.extra], stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        wait_for_port(self.port)
        return self

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


DOVECOT_CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = nobody
default_internal_group = nogroup
default_login_user = nobody
first_valid_uid = 1
mail_location = maildir:{maildirs}/%u
mailbox_idle_check_interval = 30 secs
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  process_min_avail = 1
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme={scheme} {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = {base}/passwd
  default_fields = uid=nobody gid=nogroup home={maildirs}/%u
}}
"""


class Dovecot:
    """Debian's dovecot-imapd with its own config dir, as user nobody."""

    name = "dovecot"

    def __init__(self, base: str, maildirs: str, users: dict[str, str], scheme: str = "PLAIN"):
        self.scheme = scheme  # passwd-file scheme; the plain passwords are written with {PLAIN}
        self.base = base
        self.maildirs = maildirs
        self.users = users
        self.port = free_port()
        self.binary = need("dovecot", "apt-get install -y dovecot-imapd")

    def start(self) -> "Dovecot":
        os.makedirs(os.path.join(self.base, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.base, "state"), exist_ok=True)
        with open(os.path.join(self.base, "passwd"), "w") as f:
            for name, password in self.users.items():
                f.write(f"{name}:{{PLAIN}}{password}::::::\n")
        conf = os.path.join(self.base, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(base=self.base, maildirs=self.maildirs, port=self.port, scheme=self.scheme))
        subprocess.run(["chown", "-R", "nobody:nogroup", self.maildirs], check=True)
        os.chmod(self.base, 0o755)
        self.conf = conf
        subprocess.run([self.binary, "-c", conf], check=True)
        wait_for_port(self.port)
        return self

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.base, "run", "master.pid")) as f:
                master = int(f.read().strip())
        except (OSError, ValueError):
            return []
        out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [master] + [int(p) for p in out]

    def stop(self) -> None:
        subprocess.run([self.binary, "-c", self.conf, "stop"], capture_output=True)
