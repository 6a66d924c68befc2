"""Maildir storage on real directories: UIDs, external changes, crashes."""

import os

from pushimapd.storage.maildir.account import MailStore
from pushimapd.storage.maildir.mailbox import MaildirMailbox
from pushimapd.storage.maildir.index import FILENAME as INDEX_FILE


class Listener:
    def __init__(self):
        self.added, self.expunged, self.flags = [], [], []
        self.read_write = True

    def messages_added(self, uids, recent=()):
        self.added += uids

    def messages_expunged(self, uids):
        self.expunged += uids

    def flags_changed(self, uids):
        self.flags += uids

    def mailbox_reset(self):
        self.reset = True


def uid_map(box):
    return dict(zip(box.table.bases, box.table.uids))


def deliver(folder, name, data=b"Subject: x\n\nbody\n"):
    tmp = os.path.join(folder, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(folder, "new", name))


def make(tmp_path):
    path = str(tmp_path / "u")
    return path, MaildirMailbox(path, "INBOX")


def test_uids_and_uidvalidity_survive_restart(tmp_path):
    path, box = make(tmp_path)
    for i in range(5):
        deliver(path, f"100{i}.M1P1.host")
    box.sync(force=True)
    before = uid_map(box)
    validity = box.uidvalidity
    again = MaildirMailbox(path, "INBOX")
    assert uid_map(again) == before
    assert again.uidvalidity == validity
    assert sorted(before.values()) == [1, 2, 3, 4, 5] and again.uidnext == 6


def test_uids_never_reused_after_expunge_and_restart(tmp_path):
    path, box = make(tmp_path)
    deliver(path, "1.M1P1.h")
    deliver(path, "2.M1P1.h")
    box.sync(force=True)
    box.store_flags([2], ["\\Deleted"], "+")
    assert box.expunge() == [2]
    again = MaildirMailbox(path, "INBOX")
    deliver(path, "3.M1P1.h")
    again.sync(force=True)
    assert again.uids == [1, 3]


def test_flag_rename_by_another_program_keeps_uid_and_reports_flags(tmp_path):
    path, box = make(tmp_path)
    deliver(path, "1.M1P1.h")
    box.sync(force=True)
    listener = Listener()
    box.add_listener(listener, read_write=False)
    os.rename(os.path.join(path, "new", "1.M1P1.h"), os.path.join(path, "cur", "1.M1P1.h:2,FS"))
    box.sync(force=True)
    assert listener.flags == [1] and box.flags(1) == {"\\Flagged", "\\Seen"}
    assert uid_map(MaildirMailbox(path, "INBOX")) == {"1.M1P1.h": 1}


def test_external_delete_and_delivery_are_noticed(tmp_path):
    path, box = make(tmp_path)
    deliver(path, "1.M1P1.h")
    box.sync(force=True)
    listener = Listener()
    box.add_listener(listener, read_write=False)
    os.unlink(os.path.join(path, "new", "1.M1P1.h"))
    deliver(path, "2.M1P1.h")
    assert box.sync() is True  # no force: the mtime check must notice
    assert listener.expunged == [1] and listener.added == [2]


def test_file_left_in_tmp_by_a_crash_is_never_a_message(tmp_path):
    path, box = make(tmp_path)
    with open(os.path.join(path, "tmp", "9.M1P1.h"), "wb") as f:
        f.write(b"Subject: half written\n")
    box.sync(force=True)
    assert box.uids == []


def test_old_uidlist_is_taken_over_with_every_uid(tmp_path):
    """A folder left by an earlier pushimapd (text uidlist) keeps UIDVALIDITY,
    UIDNEXT and every UID; a torn last record (never announced) is ignored."""
    path = str(tmp_path / "u")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub))
    for name in ("5.M1P1.h:2,S", "9.M1P1.h:2,", "12.M1P1.h:2,F"):
        open(os.path.join(path, "cur", name), "wb").write(b"Subject: x\n\nbody\n")
    deliver(path, "13.M1P1.h")
    with open(os.path.join(path, "pushimapd-uidlist"), "wb") as f:
        f.write(b"pushimapd-uidlist 1 V1234567 N40\n7 5.M1P1.h 20 1700000000\n30 9.M1P1.h\n"
                b"31 12.M1P1.h\n32 gone.M1P1.h\n33 13.M1")  # torn
    box = MaildirMailbox(path, "INBOX")
    assert box.uidvalidity == 1234567
    assert uid_map(box) == {"5.M1P1.h": 7, "9.M1P1.h": 30, "12.M1P1.h": 31, "13.M1P1.h": 40}
    assert box.uidnext == 41 and box.size(7) == 20 and box.internal_time(7) == 1700000000
    assert box.flags(31) == {"\\Flagged"}
    assert not os.path.exists(os.path.join(path, "pushimapd-uidlist"))
    again = MaildirMailbox(path, "INBOX")
    assert uid_map(again) == uid_map(box) and again.uidvalidity == 1234567


def test_append_goes_to_cur_with_flags_and_crlf_size(tmp_path):
    path, box = make(tmp_path)
    uid = box.deliver_file(b"Subject: a\n\nline\n", ["\\Seen", "$Label1"], 1700000000.0)
    name = os.listdir(os.path.join(path, "cur"))[0]
    assert name.endswith(":2,Sa") and ",W=20" in name
    assert os.listdir(os.path.join(path, "new")) == [] and os.listdir(os.path.join(path, "tmp")) == []
    assert box.size(uid) == len(b"Subject: a\r\n\r\nline\r\n")
    assert box.flags(uid) == {"\\Seen", "$Label1"}
    assert box.internal_date(uid).timestamp() == 1700000000.0


def test_folders_noselect_parents_and_rename_with_children(tmp_path):
    store = MailStore(str(tmp_path))
    account = store.account("u")
    account.create("A.B.C")
    names = {f.name: f for f in account.folders()}
    assert not names["A"].selectable and names["A"].has_children
    assert names["A.B.C"].selectable
    account.create("A")
    account.rename("A", "Z")
    assert {f.name for f in account.folders()} == {"INBOX", "Z", "Z.B", "Z.B.C"}
    assert os.path.isdir(tmp_path / "u" / ".Z.B.C" / "cur")
    assert os.path.exists(tmp_path / "u" / ".Z" / "maildirfolder")


def test_credential_cache_remembers_success_only_and_follows_password_changes():
    from pushimapd.auth import CredentialCache

    cache = CredentialCache(ttl=60)
    assert not cache.hit("hash-1", "pw")
    cache.remember("hash-1", "pw")
    assert cache.hit("hash-1", "pw")
    assert not cache.hit("hash-1", "other")  # wrong password
    assert not cache.hit("hash-2", "pw")  # password changed: new stored hash
    assert not cache.hit(None, "pw")  # unknown user
    off = CredentialCache(ttl=0)
    off.remember("hash-1", "pw")
    assert not off.hit("hash-1", "pw")


def test_store_forgets_least_recently_used_closed_folders(tmp_path, monkeypatch):
    from pushimapd.storage.maildir import account as account_module

    monkeypatch.setattr(account_module, "KEEP_CLOSED_MAILBOXES", 2)
    store = MailStore(str(tmp_path))
    acct = store.account("u")
    for name in ("A", "B", "C"):
        acct.create(name)
    held = acct.open("A")
    held.add_listener(Listener(), read_write=True)  # an open session keeps it
    acct.open("B")
    acct.open("C")
    loaded = {m.name for m in store.loaded()}
    assert loaded == {"A", "C"}
    assert acct.open("A") is held


def test_the_maildir_store_provides_the_storage_interfaces(tmp_path):
    """core/ and commands/ use only these interfaces; the Maildir classes
    must provide every method and attribute they declare."""
    from zope.interface.verify import verifyObject

    from pushimapd.interfaces import IAccount, IMailbox, IMailStore

    store = MailStore(str(tmp_path))
    account = store.account("u")
    verifyObject(IMailStore, store)
    verifyObject(IAccount, account)
    verifyObject(IMailbox, account.open("INBOX"))
