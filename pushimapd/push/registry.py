"""PUSH-NOTIFY-HTTP registrations: PUT, WEBPUSH, CANCEL, LIST and one-shot firing.

Calls are synchronous sqlite transactions on the reactor thread: each is a
millisecond or less, and the contract wants the registration committed before
the tagged OK is written, which this makes trivially true.
"""

from __future__ import annotations

import itertools
import time
from typing import Callable, Optional

from twisted.logger import Logger

from ..db import database
from .models import Delivery, Registration
from .policy import TargetPolicy, redact

log = Logger()
DEFAULT_LIMIT = 16


class LimitReached(Exception):
    pass


class UnknownRegistration(Exception):
    pass


class PushRegistry:
    def __init__(self, policy: TargetPolicy, limit: int = DEFAULT_LIMIT):
        self.policy = policy
        self.limit = limit
        last = Registration.select(Registration.updated).order_by(Registration.updated.desc()).first()
        self._sequence = itertools.count((last.updated if last else 0) + 1)
        self.on_put: Callable[[str, bytes], None] = lambda user, url: None  # drops pending retries
        self.on_fired: Callable[[list[Delivery]], None] = lambda deliveries: None
        self.log_full_urls = False
        self.before_put: Callable[[], None] = lambda: None  # handle deliveries already made
        self.vapid = None  # webpush.VapidKeys, for the VAPID command

    def put(self, user: str, url: bytes, payload: bytes, kind: str = "put", p256dh: Optional[bytes] = None,
            auth: Optional[bytes] = None) -> None:
        """Store or replace; raises InvalidRegistration, RefusedTarget, LimitReached.

        The URL is the key whatever the kind: a WEBPUSH replaces a PUT of the
        same URL and the other way round.
        """
        self.policy.check_registration(url, payload)
        self.before_put()
        fields = {"payload": payload, "kind": kind, "p256dh": p256dh, "auth": auth}
        with database.atomic():
            existing = Registration.get_or_none((Registration.user == user) & (Registration.url == url))
            now = time.time()
            if existing is None:
                if Registration.select().where(Registration.user == user).count() >= self.limit:
                    raise LimitReached()
                Registration.create(user=user, url=url, updated=next(self._sequence), registered_at=now, **fields)
            else:
                for name, value in fields.items():
                    setattr(existing, name, value)
                existing.updated = next(self._sequence)
                existing.registered_at = now
                existing.save()
            dropped = Delivery.delete().where((Delivery.user == user) & (Delivery.url == url)).execute()
        log.info("push registration ({kind}) stored for {user}: {url}", kind=kind, user=user, url=redact(url),
                 replaced=existing is not None, dropped_retries=dropped)
        if self.log_full_urls:  # --debug only: push URLs carry secrets
            log.debug("push registration URL in full: {full_url}", full_url=url.decode("ascii", "replace"))
        self.on_put(user, url)

    def cancel(self, user: str, url: bytes) -> None:
        deleted = Registration.delete().where((Registration.user == user) & (Registration.url == url)).execute()
        if not deleted:
            raise UnknownRegistration()
        log.info("push registration cancelled for {user}: {url}", user=user, url=redact(url))

    def list(self, user: str) -> list[Registration]:
        """This user's pending registrations of every kind, in the order of their latest PUT/WEBPUSH."""
        return list(Registration.select().where(Registration.user == user).order_by(Registration.updated))

    def pending_users(self) -> set[str]:
        return {r.user for r in Registration.select(Registration.user).distinct()}

    def fire(self, user: str, folder: str, delivered_at: Optional[float] = None) -> list[Delivery]:
        """Consume the registrations of ``user`` into recorded deliveries.

        With ``delivered_at`` (the new file's change time, plus the file
        system's clock slack), registrations made after it are left alone:
        a client that registered after the delivery has seen that mail.
        """
        now = time.time()
        with database.atomic():
            query = Registration.select().where(Registration.user == user)
            if delivered_at is not None:
                query = query.where(Registration.registered_at <= delivered_at)
            rows = list(query.order_by(Registration.updated))
            if not rows:
                return []
            deliveries = [
                Delivery.create(user=user, url=r.url, payload=r.payload, fired_at=now, next_attempt_at=now,
                                kind=r.kind, p256dh=r.p256dh, auth=r.auth)
                for r in rows
            ]
            Registration.delete().where(Registration.id.in_([r.id for r in rows])).execute()
        log.info("push fired for {user} by a delivery into {folder}: {count} registration(s)",
                 user=user, folder=folder, count=len(deliveries))
        self.on_fired(deliveries)
        return deliveries


def registry_summary(user: Optional[str]) -> tuple[list[Registration], list[Delivery]]:
    """Pending registrations and in-flight deliveries (for ``pushimapd push list``)."""
    regs = Registration.select().order_by(Registration.user, Registration.updated)
    dels = Delivery.select().order_by(Delivery.user, Delivery.next_attempt_at)
    if user:
        regs = regs.where(Registration.user == user)
        dels = dels.where(Delivery.user == user)
    return list(regs), list(dels)
