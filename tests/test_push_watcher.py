"""MaildirWatcher in-process: real inotify over a real Maildir++ tree.

The test code runs in the reactor (pytest-twisted), so files written between
two ``yield``s are written before the watcher can read a single event: that
makes "a burst" exact. Every wait is on a callback, with a deadline; "this
was not reported" is checked at a later positive event (the watcher reports
in the order things happened), never after a sleep.
"""

from __future__ import annotations

import os
import time
import shutil

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher

from pushimapd.push.watcher import MaildirWatcher
from push_util import folder_path, make_folder, mta_deliver


class Calls:
    """Records on_delivery / on_change calls; waits for them."""

    def __init__(self):
        self.deliveries: list[tuple[str, str]] = []
        self.changes: list[tuple[str, str]] = []
        self._waiters: list = []

    def on_delivery(self, user: str, folder: str, delivered_at: float, names=None) -> None:
        assert delivered_at is None or delivered_at <= time.time() + 1
        self.deliveries.append((user, folder))
        self._check()

    def on_change(self, user: str, folder: str, names) -> None:
        assert names is None or all(sub in ("cur", "new") for sub, _name in names)
        self.changes.append((user, folder))
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiters):
            predicate, d, call = entry
            if predicate():
                self._waiters.remove(entry)
                call.cancel()
                reactor.callLater(0, d.callback, None)  # resume the test outside the watcher

    def wait(self, predicate, timeout: float = 5, what: str = "") -> defer.Deferred:
        if predicate():
            return defer.succeed(None)
        d = defer.Deferred()

        def expire():
            self._waiters.remove(entry)
            d.errback(AssertionError(f"timed out after {timeout}s waiting for {what}; deliveries "
                                     f"{self.deliveries}, changes {self.changes}"))

        entry = (predicate, d, reactor.callLater(timeout, expire))
        self._waiters.append(entry)
        return d

    def delivery(self, user: str, folder: str, count: int = 1, timeout: float = 5) -> defer.Deferred:
        key = (user, folder)
        return self.wait(lambda: self.deliveries.count(key) >= count, timeout, f"delivery #{count} into {key}")

    def change(self, user: str, folder: str, timeout: float = 5) -> defer.Deferred:
        key = (user, folder)
        return self.wait(lambda: key in self.changes, timeout, f"a change in {key}")


@pytest.fixture
def root(tmp_path):
    path = str(tmp_path / "mail")
    for user in ("demo", "alice"):
        make_folder(path, user, "INBOX")
    for folder in ("Folder", "Other", "Old", "Lists.imap-protocol"):
        make_folder(path, "demo", folder)
    return path


@pytest.fixture
def failures():
    """Anything the watcher logs as a failure fails the test."""
    seen: list = []

    def observer(event):
        if event.get("log_failure") is not None or event.get("log_level") is not None and \
                event["log_level"].name == "critical":
            seen.append(event)

    globalLogPublisher.addObserver(observer)
    yield seen
    globalLogPublisher.removeObserver(observer)
    assert not seen, [e.get("log_failure") or e.get("log_format") for e in seen]


@pytest.fixture
def watch(root, failures):
    calls = Calls()
    watcher = MaildirWatcher(root, reactor, calls.on_delivery, calls.on_change, rescan_interval=3600)
    watcher.start()
    yield watcher, calls
    watcher.stop()


def put_file(root: str, user: str, folder: str, sub: str, name: str) -> str:
    path = os.path.join(folder_path(root, user, folder), sub, name)
    with open(path, "wb") as f:
        f.write(b"Subject: x\r\n\r\nx\r\n")
    return path


# --------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_burst_in_inbox_and_folder_reported_once_each(watch, root):
    watcher, calls = watch
    for i in range(20):
        mta_deliver(root, "demo", "INBOX")
    for i in range(5):
        mta_deliver(root, "demo", "Folder")
    mta_deliver(root, "demo", "Lists.imap-protocol")
    yield calls.delivery("demo", "INBOX")
    yield calls.delivery("demo", "Folder")
    yield calls.delivery("demo", "Lists.imap-protocol")
    mta_deliver(root, "alice", "INBOX")  # a later event: everything before it has been reported
    yield calls.delivery("alice", "INBOX")
    assert sorted(calls.deliveries) == [("alice", "INBOX"), ("demo", "Folder"), ("demo", "INBOX"),
                                        ("demo", "Lists.imap-protocol")]


@pytest_twisted.inlineCallbacks
def test_each_burst_is_reported(watch, root):
    watcher, calls = watch
    for burst in range(1, 4):
        mta_deliver(root, "demo", "Folder")
        mta_deliver(root, "demo", "Folder")
        yield calls.delivery("demo", "Folder", count=burst)
    mta_deliver(root, "alice", "INBOX")
    yield calls.delivery("alice", "INBOX")
    assert calls.deliveries.count(("demo", "Folder")) == 3
    assert calls.deliveries.count(("demo", "INBOX")) == 0


@pytest_twisted.inlineCallbacks
def test_tmp_and_cur_are_not_deliveries(watch, root):
    watcher, calls = watch
    put_file(root, "demo", "INBOX", "tmp", "1.tmp-only.host")  # an MTA still writing
    cur = put_file(root, "demo", "INBOX", "cur", "2.in-cur.host:2,")  # e.g. another IMAP server's APPEND
    yield calls.change("demo", "INBOX")
    os.rename(cur, cur + "S")  # a flag change
    new = mta_deliver(root, "demo", "Folder")
    yield calls.delivery("demo", "Folder")
    calls.changes.clear()
    os.rename(new, new.replace("/new/", "/cur/") + ":2,S")  # a client read it: new/ -> cur/
    os.unlink(os.path.join(root, "demo", "cur", "2.in-cur.host:2,S"))  # an expunge
    yield calls.change("demo", "Folder")
    yield calls.change("demo", "INBOX")
    mta_deliver(root, "alice", "INBOX")
    yield calls.delivery("alice", "INBOX")
    assert sorted(calls.deliveries) == [("alice", "INBOX"), ("demo", "Folder")]


@pytest_twisted.inlineCallbacks
def test_folder_created_after_start_is_watched(watch, root):
    watcher, calls = watch
    make_folder(root, "demo", "New")
    make_folder(root, "demo", "New.Sub")
    # seen as a change once the watcher has handled the creation; only then deliver
    # (delivering at once is test_first_message_written_with_its_folder_is_a_delivery)
    yield calls.change("demo", "New")
    yield calls.change("demo", "New.Sub")
    mta_deliver(root, "demo", "New")
    yield calls.delivery("demo", "New")
    mta_deliver(root, "demo", "New.Sub")
    yield calls.delivery("demo", "New.Sub")
    mta_deliver(root, "demo", "New")
    yield calls.delivery("demo", "New", count=2)


@pytest.mark.parametrize("what", ["folder", "user"])
@pytest_twisted.inlineCallbacks
def test_first_message_written_with_its_folder_is_a_delivery(watch, root, what):
    """sieve ``fileinto :create`` / an LDA creating a missing Maildir: the folder
    (or the user's Maildir) and its first message appear at once."""
    watcher, calls = watch
    user, folder = ("demo", "Fresh") if what == "folder" else ("bob", "INBOX")
    make_folder(root, user, folder)
    mta_deliver(root, user, folder)
    yield calls.delivery(user, folder, timeout=3)


@pytest_twisted.inlineCallbacks
def test_deleted_folder_is_dropped_and_others_keep_working(watch, root):
    watcher, calls = watch
    shutil.rmtree(os.path.join(root, "demo", ".Old"))
    mta_deliver(root, "demo", "Other")
    yield calls.delivery("demo", "Other")
    mta_deliver(root, "demo", "INBOX")
    yield calls.delivery("demo", "INBOX")
    calls.changes.clear()
    make_folder(root, "demo", "Old")  # the same name again
    yield calls.change("demo", "Old")
    mta_deliver(root, "demo", "Old")
    yield calls.delivery("demo", "Old")
    mta_deliver(root, "demo", "Folder")
    yield calls.delivery("demo", "Folder")


@pytest_twisted.inlineCallbacks
def test_renamed_folder_is_watched_under_its_new_name(watch, root):
    watcher, calls = watch
    os.rename(os.path.join(root, "demo", ".Old"), os.path.join(root, "demo", ".Renamed"))  # IMAP RENAME
    yield calls.change("demo", "Renamed")
    mta_deliver(root, "demo", "Renamed")
    yield calls.delivery("demo", "Renamed")
    mta_deliver(root, "demo", "INBOX")
    yield calls.delivery("demo", "INBOX")
    assert ("demo", "Old") not in calls.deliveries


@pytest_twisted.inlineCallbacks
def test_rescan_finds_a_delivery_made_while_unwatched(watch, root):
    watcher, calls = watch
    watcher.stop()  # nothing is watched now
    mta_deliver(root, "demo", "Folder")
    mta_deliver(root, "alice", "INBOX")
    watcher.rescan()
    yield calls.delivery("demo", "Folder")
    yield calls.delivery("alice", "INBOX")
    assert ("demo", "INBOX") not in calls.deliveries
    watcher.rescan()  # nothing new since: nothing reported again
    mta_deliver(root, "demo", "Other")
    watcher.rescan()
    yield calls.delivery("demo", "Other")
    assert calls.deliveries.count(("demo", "Folder")) == 1


@pytest_twisted.inlineCallbacks
def test_rescan_after_inotify_queue_overflow(watch, root):
    """More events than the kernel queues: the lost ones are found by rescanning."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 100_000:
        pytest.skip(f"max_queued_events={limit} is too large to overflow quickly")
    watcher, calls = watch
    new = os.path.join(root, "alice", "new")
    for i in range(limit + 100):  # the reactor cannot read while this runs
        os.close(os.open(os.path.join(new, f"{i}.flood.host"), os.O_CREAT | os.O_WRONLY, 0o600))
    mta_deliver(root, "demo", "Folder")  # its event is lost in the overflow
    yield calls.delivery("demo", "Folder", timeout=20)
    yield calls.delivery("alice", "INBOX", timeout=20)
