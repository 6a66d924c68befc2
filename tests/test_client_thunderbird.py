"""End-to-end: the real Thunderbird (Debian's ``thunderbird``, 153 ESR) syncing
headless against pushimapd, the way a user's Thunderbird would.

The test makes a fresh profile (``user.js``): one IMAP account at 127.0.0.1
on the server's port, no TLS (``socketType`` 0), user ``demo``, plain
password (``authMethod`` 3), log in at startup, IDLE, and the folders kept
for offline use (``offline_download``, ``autosync_offline_stores``) in an
mbox store. Thunderbird runs ``--headless --no-remote --profile DIR`` in a
session of its own (``start_new_session``), so that its process group (the
main process and any child it forks) is ended at the end by that group's id.
Any HTTP(S) of its own (updates, remote settings, ...) goes to a proxy on
127.0.0.1 port 9 where nothing listens; only the IMAP connection is direct.

The password. Headless Thunderbird cannot prompt, and it no longer reads a
password from a pref, so the profile gets it where Thunderbird's login
manager keeps it: ``logins.json`` plus the NSS key database ``key4.db``.
Without a primary password that is the usual arrangement: NSS's "secret
decoder ring" (SDR) key lives in key4.db, protected by an empty password,
and logins.json holds the user name and password encrypted with it
(base64 of SDR's DER blob). The test makes both with Thunderbird's own NSS
library (``/usr/lib/thunderbird/libnss3.so``), through ctypes in a short
child Python process: ``NSS_InitReadWrite("sql:PROFILE")`` creates
cert9.db/key4.db, ``PK11_InitPin(slot, NULL, "")`` sets the empty password,
and ``PK11SDR_Encrypt`` creates the SDR key on first use and encrypts
``demo`` twice. The login's origin and realm are ``imap://127.0.0.1``,
which is what Thunderbird looks up for an IMAP server (``type://hostname``,
no port). Nothing outside the test's tmp_path is written: no mozilla.cfg or
policies in Thunderbird's install directory, no system file.

What the test asserts, always from outside (files and the server's traces,
one file per session with ``--trace-dir``):

1. Thunderbird logs in, lists the folders, selects INBOX and downloads every
   INBOX message for offline use: its offline store
   ``ImapMail/127.0.0.1/INBOX`` (mbox) ends up holding every message of the
   sample INBOX's Maildir except the one flagged \\Deleted (T in its name;
   Thunderbird's auto-sync leaves \\Deleted messages out: it asked
   ``UID fetch 1:23,25:36 (UID RFC822.SIZE BODY.PEEK[])``), each one byte
   for byte as on disk (CRLF line ends), after the ``X-Mozilla-Status``
   lines Thunderbird puts first.
2. No answer of the server in any of Thunderbird's sessions is BAD or NO
   (none is expected: ``EXPLAINED_NO`` is empty).
3. While Thunderbird idles on INBOX, a message is delivered with
   ``pushimapd deliver``: the INBOX session's trace shows ``* n EXISTS``
   during Thunderbird's IDLE and then Thunderbird's ``UID fetch`` of the new
   message's body, and the message appears in the offline store.

Every wait polls the profile's files and the traces with a deadline; no
fixed sleeps. A run takes about 15 s.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest

from conftest import require_binary, run_cli, started_server
from clients_util import (
    PASSWORD, USER, client_env, crlf, make_message, message_id, server_messages,
)
from push_util import wait_until
from testbed_util import TRACE_LINE, parse_trace, trace_files

STARTUP_TIMEOUT = 45  # login, folder list, auto-sync of INBOX (Thunderbird waits a few seconds first)
PUSH_TIMEOUT = 15
EXPLAINED_NO: dict[str, str] = {}  # command pattern -> why a NO is fine; none is expected

# Runs in a child Python with Thunderbird's NSS: make key4.db (empty password) and SDR-encrypt argv[3:].
_SDR_SCRIPT = r"""
import base64, ctypes, os, sys
class SECItem(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_ubyte)), ("len", ctypes.c_uint)]
libdir, profile = sys.argv[1], sys.argv[2]
nss = ctypes.CDLL(os.path.join(libdir, "libnss3.so"))
nss.PK11_GetInternalKeySlot.restype = ctypes.c_void_p
nss.PK11_FreeSlot.argtypes = [ctypes.c_void_p]
nss.PK11_NeedUserInit.argtypes = [ctypes.c_void_p]
nss.PK11_InitPin.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
assert nss.NSS_InitReadWrite(("sql:" + profile).encode()) == 0, "NSS_InitReadWrite failed"
slot = nss.PK11_GetInternalKeySlot()
assert slot, "no internal key slot"
if nss.PK11_NeedUserInit(slot):
    assert nss.PK11_InitPin(slot, None, b"") == 0, "PK11_InitPin failed"
for text in sys.argv[3:]:
    raw = text.encode()
    buf = (ctypes.c_ubyte * len(raw)).from_buffer_copy(raw)
    keyid, data, result = SECItem(0, None, 0), SECItem(0, buf, len(raw)), SECItem(0, None, 0)
    assert nss.PK11SDR_Encrypt(ctypes.byref(keyid), ctypes.byref(data), ctypes.byref(result), None) == 0
    print(base64.b64encode(ctypes.string_at(result.data, result.len)).decode())
nss.PK11_FreeSlot(slot)
assert nss.NSS_Shutdown() == 0, "NSS_Shutdown failed"
"""


def thunderbird_libdir(binary: str) -> str:
    """Thunderbird's install directory (it ships its own NSS, newer than the system's)."""
    candidates = [os.path.dirname(os.path.realpath(binary)), "/usr/lib/thunderbird"]
    for d in candidates:
        if os.path.exists(os.path.join(d, "libnss3.so")) and os.path.exists(os.path.join(d, "libxul.so")):
            return d
    pytest.fail(f"no libnss3.so of Thunderbird in {candidates}")


def store_password(libdir: str, profile: str, origin: str, user: str, password: str) -> None:
    """key4.db (empty primary password) + logins.json with ``user``/``password`` for ``origin``."""
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    done = subprocess.run([sys.executable, "-c", _SDR_SCRIPT, libdir, profile, user, password], env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    enc_user, enc_password = done.stdout.decode().split()
    assert os.path.exists(os.path.join(profile, "key4.db"))
    now = int(time.time() * 1000)
    logins = {
        "nextId": 2,
        "logins": [{
            "id": 1, "hostname": origin, "httpRealm": origin, "formSubmitURL": None,
            "usernameField": "", "passwordField": "", "encryptedUsername": enc_user,
            "encryptedPassword": enc_password, "guid": "{%s}" % uuid.uuid4(), "encType": 1,
            "timeCreated": now, "timeLastUsed": now, "timePasswordChanged": now, "timesUsed": 1,
        }],
        "potentiallyVulnerablePasswords": [],
        "dismissedBreachAlertsByLoginGUID": {},
        "version": 3,
    }
    with open(os.path.join(profile, "logins.json"), "w") as f:
        json.dump(logins, f)


def write_prefs(profile: str, port: int) -> None:
    prefs = {
        # one IMAP account (+ the Local Folders Thunderbird wants anyway)
        "mail.accountmanager.accounts": "account1,account2",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.accountmanager.localfoldersserver": "server2",
        "mail.account.account1.server": "server1",
        "mail.account.account1.identities": "id1",
        "mail.account.account2.server": "server2",
        "mail.identity.id1.useremail": "demo@example.org",
        "mail.identity.id1.fullName": "Demo User",
        "mail.identity.id1.valid": True,
        "mail.server.server1.type": "imap",
        "mail.server.server1.name": "pushimapd",
        "mail.server.server1.hostname": "127.0.0.1",
        "mail.server.server1.port": port,
        "mail.server.server1.userName": USER,
        "mail.server.server1.socketType": 0,  # plain, no STARTTLS
        "mail.server.server1.authMethod": 3,  # normal password
        "mail.server.server1.login_at_startup": True,
        "mail.server.server1.check_new_mail": True,
        "mail.server.server1.check_time": 30,  # minutes: new mail must come through IDLE, not biff
        "mail.server.server1.use_idle": True,
        "mail.server.server1.offline_download": True,
        "mail.server.server1.directory-rel": "[ProfD]ImapMail/127.0.0.1",
        "mail.server.server1.storeContractID": "@mozilla.org/msgstore/berkeleystore;1",
        "mail.server.server2.type": "none",
        "mail.server.server2.hostname": "Local Folders",
        "mail.server.server2.userName": "nobody",
        "mail.server.server2.name": "Local Folders",
        "mail.server.server2.directory-rel": "[ProfD]Mail/Local Folders",
        "mail.server.server2.storeContractID": "@mozilla.org/msgstore/berkeleystore;1",
        "mail.server.default.autosync_offline_stores": True,
        "mail.serverDefaultStoreContractID": "@mozilla.org/msgstore/berkeleystore;1",
        # no first-run dialogs, wizards or start page
        "mail.shell.checkDefaultClient": False,
        "mailnews.start_page.enabled": False,
        "mail.provider.enabled": False,
        "mail.rights.version": 1,
        "mail.startup.enabledMailCheckOnce": True,
        "mail.biff.show_alert": False,
        "mail.biff.play_sound": False,
        "mail.chat.enabled": False,
        "mailnews.auto_config.fetchFromISP.enabled": False,
        "mail.phishing.detection.enabled": False,
        # nothing of its own to the internet: HTTP(S) to a closed port on 127.0.0.1
        "network.proxy.type": 1,
        "network.proxy.http": "127.0.0.1",
        "network.proxy.http_port": 9,
        "network.proxy.ssl": "127.0.0.1",
        "network.proxy.ssl_port": 9,
        "network.proxy.no_proxies_on": "",
        "network.proxy.allow_hijacking_localhost": False,
        "network.dns.disablePrefetch": True,
        "network.connectivity-service.enabled": False,
        "network.captive-portal-service.enabled": False,
        "services.settings.server": "http://127.0.0.1:9/v1",
        "datareporting.policy.dataSubmissionEnabled": False,
        "datareporting.healthreport.uploadEnabled": False,
        "toolkit.telemetry.enabled": False,
        "app.update.auto": False,
        "app.update.disabledForTesting": True,
        "app.normandy.enabled": False,
        "extensions.update.enabled": False,
        "browser.safebrowsing.malware.enabled": False,
        "browser.safebrowsing.phishing.enabled": False,
    }
    with open(os.path.join(profile, "user.js"), "w") as f:
        for name, value in prefs.items():
            f.write(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n")


def offline_store(path: str, strict: bool = True) -> dict[str, bytes]:
    """Message-ID -> message of Thunderbird's mbox offline store, its X-Mozilla-* lines removed.

    ``strict=False`` (while polling, Thunderbird may be writing the file): a message that is
    not complete enough to have its Message-ID yet is skipped instead of failing the test."""
    if not os.path.exists(path):
        return {}
    out = {}
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.keys():
            raw = box.get_bytes(key)
            m = re.match(rb"X-Mozilla-Status: [0-9a-f]{4}\r?\nX-Mozilla-Status2: [0-9a-f]{8}\r?\n"
                         rb"(?:X-Mozilla-Keys: [^\n]*\n)?", raw)
            data = raw[m.end():] if m else raw
            mid = message_id(data)
            if not strict and not (m and mid):
                continue
            assert m, raw[:200]
            assert mid and mid not in out, f"no or duplicate Message-ID {mid!r} in {path}"
            out[mid] = data
    finally:
        box.close()
    return out


def as_stored(data: bytes) -> bytes:
    """A Maildir message as Thunderbird stores it: CRLF, last line ended, a blank line after it."""
    data = crlf(data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b"\r\n"


def trace_tails(trace_dir: str, n: int = 12) -> str:
    """The last ``n`` lines of every session's trace (for failure messages)."""
    out = []
    for path in trace_files(trace_dir):
        with open(path, encoding="ascii", errors="replace") as f:
            out.append(f"== {os.path.basename(path)}\n" + "".join(f.readlines()[-n:])[-3000:])
    return "\n".join(out) or "(no session)"


def read_trace(path: str, strict: bool = True) -> list[tuple[str, str, str]]:
    """(time, direction, text) lines; ``strict=False`` (polling): a line being written is skipped."""
    if strict:
        return parse_trace(path)
    with open(path, encoding="ascii", errors="replace") as f:
        return [m.groups() for m in map(TRACE_LINE.match, f.read().split("\n")[:-1]) if m]


def traces_text(trace_dir: str, strict: bool = True) -> dict[str, list[tuple[str, str, str]]]:
    return {path: read_trace(path, strict) for path in trace_files(trace_dir, USER)}


def inbox_session(trace_dir: str, strict: bool = True):
    """(path, lines) of the session that selected INBOX (Thunderbird keeps one for it)."""
    found = [(path, lines) for path, lines in traces_text(trace_dir, strict).items()
             if any(d == "C" and re.match(r'\d+ select "INBOX"', text, re.I) for _, d, text in lines)]
    return found[-1] if found else (None, [])


def command_name(text: str) -> str:
    """The command of a client trace line ("" for the redacted SASL response; a leading
    ``[n bytes redacted]`` is that response as older traces showed it, without its line end)."""
    words = re.sub(r"^\[\d+ bytes redacted\]", "", text).replace("\\r\\n", " ").split()
    if len(words) >= 3 and words[1].upper() == "UID":
        return "UID " + words[2].upper()
    return words[1].upper() if len(words) > 1 else words[0].upper() if words else ""


def idling_after_body_fetch(trace_dir: str) -> bool:
    """The INBOX session fetched bodies for offline use and is now in IDLE."""
    _, lines = inbox_session(trace_dir, strict=False)
    client = [i for i, (_, d, _) in enumerate(lines) if d == "C"]
    if not client or command_name(lines[client[-1]][2]) != "IDLE":
        return False
    body_fetch = any(re.match(r"\d+ UID fetch \S+ \(.*BODY\.PEEK\[\]", lines[i][2]) for i in client)
    return body_fetch and ("S", "+ idling\\r\\n") in [(d, t) for _, d, t in lines[client[-1] + 1:]]


class Thunderbird:
    def __init__(self, tmp_path, server):
        self.binary = require_binary("thunderbird")
        self.env = client_env(tmp_path)
        for var in ("DISPLAY", "WAYLAND_DISPLAY", "MOZ_NO_REMOTE", "XAUTHORITY"):
            self.env.pop(var, None)
        self.env.update(MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1", MOZ_DISABLE_AUTO_SAFE_MODE="1")
        self.profile = str(tmp_path / "profile")
        os.makedirs(self.profile)
        write_prefs(self.profile, server.port)
        store_password(thunderbird_libdir(self.binary), self.profile, "imap://127.0.0.1", USER, PASSWORD)
        self.inbox = os.path.join(self.profile, "ImapMail", "127.0.0.1", "INBOX")
        self.output = str(tmp_path / "thunderbird.out")
        self.proc = None

    def start(self):
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--headless", "--no-remote", "--profile", self.profile],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                cwd=self.env["HOME"], start_new_session=True)

    def assert_running(self):
        assert self.proc.poll() is None, f"Thunderbird exited with {self.proc.returncode}:\n{self.log_tail()}"

    def log_tail(self) -> str:
        """The end of Thunderbird's output without headless GTK's icon theme noise."""
        with open(self.output, "rb") as f:
            text = f.read().decode(errors="replace")
        lines = [line for line in text.splitlines() if line.strip() and "gtk_icon_theme" not in line
                 and "GTK_IS_ICON_THEME" not in line and "GDK_IS_SCREEN" not in line]
        return "\n".join(lines[-40:])

    def stop(self):
        """End Thunderbird's process group (made by start_new_session: its id is the main PID)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:  # children that outlived the main process, or a main process deaf to SIGTERM
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def traced_sample_server(tmp_path):
    root, trace_dir = tmp_path / "mail", tmp_path / "traces"
    root.mkdir()
    trace_dir.mkdir()
    server = started_server(str(root), sample=True, extra_args=["--trace-dir", str(trace_dir)])
    server.trace_dir = str(trace_dir)
    yield server
    server.stop()


def test_thunderbird_syncs_inbox_offline_and_gets_new_mail_by_idle(tmp_path, traced_sample_server):
    server = traced_sample_server
    files = server_messages(server)
    deleted = {f.message_id for f in files if "T" in f.flags}
    expected = {f.message_id: as_stored(f.data) for f in files if f.message_id not in deleted}
    assert len(files) == 36 and len(deleted) == 1  # the sample INBOX: one message is \Deleted

    tb = Thunderbird(tmp_path, server)
    started = time.monotonic()
    tb.start()
    try:
        # 1. login, folder list, SELECT INBOX, every message downloaded for offline use
        def synced():
            tb.assert_running()
            return (offline_store(tb.inbox, strict=False).keys() >= expected.keys()
                    and idling_after_body_fetch(server.trace_dir))

        wait_until(synced, STARTUP_TIMEOUT, interval=0.2,
                   message=lambda: f"Thunderbird did not sync INBOX; offline store has "
                                   f"{len(offline_store(tb.inbox, strict=False))} of {len(expected)}; "
                                   f"output:\n{tb.log_tail()}\ntraces:\n{trace_tails(server.trace_dir)}")
        sync_time = time.monotonic() - started
        stored = offline_store(tb.inbox)
        assert sorted(stored) == sorted(expected)  # nothing else, in particular not the \Deleted one
        for mid, data in expected.items():
            assert stored[mid] == data, mid

        # 3. a new message while Thunderbird idles on INBOX
        new = make_message("Delivered while Thunderbird idles", "Pushed to Thunderbird.\n")
        new_mid = message_id(new)
        delivered = time.monotonic()
        # (not clients_util.deliver: it reads the file back from new/, and by then the server
        # may well have moved it to cur/ for Thunderbird's session)
        done = run_cli("deliver", USER, stdin=new, root=server.root)
        assert done.returncode == 0 and b"delivered" in done.stdout, done.stderr.decode(errors="replace")

        def got_new():
            tb.assert_running()
            return new_mid in offline_store(tb.inbox, strict=False)

        wait_until(got_new, PUSH_TIMEOUT, interval=0.1,
                   message=lambda: f"the new message never reached the offline store; output:\n{tb.log_tail()}\n"
                           f"traces:\n{trace_tails(server.trace_dir)}")
        push_time = time.monotonic() - delivered
        assert offline_store(tb.inbox)[new_mid] == as_stored(new)
    finally:
        tb.stop()
    print(f"Thunderbird: offline sync of {len(expected)} messages {sync_time:.1f}s after start; "
          f"new message in the offline store {push_time:.2f}s after delivery")

    # the INBOX session: EXISTS during IDLE, then Thunderbird fetches that message's body
    path, lines = inbox_session(server.trace_dir)
    exists = f"* {len(files) + 1} EXISTS\\r\\n"
    (at,) = [i for i, (_, d, text) in enumerate(lines) if d == "S" and text == exists]
    idle = max(i for i, (_, d, text) in enumerate(lines[:at]) if d == "C" and re.match(r"\d+ IDLE\\r\\n", text))
    assert lines[idle + 1][1:] == ("S", "+ idling\\r\\n"), lines[idle + 1]
    assert all(d != "C" for _, d, _ in lines[idle + 1:at]), f"{path}: EXISTS not sent during IDLE"
    uids = [int(m.group(1)) for _, d, text in lines[at:] if d == "S"
            for m in [re.match(rf"\* {len(files) + 1} FETCH \(UID (\d+) ", text)] if m]
    assert uids, f"{path}: Thunderbird did not ask for the new message's UID"
    assert any(d == "C" and re.match(rf"\d+ UID fetch {uids[0]} \(.*BODY\.PEEK\[\]", text)
               for _, d, text in lines[at:]), f"{path}: no body fetch of UID {uids[0]}"

    # 2. Thunderbird's commands across all of its sessions, and no BAD or NO answer
    sessions = traces_text(server.trace_dir)
    commands = [text for lines in sessions.values() for _, d, text in lines if d == "C"]
    assert any(re.match(r'\d+ ID \("name" "Thunderbird"', text) for text in commands), commands[:20]
    assert any(re.match(r"\d+ list ", text, re.I) for text in commands)
    assert sum(1 for lines in sessions.values() for _, d, text in lines
               if d == "*" and text == f"logged in as {USER}") == len(sessions)
    problems = []
    for p, lines in sessions.items():
        tags = {}
        for _, d, text in lines:
            m = re.match(r"(?:\[\d+ bytes redacted\])?(\S+) (.*)", text)
            if d == "C" and m:
                tags[m.group(1)] = m.group(2)
            m = re.match(r"(\S+) (NO|BAD)\b", text)  # tagged, or untagged (\* BAD, \* NO warnings)
            if d == "S" and m:
                command = tags.get(m.group(1), "?")
                if not any(re.match(pattern, command, re.I) for pattern in EXPLAINED_NO) or m.group(2) == "BAD":
                    problems.append(f"{os.path.basename(p)}: {command!r} -> {text!r}")
    assert not problems, "\n".join(problems)
    names = sorted({command_name(text) for text in commands} - {""})  # "": the redacted SASL response
    print(f"{len(sessions)} sessions, {len(commands)} commands: {', '.join(names)}")
