"""Postfix delivering into the Maildirs pushimapd serves (docs/self-hosting.md).

A private Postfix instance (its own configuration, queue and port on
127.0.0.1, started with ``postfix -c DIR start-fg``, stopped with ``postfix -c
DIR stop`` and awaited by its master's PID)
receives mail over SMTP and writes it with its own virtual(8) agent, as a
self-hoster's Postfix would. pushimapd must see each delivery as it sees any
other: an IDLE session gets ``* n EXISTS``, a registered push URL gets its
PUT, and a delivery into the Junk folder (mapped to ``demo/.Junk/``) pushes
nothing. Postfix needs root (its master starts daemons as other users): the
test skips outside CI when it is not installed or not root, and fails in CI.
"""

from __future__ import annotations

import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import require_binary
from push_util import HTTPReceiver, IMAP, PushServer, make_folder, push_list_cli, wait_until

POSTFIX = "/usr/sbin/postfix"
DELIVERY_UID = pwd.getpwnam("nobody").pw_uid  # virtual(8) refuses root; the Maildirs belong to this user
DELIVERY_GID = pwd.getpwnam("nobody").pw_gid


def _need_postfix() -> None:
    if not os.path.exists(POSTFIX):
        require_binary("postfix")  # fails in CI, skips elsewhere
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the Postfix test needs root (its master daemon starts services as other users)")
        pytest.skip("the Postfix test needs root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostfix:
    """Postfix with its own config, queue and data directories under ``base``."""

    def __init__(self, base: str, maildir_root: str, mailboxes: dict[str, str]):
        self.base, self.port = base, _free_port()
        self.etc, self.log_path = os.path.join(base, "etc"), os.path.join(base, "postfix.log")
        os.makedirs(self.etc)
        os.mkdir(os.path.join(base, "spool"))  # `postfix check` makes the queue's subdirectories in it
        os.mkdir(os.path.join(base, "data"))
        owner = pwd.getpwnam("postfix")
        os.chown(os.path.join(base, "data"), owner.pw_uid, owner.pw_gid)
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            f.writelines(f"{address} {path}\n" for address, path in mailboxes.items())
        main = {
            "compatibility_level": "3.6", "myhostname": "mail.example.org", "mydestination": "",
            "inet_interfaces": "loopback-only", "inet_protocols": "ipv4", "mynetworks": "127.0.0.0/8",
            "queue_directory": os.path.join(base, "spool"), "data_directory": os.path.join(base, "data"),
            "maillog_file": self.log_path, "maillog_file_prefixes": base,
            "virtual_mailbox_domains": "example.org", "virtual_mailbox_base": maildir_root,
            "virtual_mailbox_maps": "texthash:" + os.path.join(self.etc, "vmailbox"),
            "virtual_uid_maps": f"static:{DELIVERY_UID}", "virtual_gid_maps": f"static:{DELIVERY_GID}",
            "smtpd_banner": "$myhostname ESMTP", "biff": "no",
        }
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.writelines(f"{key} = {value}\n" for key, value in main.items())
        with open("/etc/postfix/master.cf.proto") as f:
            services = f.read().splitlines()
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            for line in services:
                fields = line.split()
                if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
                    if fields[0] == "smtp" and fields[1] == "inet":
                        fields[0] = f"127.0.0.1:{self.port}"
                    fields[4] = "n"  # no chroot: the queue is private and has no copy of /etc
                    line = "  ".join(fields)
                f.write(line + "\n")
        self.proc = None

    def start(self) -> "PrivatePostfix":
        check = subprocess.run([POSTFIX, "-c", self.etc, "check"], capture_output=True, timeout=60)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([POSTFIX, "-c", self.etc, "start-fg"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return True
            except OSError:
                return False
        wait_until(listening, 30, message=lambda: f"postfix never listened:\n{self.log()}")
        return self

    def send(self, to: str, subject: str) -> None:
        body = (f"From: someone@elsewhere.example\r\nTo: {to}\r\nSubject: {subject}\r\n"
                f"Message-ID: <{subject.replace(' ', '-')}@elsewhere.example>\r\n\r\n{subject}\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.sendmail("someone@elsewhere.example", [to], body)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def master_pid(self) -> int | None:
        try:
            with open(os.path.join(self.base, "spool", "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """`postfix stop` for this instance (its master then ends every daemon it started),
        waiting until the master is gone."""
        pid = self.master_pid()
        subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=60)

        def gone() -> bool:
            if pid is None:
                return True
            try:
                os.kill(pid, 0)
                return False
            except ProcessLookupError:
                return True
        try:
            wait_until(gone, 30)
        except AssertionError:
            os.kill(pid, 9)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def mail_system():
    """(Postfix, pushimapd, HTTP receiver) sharing one Maildir root."""
    _need_postfix()
    base = tempfile.mkdtemp(prefix="pushimapd-postfix-")
    os.chmod(base, 0o755)  # Postfix's daemons run as other users: they must reach the queue and Maildirs
    root = os.path.join(base, "mail")
    os.mkdir(root)
    server = PushServer(root, extra_args=["--push-allow-http", "--push-allow-private"])
    server.add_users()
    make_folder(root, "demo", "Junk")
    for path, dirs, files in os.walk(root):
        if not os.path.basename(path).startswith(".pushimapd"):
            for name in [path] + [os.path.join(path, d) for d in dirs]:
                os.chown(name, DELIVERY_UID, DELIVERY_GID)
    postfix = PrivatePostfix(base, root, {"demo@example.org": "demo/", "junk-demo@example.org": "demo/.Junk/"})
    receiver = HTTPReceiver().start()
    try:
        postfix.start()
        server.start()
        yield postfix, server, receiver
    finally:
        server.stop()
        postfix.stop()
        receiver.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_postfix_virtual_delivery_reaches_idle_and_push_but_junk_pushes_nothing(mail_system):
    postfix, server, receiver = mail_system
    with IMAP(server.port) as pusher, IMAP(server.port) as idler:
        pusher.login("demo", "demo")
        assert pusher.push_put(receiver.url("/wake"), "new=1").status == "OK"
        idler.login("demo", "demo")
        assert idler.command(b"SELECT INBOX").status == "OK"
        idler.send(b"i IDLE\r\n")
        assert idler.read_response(timeout=10).startswith(b"+ ")

        postfix.send("junk-demo@example.org", "spam offer")
        junk = os.path.join(server.root, "demo", ".Junk")
        wait_until(lambda: os.listdir(os.path.join(junk, "new")) or os.listdir(os.path.join(junk, "cur")), 30,
                   message=lambda: "Postfix never delivered into Junk:\n" + postfix.log()[-3000:])
        # a command handles the deliveries inotify already reported: once STATUS counts the
        # message, the push decision for it was made, and the one-shot registration is still there
        status = pusher.command(b"STATUS Junk (MESSAGES)")
        assert status.status == "OK" and b"(MESSAGES 1)" in b"".join(status.untagged)
        assert push_list_cli(server.root)[:2] == (1, 0)

        started = time.monotonic()
        postfix.send("demo@example.org", "hello from postfix")
        exists = idler.read_response(timeout=30)
        assert exists == b"* 1 EXISTS\r\n", exists
        (put,) = receiver.wait_for(1, timeout=30)
        assert put.method == "PUT" and put.path == b"/wake" and put.body == b"new=1"
        assert time.monotonic() - started < 30
        idler.send(b"DONE\r\n")
        done = idler.read_response(timeout=10)
        while not done.startswith(b"i "):
            done = idler.read_response(timeout=10)
        assert done.startswith(b"i OK")

        fetched = idler.command(b"FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID DELIVERED-TO)])")
        assert fetched.status == "OK"
        text = b"".join(fetched.untagged)
        assert b"Subject: hello from postfix" in text and b"<hello-from-postfix@elsewhere.example>" in text
        assert b"Delivered-To: demo@example.org" in text  # written by Postfix's virtual agent
    assert "status=sent (delivered to maildir)" in postfix.log()
