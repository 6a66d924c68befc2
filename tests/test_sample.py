"""The bundled sample, served with no options: every folder and message, intact."""

import email
import hashlib
import os
import re
import subprocess
import sys

import pytest
from imapclient import IMAPClient

from conftest import SAMPLE, env_with_repo
from pushimapd.wire import utf7

_PORT = re.compile(rb"IMAPFactory starting on (\d+)")


def tree_digest(root):
    h = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            if "__pycache__" in dirpath:
                continue
            path = os.path.join(dirpath, name)
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def sample_messages(user_dir):
    """{folder name: {file base: CRLF bytes}} as the Maildir holds them."""
    out = {}
    for entry in [""] + sorted(d for d in os.listdir(user_dir) if d.startswith(".")):
        folder = "INBOX" if entry == "" else utf7.decode(entry[1:].encode())
        msgs = {}
        for sub in ("cur", "new"):
            d = os.path.join(user_dir, entry, sub)
            for name in os.listdir(d) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    msgs[name.split(":")[0]] = re.sub(rb"\r?\n", b"\r\n", f.read())
        out[folder] = msgs
    return out


@pytest.fixture
def default_server(tmp_path):
    """``twistd -n pushimapd`` with no options but a port, state dir in tmp."""
    env = env_with_repo()
    env["PUSHIMAPD_STATE_DIR"] = str(tmp_path / "state")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
         "pushimapd", "--listen", "tcp:0:interface=127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path))
    port = None
    for _ in range(200):
        line = proc.stdout.readline()
        if not line:
            break
        m = _PORT.search(line)
        if m:
            port = int(m.group(1))
            break
    assert port, "server did not start"
    yield port, str(tmp_path / "state" / "sample")
    proc.terminate()
    proc.wait(timeout=15)
    proc.stdout.close()


def bodystructure_shape(bs):
    """(type/subtype, children) from imapclient's parsed BODYSTRUCTURE."""
    if isinstance(bs[0], (list, tuple)):
        # top level: ([parts], subtype, ...); nested: (part, part, ..., subtype, ...)
        first_text = next(i for i, x in enumerate(bs) if isinstance(x, bytes))
        parts = list(bs[0]) if isinstance(bs[0], list) else list(bs[:first_text])
        return ("multipart/" + bs[first_text].decode().lower(), [bodystructure_shape(p) for p in parts])
    kind = f"{bs[0].decode()}/{bs[1].decode()}".lower()
    if kind == "message/rfc822":
        return (kind, [bodystructure_shape(bs[8])])
    return (kind, [])


def email_shape(msg):
    if msg.is_multipart():
        return (msg.get_content_type(), [email_shape(p) for p in msg.get_payload()])
    return (msg.get_content_type(), [])


def test_default_start_serves_every_sample_message_intact(default_server):
    port, copy_root = default_server
    before = tree_digest(SAMPLE)
    expected = sample_messages(os.path.join(SAMPLE, "demo"))
    c = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=30)
    c.login("demo", "demo")
    names = {f[2] for f in c.list_folders()}
    assert set(expected) <= names
    total = 0
    for folder, messages in expected.items():
        info = c.select_folder(folder, readonly=True)
        assert info[b"EXISTS"] == len(messages)
        if not messages:
            continue
        fetched = c.fetch(c.search("ALL"), ["BODY.PEEK[]", "BODYSTRUCTURE", "RFC822.SIZE"])
        bodies = sorted(v[b"BODY[]"] for v in fetched.values())
        assert bodies == sorted(messages.values())
        for v in fetched.values():
            raw = v[b"BODY[]"]
            assert v[b"RFC822.SIZE"] == len(raw)
            parsed = email.message_from_bytes(raw)
            if parsed.get_content_maintype() == "multipart" or parsed.get_content_type() == "text/plain":
                assert bodystructure_shape(v[b"BODYSTRUCTURE"]) == email_shape(parsed)
        total += len(messages)
    c.logout()
    assert total >= 60
    assert tree_digest(SAMPLE) == before, "the checkout's maildir-sample was modified"
    assert os.path.isdir(os.path.join(copy_root, "demo", "cur"))
