"""Shared helpers for the end-to-end tests with real IMAP clients.

Everything here reads the Maildirs directly from disk, so the tests compare
what a client got or did with the files, never with what the server says.

``imap_server`` is the conftest ``server`` fixture started with ``--trace``:
its protocol log is drained by a thread (a full pipe would block the
reactor) and printed at teardown, so a failing test shows the exchange.
"""

from __future__ import annotations

import email.parser
import email.policy
import imaplib
import itertools
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Optional

import pytest

from conftest import ServerProcess, copy_sample, run_cli

USER = "demo"
PASSWORD = "demo"
SYSTEM_LETTERS = "DFRST"
CLIENT_TIMEOUT = 60  # generous upper bound; every run here takes well under a few seconds
_counter = itertools.count(1)


# -- server with a readable protocol trace ---------------------------------------


class TracedServer(ServerProcess):
    """A ServerProcess with ``--trace`` (conftest drains its log continuously)."""

    def __init__(self, root: str, users=((USER, PASSWORD),)):
        super().__init__(root, extra_args=["--trace"], users=users)

    def trace(self) -> str:
        return self.log.decode("utf-8", "replace")


def _traced(root: str, users) -> TracedServer:
    srv = TracedServer(root, users=users)
    srv.add_users()
    srv.start()
    return srv


@pytest.fixture
def imap_server(maildir_root):
    """Like conftest's ``server`` (empty root, demo/demo), with ``--trace``."""
    srv = _traced(maildir_root, ((USER, PASSWORD),))
    yield srv
    srv.stop()
    print("---- pushimapd trace ----\n" + srv.trace()[-200_000:])


@pytest.fixture
def imap_sample_server(maildir_root):
    """Like conftest's ``sample_server`` (copy of maildir-sample), with ``--trace``."""
    copy_sample(maildir_root)
    srv = _traced(maildir_root, ((USER, PASSWORD), ("alice", "alice")))
    yield srv
    srv.stop()
    print("---- pushimapd trace ----\n" + srv.trace()[-200_000:])


# -- running clients ----------------------------------------------------------------


def client_env(tmp_path) -> dict:
    """Environment for a client: HOME (and XDG dirs) inside tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), FETCHMAILHOME=str(home), LC_ALL="C.UTF-8", LANG="C.UTF-8")
    for var in ("MAIL", "MAILDIR", "NETRC", "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY",
                "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def run_client(cmd: list[str], env: dict, ok=(0,), timeout: float = CLIENT_TIMEOUT,
               stdin: bytes = b"", cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run a client; its exit status must be one of ``ok``."""
    done = subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=timeout, cwd=cwd)
    print(f"$ {shlex.join(cmd)}  -> {done.returncode}\n{done.stdout.decode(errors='replace')}"
          f"{done.stderr.decode(errors='replace')}")
    assert done.returncode in ok, (
        f"{cmd!r} exited {done.returncode}\n--- stdout ---\n{done.stdout.decode(errors='replace')}"
        f"\n--- stderr ---\n{done.stderr.decode(errors='replace')}")
    return done


# -- message data ------------------------------------------------------------------------


def crlf(data: bytes) -> bytes:
    """Every line ending (CRLF or bare LF) as CRLF, as IMAP sends messages."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """(header including the blank line, body) of CRLF or LF data."""
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None:
        return data, b""
    return data[:m.end()], data[m.end():]


def header_fields(data: bytes) -> list[tuple[str, bytes]]:
    """The raw header fields in order: (lower-case name, whole field incl. folding)."""
    header, _ = split_header(crlf(data))
    fields: list[tuple[str, bytes]] = []
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + b"\r\n" + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().decode("latin-1").lower(), line))
    return fields


def message_id(data: bytes) -> str:
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    return (msg.get("Message-ID") or "").strip()


def make_message(subject: str, body: str = "Hello.\n", *, extra: str = "", eol: bytes = b"\n",
                 raw_subject: Optional[bytes] = None, mid: Optional[str] = None) -> bytes:
    """A small RFC 5322 message with a unique Message-ID, ``eol`` line endings."""
    n = next(_counter)
    mid = mid or f"<client-test-{os.getpid()}-{n}@example.com>"
    lines = [
        b"From: Test Sender <sender@example.com>",
        b"To: Demo User <demo@example.org>",
        b"Subject: " + (raw_subject if raw_subject is not None else subject.encode("ascii")),
        b"Date: Mon, 02 Sep 2024 10:%02d:00 +0000" % (n % 60),
        b"Message-ID: " + mid.encode("ascii"),
    ]
    lines += [x.encode("utf-8") for x in extra.splitlines() if x]
    text = b"\n".join(lines) + b"\n\n" + body.encode("utf-8")
    return text.replace(b"\n", eol)


# -- Maildirs on disk ------------------------------------------------------------------


@dataclass
class MaildirFile:
    folder: str  # folder key given by the caller's layout ("INBOX", "Sent", ...)
    subdir: str  # "cur" or "new"
    filename: str
    path: str
    data: bytes

    @property
    def base(self) -> str:
        return self.filename.split(":", 1)[0]

    @property
    def info(self) -> Optional[str]:
        if ":" not in self.filename:
            return None
        info = self.filename.split(":", 1)[1]
        return info[2:] if info.startswith("2,") else ""

    @property
    def flags(self) -> str:
        """The system flag letters (D F R S T) of the name, sorted; keywords and P ignored."""
        return "".join(sorted(set(self.info or "") & set(SYSTEM_LETTERS)))

    @property
    def message_id(self) -> str:
        return message_id(self.data)


def read_maildir(path: str, folder: str = "") -> list[MaildirFile]:
    """Every message file in ``path``/cur and ``path``/new (dot files skipped)."""
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.startswith("."):
                continue
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                out.append(MaildirFile(folder, sub, name, p, f.read()))
    return out


def size_fields_ok(f: MaildirFile) -> bool:
    """A server-written name's ``,S=`` is the file size and ``,W=`` its CRLF size (when present)."""
    fields = dict(re.findall(r",([SW])=(\d+)", f.base))
    assert "S" in fields, f.filename
    assert int(fields["S"]) == len(f.data), f.filename
    if "W" in fields:
        assert int(fields["W"]) == len(crlf(f.data)), f.filename
    return True


def by_message_id(files: list[MaildirFile]) -> dict[str, MaildirFile]:
    out = {}
    for f in files:
        assert f.message_id, f"{f.path} has no Message-ID"
        assert f.message_id not in out, f"duplicate {f.message_id}: {out.get(f.message_id)} and {f.path}"
        out[f.message_id] = f
    return out


def server_user_dir(server, user: str = USER) -> str:
    return os.path.join(server.root, user)


def server_folder_path(server, folder: str, user: str = USER) -> str:
    """INBOX is the user's Maildir, any other folder is ``.Name`` (IMAP name, mUTF-7)."""
    base = server_user_dir(server, user)
    return base if folder.upper() == "INBOX" else os.path.join(base, "." + folder)


def server_folders(server, user: str = USER) -> list[str]:
    """IMAP names (mUTF-7, '.' separator) of the Maildir++ folders on disk, INBOX first."""
    base = server_user_dir(server, user)
    names = sorted(n[1:] for n in os.listdir(base)
                   if n.startswith(".") and n not in (".", "..") and os.path.isdir(os.path.join(base, n, "cur")))
    return ["INBOX"] + names


def server_messages(server, folder: str = "INBOX", user: str = USER) -> list[MaildirFile]:
    return read_maildir(server_folder_path(server, folder, user), folder)


def snapshot(path: str) -> dict[str, bytes]:
    """relative path -> content of every message file below ``path`` (any depth)."""
    out = {}
    for dirpath, _dirs, files in os.walk(path):
        if os.path.basename(dirpath) not in ("cur", "new"):
            continue
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = f.read()
    return out


def age_dirs(path: str, seconds: float = 5) -> None:
    """Backdate the mtimes of every cur/ and new/ below ``path`` (a client's own Maildir).

    mbsync and offlineimap sleep a second when a Maildir directory changed
    within the current second (mtime granularity); the contents are rescanned
    regardless, so this only skips that wait.
    """
    import time

    when = time.time() - seconds
    for dirpath, _dirs, _files in os.walk(path):
        if os.path.basename(dirpath) in ("cur", "new"):
            os.utime(dirpath, (when, when))


def make_server_folder(server, name: str, user: str = USER) -> str:
    """Create a Maildir++ folder on disk the way maildirmake/an MTA setup would."""
    path = server_folder_path(server, name, user)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    open(os.path.join(path, "maildirfolder"), "wb").close()
    return path


def deliver(server, data: bytes, folder: str = "INBOX", user: str = USER) -> str:
    """Deliver like an MTA through ``pushimapd deliver``; returns the new file's path."""
    done = run_cli("deliver", user, "--folder", folder, stdin=data, root=server.root)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    m = re.search(rb"delivered \d+ bytes to (.+)$", done.stdout.strip())
    assert m, done.stdout
    path = m.group(1).decode()
    with open(path, "rb") as f:
        assert f.read() == data
    return path


def write_local_message(folder_path: str, data: bytes, info: Optional[str] = "") -> str:
    """Put a message into a local (client side) Maildir: cur/ with ``info`` flags, or new/ if None."""
    n = next(_counter)
    base = f"1700000000.P{os.getpid()}Q{n}.testhost"
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(folder_path, sub), exist_ok=True)
    tmp = os.path.join(folder_path, "tmp", base)
    with open(tmp, "wb") as f:
        f.write(data)
    final = os.path.join(folder_path, "new", base) if info is None else os.path.join(
        folder_path, "cur", f"{base}:2,{info}")
    os.rename(tmp, final)
    return final


def set_local_flags(path: str, letters: str) -> str:
    """Rename a client-side Maildir file to carry exactly ``letters`` (moves new/ -> cur/)."""
    directory, name = os.path.split(path)
    folder = os.path.dirname(directory)
    base = name.split(":", 1)[0]
    new = os.path.join(folder, "cur", f"{base}:2,{''.join(sorted(letters))}")
    os.rename(path, new)
    return new


def imap_login(server, user: str = USER, password: str = PASSWORD) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
    conn.login(user, password)
    return conn


def imap_uid_of(conn: imaplib.IMAP4, mid: str) -> int:
    """UID of the message with Message-ID ``mid`` in the selected mailbox."""
    typ, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", f'"{mid}"')
    assert typ == "OK", data
    uids = [int(x) for x in data[0].split()]
    assert len(uids) == 1, (mid, data)
    return uids[0]
