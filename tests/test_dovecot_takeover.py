"""A Maildir made by Dovecot is served with Dovecot's UIDVALIDITY, UIDNEXT,
UIDs, flags, keywords and subscriptions, and Dovecot's files stay as they were.

Two sources: the small fixture committed in tests/fixtures/dovecot-2.3 (made
by Dovecot 2.3.19 with tests/dovecot_util.py, with what Dovecot answered for
it), and, when Dovecot is installed, one made by Dovecot during the test.
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from conftest import ServerProcess
from dovecot_util import USER, build_with_dovecot, fixture_view, install_fixture, server_view
from imap_raw import RawIMAP

DOVECOT_FILES = ("dovecot-uidlist", "dovecot-keywords", "subscriptions")


def dovecot_files(root: str) -> dict:
    """Digest of every Dovecot-owned file under the user's Maildir."""
    out = {}
    for dirpath, _dirs, files in os.walk(os.path.join(root, USER)):
        for name in files:
            if name in DOVECOT_FILES or name.startswith("dovecot."):
                with open(os.path.join(dirpath, name), "rb") as f:
                    out[os.path.relpath(os.path.join(dirpath, name), root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def serve(root: str) -> ServerProcess:
    server = ServerProcess(root, users=((USER, USER),))
    server.add_users()
    return server.start()


def test_committed_dovecot_fixture_keeps_every_uid(tmp_path):
    root = install_fixture(str(tmp_path / "mail"))
    before = dovecot_files(root)
    server = serve(root)
    try:
        assert server_view(server.port, USER, USER) == fixture_view()
    finally:
        server.stop()
    assert dovecot_files(root) == before  # Dovecot's files are never modified
    server = serve(root)  # and the second start answers the same, from pushimapd's own index
    try:
        assert server_view(server.port, USER, USER) == fixture_view()
    finally:
        server.stop()


def test_subscriptions_are_written_back_in_dovecot_format(tmp_path):
    root = install_fixture(str(tmp_path / "mail"))
    path = os.path.join(root, USER, "subscriptions")
    server = serve(root)
    try:
        with RawIMAP(server.port) as c:
            c.login(USER, USER)
            r = c.ok('LSUB "" "*"')
            assert not any(b"V\t2" in line or b"\t" in line for line in r.untagged)
            c.ok("SUBSCRIBE Archive")
            c.ok("UNSUBSCRIBE Lists.python")
            listed = sorted(line.split(b'"."')[1].strip() for line in c.ok('LSUB "" "*"').untagged)
            assert listed == [b'"&AMQ-rger"', b'"Archive"', b'"INBOX"']
    finally:
        server.stop()
    with open(path, "rb") as f:
        assert f.read() == b"V\t2\n\nINBOX\n&AMQ-rger\nArchive\n"


def test_nested_name_in_dovecot_subscriptions_uses_tab(tmp_path):
    root = install_fixture(str(tmp_path / "mail"))
    server = serve(root)
    try:
        with RawIMAP(server.port) as c:
            c.login(USER, USER)
            c.ok("CREATE Lists.rust")
            c.ok("SUBSCRIBE Lists.rust")
    finally:
        server.stop()
    with open(os.path.join(root, USER, "subscriptions"), "rb") as f:
        assert f.read().endswith(b"Lists\tpython\n&AMQ-rger\nLists\trust\n")


def test_a_maildir_made_by_dovecot_now(tmp_path):
    if shutil.which("dovecot") is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed (.ci/run must install dovecot-imapd)")
        pytest.skip("Dovecot is not installed")
    if os.getuid() != 0:
        pytest.skip("Dovecot's master process must start as root")
    root, seen_by_dovecot = build_with_dovecot(str(tmp_path))
    assert seen_by_dovecot["INBOX"]["messages"] and seen_by_dovecot["Lists.python"]["messages"]
    before = dovecot_files(root)
    server = serve(root)
    try:
        assert server_view(server.port, USER, USER) == seen_by_dovecot
        with RawIMAP(server.port) as c:  # new mail gets UIDs above Dovecot's UIDNEXT
            c.login(USER, USER)
            r = c.append("INBOX", b"Subject: after the move\r\n\r\nx\r\n")
            assert r.code == "APPENDUID %d %d" % (seen_by_dovecot["INBOX"]["uidvalidity"],
                                                 seen_by_dovecot["INBOX"]["uidnext"])
    finally:
        server.stop()
    assert dovecot_files(root) == before
