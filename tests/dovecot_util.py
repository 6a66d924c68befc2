"""Maildirs made by Dovecot itself, and what Dovecot says about them.

`build_with_dovecot` runs Debian's Dovecot privately (benchmarks/servers.py:
own config dir, 127.0.0.1, a free port), lets imaplib make folders, messages,
flags, keywords, expunges and subscriptions, and records Dovecot's own view:
UIDVALIDITY, UIDNEXT and every UID with its flags, per folder, and LSUB.
`python3 tests/dovecot_util.py DIR` refreshes the committed fixture
tests/fixtures/dovecot-2.3 (run as root, Dovecot installed).
"""

from __future__ import annotations

import imaplib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))

FIXTURE = os.path.join(HERE, "fixtures", "dovecot-2.3")
USER = "dove"
FOLDERS = ["INBOX", "Archive", "Lists", "Lists.python", "&AMQ-rger"]  # the last: "Ärger"


def mailbox_view(client: imaplib.IMAP4, folder: str) -> dict:
    """UIDVALIDITY, UIDNEXT and {uid: sorted flags without \\Recent} of one folder."""
    typ, data = client.status('"%s"' % folder, "(UIDVALIDITY UIDNEXT)")
    assert typ == "OK", data
    status = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT) (\d+)", data[0]))
    client.select('"%s"' % folder, readonly=True)
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
    messages = {}
    for line in data:
        if not line:
            continue
        m = re.search(rb"UID (\d+)", line)
        flags = re.search(rb"FLAGS \(([^)]*)\)", line).group(1).split()
        messages[m.group(1).decode()] = sorted(f.decode() for f in flags if f != b"\\Recent")
    client.close()
    return {"uidvalidity": int(status[b"UIDVALIDITY"]), "uidnext": int(status[b"UIDNEXT"]), "messages": messages}


def server_view(port: int, user: str, password: str) -> dict:
    """What a server says about every folder of the fixture, and LSUB."""
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(user, password)
    try:
        view = {folder: mailbox_view(client, folder) for folder in FOLDERS}
        typ, data = client.lsub('""', "*")
        view["lsub"] = sorted(re.search(rb'"\." "?([^"]*)"?$', d).group(1).decode() for d in data if d)
        return view
    finally:
        client.logout()


def build_with_dovecot(workdir: str) -> tuple[str, dict]:
    """(Maildir root under ``workdir`` holding USER's Maildir made by Dovecot,
    Dovecot's view of it). Dovecot's processes run as nobody, so it works in
    a world-traversable directory of its own and the result is copied."""
    from servers import Dovecot

    scratch = tempfile.mkdtemp(prefix="pushimapd-dovecot-", dir="/tmp")
    os.chmod(scratch, 0o755)
    base, mail = os.path.join(scratch, "dovecot"), os.path.join(scratch, "mail")
    os.makedirs(base)
    os.makedirs(mail)
    try:
        server = Dovecot(base, mail, users={USER: USER}).start()
        try:
            c = imaplib.IMAP4("127.0.0.1", server.port)
            c.login(USER, USER)
            for folder in FOLDERS[1:]:
                assert c.create('"%s"' % folder)[0] == "OK"
            for folder in ("INBOX", "Lists.python", "&AMQ-rger"):
                assert c.subscribe('"%s"' % folder)[0] == "OK"
            for i in range(12):
                flags = "(\\Seen $Label1)" if i % 3 == 0 else "(\\Answered)" if i % 5 == 1 else None
                c.append("INBOX", flags, None, b"Subject: m%d\r\nFrom: a@example.org\r\n\r\nbody %d\r\n" % (i, i))
            for i in range(5):
                c.append("Lists.python", "(\\Flagged Junk)" if i % 2 else None, None, b"Subject: py%d\r\n\r\nx\r\n" % i)
            c.append('"&AMQ-rger"', "(\\Draft)", None, b"Subject: umlaut\r\n\r\nx\r\n")
            c.select("INBOX")
            c.store("2,5,6", "+FLAGS", "\\Deleted")
            c.expunge()
            c.logout()
            view = server_view(server.port, USER, USER)
        finally:
            server.stop()
        root = os.path.join(workdir, "mail")
        shutil.copytree(mail, root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return root, view


def install_fixture(root: str) -> str:
    """A copy of the committed fixture under ``root`` (for pushimapd to take over)."""
    shutil.copytree(os.path.join(FIXTURE, USER), os.path.join(root, USER), symlinks=False)
    for dirpath, dirnames, _files in os.walk(os.path.join(root, USER)):
        for sub in ("cur", "new", "tmp"):
            if os.path.basename(dirpath) == USER or os.path.exists(os.path.join(dirpath, "maildirfolder")):
                os.makedirs(os.path.join(dirpath, sub), exist_ok=True)
    return root


def fixture_view() -> dict:
    with open(os.path.join(FIXTURE, "dovecot-view.json")) as f:
        return json.load(f)


if __name__ == "__main__":  # refresh the committed fixture
    work = sys.argv[1]
    made, seen = build_with_dovecot(work)
    shutil.rmtree(FIXTURE, ignore_errors=True)
    os.makedirs(FIXTURE)
    shutil.copytree(os.path.join(made, USER), os.path.join(FIXTURE, USER),
                    ignore=shutil.ignore_patterns("dovecot.index*", "dovecot.list.index*", "dovecot.mailbox.log",
                                                  "dovecot-uidvalidity*"))
    for dirpath, _dirs, files in os.walk(FIXTURE):
        if not files and os.path.basename(dirpath) in ("cur", "new", "tmp"):
            open(os.path.join(dirpath, ".keep"), "w").close()  # git keeps empty directories this way
    with open(os.path.join(FIXTURE, "dovecot-view.json"), "w") as f:
        json.dump(seen, f, indent=1, sort_keys=True)
    subprocess.run(["chown", "-R", f"{os.getuid()}:{os.getgid()}", FIXTURE], check=True)
    print(json.dumps(seen, indent=1, sort_keys=True))
