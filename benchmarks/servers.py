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


def hash_password(password: str) -> str:
    """An ARGON2ID hash (argon2-cffi's default parameters, a PHC string) that all
    three servers verify: pushimapd (argon2-cffi), Dovecot (passwd-file
    ``{ARGON2ID}``, libsodium) and pymap (passlib's argon2 handler)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def hashed_users(db_path: str, hashes: dict[str, str]) -> None:
    """Create pushimapd users with the given (already computed) argon2id hashes."""
    from pushimapd.db import User, database, open_database

    open_database(db_path)
    with database.atomic():
        rows = [{"name": n, "password_hash": h} for n, h in hashes.items()]
        for i in range(0, len(rows), 500):
            User.insert_many(rows[i:i + 500]).on_conflict_replace().execute()
    database.close()


def _stat_cpu(pid: int, children: bool = False) -> float:
    """utime+stime (and cutime+cstime: reaped children) of a process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
        return (int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1)),
                int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1)))
    except (OSError, AttributeError):
        return (0, 0)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                kids = [int(p) for p in f.read().split()]
        except OSError:
            kids = []
        out.extend(kids)
        todo.extend(kids)
    return out


def wait_port_closed(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return
        time.sleep(0.05)


class _Measured:
    """Memory and CPU of a server: its main process and every descendant.

    Memory: the sum of RSS, and the sum of PSS (shared pages divided among
    the processes that share them: the honest total for a multi-process
    server such as Dovecot; equal to RSS, near enough, for one process)."""

    def main_pid(self) -> int:
        return self.proc.pid

    def pids(self) -> list[int]:
        main = self.main_pid()
        return [main] + _descendants(main) if main else []

    def memory_kib(self) -> dict:
        rss = pss = 0
        pids = self.pids()
        for pid in pids:
            r, p = _memory_kib(pid)
            rss += r
            pss += p
        return {"rss": rss, "pss": pss, "processes": len(pids)}

    def cpu_seconds(self) -> float:
        """CPU used so far by the server, reaped children included."""
        main = self.main_pid()
        if not main:
            return 0.0
        return _stat_cpu(main, children=True) + sum(_stat_cpu(p) for p in _descendants(main))


class Pushimapd(_Measured):
    name = "pushimapd"

    def __init__(self, root: str, extra=()):
        self.root = root
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self) -> "Pushimapd":
        env = dict(os.environ, PYTHONPATH=REPO)
        self.log = open(os.path.join(self.root, "..", "pushimapd.log"), "ab")
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
        wait_port_closed(self.port)

    def restart(self) -> "Pushimapd":
        self.stop()
        return self.start()


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
{extra}service imap-login {{
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


# auth_cache: Dovecot's cache of passdb lookups (the counterpart of pushimapd's
# cache of verified credentials, same TTL); the limits let 2,000 sessions of
# one user in (Dovecot's defaults: 100 processes per service, 10 connections
# per user and IP), nothing else is tuned.
DOVECOT_BENCH_EXTRA = """\
auth_cache_size = 10M
auth_cache_ttl = 600 secs
default_process_limit = {limit}
default_client_limit = {client_limit}
service imap {{
  process_limit = {limit}
}}
protocol imap {{
  mail_max_userip_connections = {limit}
}}
"""


class Dovecot(_Measured):
    """Debian's dovecot-imapd with its own config dir, as user nobody.

    `users` maps names to plain passwords (written ``{PLAIN}``); `hashes`
    maps names to crypt-style hashes (``$argon2id$`` written ``{ARGON2ID}``,
    ``$6$`` written ``{SHA512-CRYPT}``). `bench` adds the
    auth cache and the connection limits of DOVECOT_BENCH_EXTRA."""

    name = "dovecot"

    def __init__(self, base: str, maildirs: str, users: dict[str, str] | None = None, scheme: str = "PLAIN",
                 hashes: dict[str, str] | None = None, bench: bool = False, limit: int = 2500):
        self.scheme = scheme  # passwd-file default scheme, for lines without a {SCHEME} prefix
        self.base = base
        self.maildirs = maildirs
        self.users = users or {}
        self.hashes = hashes or {}
        self.extra = DOVECOT_BENCH_EXTRA.format(limit=limit, client_limit=limit * 4) if bench else ""
        self.port = free_port()
        self.binary = need("dovecot", "apt-get install -y dovecot-imapd")

    def start(self) -> "Dovecot":
        os.makedirs(os.path.join(self.base, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.base, "state"), exist_ok=True)
        with open(os.path.join(self.base, "passwd"), "w") as f:
            for name, password in self.users.items():
                f.write(f"{name}:{{PLAIN}}{password}::::::\n")
            for name, hashed in self.hashes.items():
                if hashed.startswith("$argon2id$"):
                    hashed = "{ARGON2ID}" + hashed
                elif hashed.startswith("$6$"):
                    hashed = "{SHA512-CRYPT}" + hashed
                f.write(f"{name}:{hashed}::::::\n")
        conf = os.path.join(self.base, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(base=self.base, maildirs=self.maildirs, port=self.port, scheme=self.scheme,
                                        extra=self.extra))
        subprocess.run(["chown", "-R", "nobody:nogroup", self.maildirs], check=True)
        os.chmod(self.base, 0o755)
        self.conf = conf
        subprocess.run([self.binary, "-c", conf], check=True)
        wait_for_port(self.port)
        return self

    def main_pid(self) -> int:
        try:
            with open(os.path.join(self.base, "run", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return 0

    def version(self) -> str:
        return subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout.strip()

    def stop(self) -> None:
        master = self.main_pid()
        subprocess.run([self.binary, "-c", self.conf, "stop"], capture_output=True)
        deadline = time.monotonic() + 30
        while master and os.path.exists(f"/proc/{master}") and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_port_closed(self.port)

    def restart(self) -> "Dovecot":
        self.stop()
        subprocess.run([self.binary, "-c", self.conf], check=True)
        wait_for_port(self.port)
        return self


class Pymap(_Measured):
    """pymap (PyPI) with its maildir backend, from its own virtualenv.

    Users live in ``pymap-etc-passwd`` (home = Maildir path relative to the
    base directory) and ``pymap-etc-shadow`` (the hash) in the base directory;
    with passlib and argon2-cffi installed its default CryptContext verifies
    ``$argon2id$`` hashes."""

    name = "pymap"

    def __init__(self, base: str, executable: str, hashes: dict[str, str], passlib_cfg: str | None = None):
        self.base = base
        self.executable = executable
        self.hashes = hashes
        self.passlib_cfg = passlib_cfg  # a passlib CryptContext file, for schemes beyond the default set
        self.port = free_port()
        self.proc = None

    def start(self) -> "Pymap":
        with open(os.path.join(self.base, "pymap-etc-passwd"), "w") as f:
            for name in self.hashes:
                f.write(f"{name}:x:::{name}:{name}:\n")
        with open(os.path.join(self.base, "pymap-etc-shadow"), "w") as f:
            for name, hashed in self.hashes.items():
                f.write(f"{name}:{hashed}:::::::\n")
        self.log = open(os.path.join(self.base, "..", "pymap.log"), "ab")
        extra = ["--passlib-cfg", self.passlib_cfg] if self.passlib_cfg else []
        self.proc = subprocess.Popen(
            [self.executable, *extra, "--host", "127.0.0.1", "--port", str(self.port), "--no-tls",
             "maildir", self.base],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.base)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # busy in a long command: it does not get to the signal
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        wait_port_closed(self.port)

    def restart(self) -> "Pymap":
        self.stop()
        return self.start()
