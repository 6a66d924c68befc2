"""Watches every user's Maildir++ with inotify: deliveries and other changes.

One mechanism serves push and live sessions: a new file in any ``new/`` is a
delivery (push fires, open sessions get EXISTS); changes in ``cur/`` made by
other programs resync open mailboxes (EXPUNGE, FETCH FLAGS). Folders that
appear or disappear are watched or dropped, and they and a replaced
``subscriptions`` file are reported to ``on_names`` (NOTIFY's MailboxName and
SubscriptionChange for what other programs do). Events of one reactor turn are
coalesced. ``IN_Q_OVERFLOW`` or a watch that cannot be added switch to
rescanning, which compares ``new/`` with what was seen, so nothing is missed.
"""

from __future__ import annotations

import os
import struct
import time
from typing import Callable, Optional

from twisted.internet import inotify, task
from twisted.logger import Logger
from twisted.python.filepath import FilePath

log = Logger()
_DIR_EVENTS = inotify.IN_CREATE | inotify.IN_MOVED_TO | inotify.IN_DELETE | inotify.IN_MOVED_FROM
_MAIL_EVENTS = _DIR_EVENTS
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
SUBSCRIPTIONS_FILE = "subscriptions"


class _Notifier(inotify.INotify):
    """Twisted's INotify, but overflow is reported and a deleted watched
    directory drops only its own watch (the stock one closes everything)."""

    on_overflow: Callable[[], None] = staticmethod(lambda: None)

    def _doRead(self, in_):
        self._buffer += in_
        while len(self._buffer) >= 16:
            wd, mask, _cookie, size = struct.unpack("=LLLL", self._buffer[0:16])
            name = self._buffer[16 : 16 + size].rstrip(b"\0") if size else None
            self._buffer = self._buffer[16 + size :]
            if mask & IN_Q_OVERFLOW:
                self.on_overflow()
                continue
            iwp = self._watchpoints.get(wd)
            if iwp is None:
                continue
            path = iwp.path.asBytesMode()
            if name:
                path = path.child(name)
            iwp._notify(path, mask)
            if mask & (IN_IGNORED | inotify.IN_DELETE_SELF):
                self._watchpoints.pop(wd, None)
                self._watchpaths.pop(iwp.path, None)


def measure_ctime_slack(directory: str, rounds: int = 20) -> float:
    """How far a new file's ctime may lag the wall clock here (coarse kernel
    timestamps lag by up to a tick; fine-grained ones by nothing)."""
    lag = 0.0
    probe = os.path.join(directory, f".pushimapd-clock-{os.getpid()}")
    try:
        for _ in range(rounds):
            before = time.time()
            with open(probe, "w"):
                pass
            lag = max(lag, before - os.stat(probe).st_ctime)
            os.unlink(probe)
    except OSError:
        return 0.05
    return lag + 0.001


class MaildirWatcher:
    """Calls ``on_delivery(user, folder, delivered_at, new_names)`` and ``on_change(user, folder, names)``.

    ``names`` is the set of (``cur``/``new``, file name) that changed, or None
    when only a full rescan can tell (a folder appeared, a rescan, overflow).

    ``folder`` is the IMAP name (``INBOX`` or ``A.B``). ``delivered_at`` is
    None for deliveries inotify reported (their order against registrations
    is exact, see `drain`) and, for ones a rescan found, the newest change
    time of the files plus the clock slack. Calls are batched to one per
    (user, folder) per reactor turn.
    """

    def __init__(self, root: str, reactor, on_delivery: Callable[[str, str], None],
                 on_change: Callable[[str, str], None], rescan_interval: float = 5.0):
        self.root = os.path.abspath(root)
        self.reactor = reactor
        self.on_delivery = on_delivery
        self.on_change = on_change
        self.rescan_interval = rescan_interval
        self.notifier: Optional[_Notifier] = None
        self.seen_new: dict[tuple[str, str], set[str]] = {}  # (user, folder) -> names in new/
        self.unwatched: set[tuple[str, str]] = set()  # folders only a rescan can see
        self.watch_failures = 0
        self._pending_delivery: dict[tuple[str, str], float] = {}
        self._fresh: set[tuple[str, str]] = set()  # appeared after start: files already in new/ are mail
        self.clock_slack = 0.0
        self._pending_change: set[tuple[str, str]] = set()
        # (sub, file name) seen changing per folder; None: unknown, rescan it all
        self._changed_names: dict[tuple[str, str], Optional[set]] = {}
        self._delivered_names: dict[tuple[str, str], set] = {}  # new/ names per folder, from events
        self._flush_call = None
        # on_names(user): a user's folder directories or subscriptions file changed
        self.on_names: Optional[Callable[[str], None]] = None
        self._pending_names: set[str] = set()
        self._rescan_loop = task.LoopingCall(self.rescan)
        self._rescan_loop.clock = reactor

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        self.clock_slack = measure_ctime_slack(self.root)
        try:
            self.notifier = _Notifier(reactor=self.reactor)
            self.notifier.on_overflow = self._overflow
            self.notifier.startReading()
        except Exception as e:  # no inotify at all: rescanning only
            log.error("inotify is unavailable ({error}); new mail is found by rescanning every "
                      "{interval}s", error=e, interval=self.rescan_interval)
            self.notifier = None
        self._watch(self.root, self._root_event)
        for user in self._users():
            self.watch_user(user)
        self._report_limits()
        self._rescan_loop.start(self.rescan_interval, now=False)

    def stop(self) -> None:
        if self._rescan_loop.running:
            self._rescan_loop.stop()
        if self.notifier is not None:
            self.notifier.connectionLost(None)
            self.notifier = None

    def _report_limits(self) -> None:
        try:
            with open("/proc/sys/fs/inotify/max_user_watches") as f:
                limit = int(f.read())
        except (OSError, ValueError):
            return
        needed = sum(3 for _ in self.seen_new) + len(self.seen_new) // 2 + 1
        if self.watch_failures or needed > limit:
            log.error("inotify watch limit too low: fs.inotify.max_user_watches={limit}, about {needed} "
                      "needed; {failed} folder(s) are found by rescanning every {interval}s instead. Raise it "
                      "with: sysctl fs.inotify.max_user_watches={suggest}", limit=limit, needed=needed,
                      failed=len(self.unwatched), interval=self.rescan_interval, suggest=max(needed * 2, 65536))

    # -- what to watch ---------------------------------------------------------------
    def _users(self) -> list[str]:
        try:
            return sorted(e for e in os.listdir(self.root)
                          if not e.startswith(".") and os.path.isdir(os.path.join(self.root, e)))
        except FileNotFoundError:
            return []

    def _folder_path(self, user: str, folder: str) -> str:
        base = os.path.join(self.root, user)
        return base if folder == "INBOX" else os.path.join(base, "." + folder)

    def watch_user(self, user: str, fresh: bool = False) -> None:
        user_dir = os.path.join(self.root, user)
        self._watch(user_dir, lambda path, mask: self._user_event(user, path, mask))
        self.watch_folder(user, "INBOX", fresh)
        try:
            entries = os.listdir(user_dir)
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.startswith(".") and not entry.startswith("..") and len(entry) > 1:
                self.watch_folder(user, entry[1:], fresh)

    def watch_folder(self, user: str, folder: str, fresh: bool = False) -> None:
        """Watch a folder. ``fresh``: it was just created (an LDA making a
        folder for its first message), so what is already in new/ is mail."""
        key = (user, folder)
        path = self._folder_path(user, folder)
        if not os.path.isdir(path):
            return
        if fresh:
            self._fresh.add(key)
        if key not in self.seen_new:
            self.seen_new[key] = set() if key in self._fresh else self._list_new(path)
        if folder != "INBOX":  # new/ and cur/ may not exist yet right after mkdir
            self._watch(path, lambda p, m: self._folder_dir_event(user, folder, p, m))
        ok = self._watch(os.path.join(path, "new"), lambda p, m: self._new_event(user, folder, p, m))
        ok = self._watch(os.path.join(path, "cur"), lambda p, m: self._cur_event(user, folder, p, m)) and ok
        if ok:
            self.unwatched.discard(key)
        else:
            self.unwatched.add(key)
        if key in self._fresh:  # files that landed before the watch was in place
            self._check_new(key, path)
            if ok:
                self._fresh.discard(key)

    def _check_new(self, key: tuple[str, str], path: str) -> None:
        current = self._list_new(path)
        seen = self.seen_new.setdefault(key, set())
        unseen = current - seen
        if unseen:
            seen.update(unseen)
            self._queue_delivery(key, self._newest_ctime(path, unseen) + self.clock_slack)

    def forget_folder(self, user: str, folder: str) -> None:
        path = self._folder_path(user, folder)
        for key in [k for k in self.seen_new if k[0] == user and (k[1] == folder or k[1].startswith(folder + "."))]:
            del self.seen_new[key]
            self.unwatched.discard(key)
        if self.notifier is not None:
            for watched in list(self.notifier._watchpaths):
                text = watched.path.decode() if isinstance(watched.path, bytes) else watched.path
                if text == path or text.startswith(path + os.sep) or text.startswith(path + "."):
                    self.notifier.ignore(watched)

    def _watch(self, path: str, callback) -> bool:
        if self.notifier is None or not os.path.isdir(path):
            return False
        try:
            self.notifier.watch(FilePath(path), mask=_MAIL_EVENTS | inotify.IN_DELETE_SELF,
                                callbacks=[lambda _ignored, fp, mask: callback(fp.path, mask)])
            return True
        except Exception as e:
            self.watch_failures += 1
            if self.watch_failures == 1:
                log.error("cannot add an inotify watch on {path} ({error}); falling back to rescanning",
                          path=path, error=e)
            return False

    @staticmethod
    def _list_new(path: str) -> set[str]:
        try:
            return {n for n in os.listdir(os.path.join(path, "new")) if not n.startswith(".")}
        except FileNotFoundError:
            return set()

    # -- events ------------------------------------------------------------------------
    @staticmethod
    def _name(path) -> str:
        base = os.path.basename(path)
        return base.decode("utf-8", "surrogateescape") if isinstance(base, bytes) else base

    def _root_event(self, path, mask) -> None:
        name = self._name(path)
        if name.startswith(".") or not mask & inotify.IN_ISDIR:
            return
        if mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
            self.reactor.callLater(0, self.watch_user, name, bool(mask & inotify.IN_CREATE))

    def _user_event(self, user: str, path, mask) -> None:
        name = self._name(path)
        if name == SUBSCRIPTIONS_FILE and not mask & inotify.IN_ISDIR:
            self._queue_names(user)  # replaced (written to a temporary file, renamed) or removed
            return
        if not name.startswith(".") or name.startswith("..") or not mask & inotify.IN_ISDIR:
            return
        folder = name[1:]
        if mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
            # a folder moved in (IMAP RENAME) brings old mail; a created one may bring new mail
            self.watch_folder(user, folder, fresh=bool(mask & inotify.IN_CREATE))
            self._queue_change((user, folder), None)
        elif mask & (inotify.IN_DELETE | inotify.IN_MOVED_FROM):
            self.forget_folder(user, folder)
        self._queue_names(user)

    def _folder_dir_event(self, user: str, folder: str, path, mask) -> None:
        if self._name(path) in ("new", "cur") and mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
            self.watch_folder(user, folder)
            self._queue_names(user)  # a folder is selectable once its cur/ exists

    def _queue_names(self, user: str) -> None:
        if self.on_names is not None:
            self._queue(self._pending_names, user)

    def _new_event(self, user: str, folder: str, path, mask) -> None:
        name = self._name(path)
        if name.startswith(".") or mask & inotify.IN_ISDIR:
            return
        seen = self.seen_new.setdefault((user, folder), set())
        if mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
            if name not in seen:
                seen.add(name)
                self._delivered_names.setdefault((user, folder), set()).add(name)
                self._queue_delivery((user, folder), None)
        else:
            seen.discard(name)
            self._queue_change((user, folder), ("new", name))

    def _cur_event(self, user: str, folder: str, path, mask) -> None:
        name = self._name(path)
        if not name.startswith(".") and not mask & inotify.IN_ISDIR:
            self._queue_change((user, folder), ("cur", name))

    def _queue_change(self, key: tuple[str, str], name: Optional[tuple[str, str]]) -> None:
        names = self._changed_names.get(key, set())
        if names is not None and name is not None:
            names.add(name)
            self._changed_names[key] = names
        else:
            self._changed_names[key] = None
        self._queue(self._pending_change, key)

    def _queue(self, pending: set, key) -> None:
        pending.add(key)
        if self._flush_call is None:
            self._flush_call = self.reactor.callLater(0, self._flush)

    def is_watched(self, path: str) -> bool:
        """True when inotify watches that folder's new/ and cur/."""
        if self.notifier is None:
            return False
        rel = os.path.relpath(path, self.root)
        user, _, folder = rel.partition(os.sep + ".")
        key = (user, folder or "INBOX")
        return key in self.seen_new and key not in self.unwatched

    def drain(self) -> None:
        """Handle every delivery the kernel has already reported, now.

        Called before a push registration is stored: a delivery completed
        before the registration fires the older registrations only, exactly,
        whatever order the reactor happens to read the two sockets in.
        """
        if self.notifier is not None:
            self.notifier.doRead()
        if self._pending_delivery or self._pending_change:
            if self._flush_call is not None and self._flush_call.active():
                self._flush_call.cancel()
            self._flush()

    def _queue_delivery(self, key: tuple[str, str], when) -> None:
        """``when`` is None for events (order is exact), or a found file's
        change time for rescans (best effort, with the clock's slack)."""
        if key in self._pending_delivery:
            old = self._pending_delivery[key]
            when = None if old is None or when is None else max(old, when)
        self._pending_delivery[key] = when
        if self._flush_call is None:
            self._flush_call = self.reactor.callLater(0, self._flush)

    @staticmethod
    def _newest_ctime(path: str, names) -> float:
        newest = 0.0
        for name in names:
            try:
                newest = max(newest, os.stat(os.path.join(path, "new", name)).st_ctime)
            except OSError:
                newest = max(newest, time.time())
        return newest or time.time()

    def _flush(self) -> None:
        self._flush_call = None
        deliveries, self._pending_delivery = self._pending_delivery, {}
        changes, self._pending_change = self._pending_change - set(deliveries), set()
        names, self._changed_names = self._changed_names, {}
        arrived, self._delivered_names = self._delivered_names, {}
        for (user, folder), when in sorted(deliveries.items()):
            # names are known only when every delivery of the batch came from an event
            new_names = arrived.get((user, folder)) if when is None else None
            self._call(self.on_delivery, user, folder, when, new_names)
        for user, folder in sorted(changes):
            self._call(self.on_change, user, folder, names.get((user, folder)))
        users, self._pending_names = self._pending_names, set()
        for user in sorted(users):
            self._call(self.on_names, user)

    @staticmethod
    def _call(callback, user: str, *args) -> None:
        """One callback of a flush; a failing one is logged and the others still run."""
        try:
            callback(user, *args)
        except Exception:
            where = f"{user}/{args[0]}" if args else user
            log.failure("handling a change in {where} failed", where=where)

    # -- rescanning ------------------------------------------------------------------
    def _overflow(self) -> None:
        log.warn("inotify queue overflowed; rescanning every Maildir")
        self.reactor.callLater(0, self.rescan, True)

    def rescan(self, everything: bool = False) -> None:
        """Compare new/ with what was seen; covers overflow and unwatched folders."""
        if everything or self.notifier is None:
            for user in self._users():
                self.watch_user(user)
        keys = list(self.seen_new) if everything or self.notifier is None else list(self.unwatched)
        for user, folder in keys:
            path = self._folder_path(user, folder)
            if not os.path.isdir(path):
                self.forget_folder(user, folder)
                continue
            current = self._list_new(path)
            before = self.seen_new.get((user, folder), set())
            self.seen_new[(user, folder)] = current
            if current - before:
                self._queue_delivery((user, folder), self._newest_ctime(path, current - before) + self.clock_slack)
            elif before - current or everything:
                self._queue_change((user, folder), None)
