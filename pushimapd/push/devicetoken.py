"""Delta Chat push (``XDELTAPUSH``): device tokens in, one POST per token out.

With ``--devicetoken-notifier URL`` the INBOX entry ``/private/devicetoken``
feeds the user's token set (`push.tokens`), and every delivery that fires
push (a new file in a non-quiet folder) POSTs each live token, raw, to the
notifier. Those POSTs are `Delivery` rows of kind ``devicetoken`` run by the
shared dispatcher, so they survive a restart like every other delivery;
unlike PUT registrations, tokens are not consumed by a fire.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from twisted.logger import Logger

from ..db import database
from ..storage.metadata import MetadataError
from .dispatcher import DeliveryKind, Dispatcher, RetrySettings
from .models import Delivery
from .tokens import TOKEN_MAX_SIZE, DeviceTokens

log = Logger()
CAPABILITY = "XDELTAPUSH"
ENTRY_MAILBOX = "INBOX"
ENTRY_NAME = "/private/devicetoken"
RETRY_FOR = 5 * 3600.0  # seconds after the fire during which failures are retried


class DeviceTokenKind(DeliveryKind):
    """POST <token> to the notifier; 2xx done, 410 token gone, anything else retried for 5 hours."""

    name = "devicetoken"

    def __init__(self, tokens: DeviceTokens, retry_for: float = RETRY_FOR, clock: Callable[[], float] = time.time):
        self.tokens = tokens
        self.retry_for = retry_for
        self.clock = clock

    def request(self, row: Delivery) -> tuple[bytes, dict, bytes]:
        return b"POST", {b"Content-Type": [b"application/octet-stream"]}, bytes(row.payload)

    def judge(self, status: int) -> Optional[str]:
        if 200 <= status < 300:
            return "delivered"
        if status == 410:
            return "gone"
        return None

    def may_retry(self, row: Delivery, attempt: int, settings: RetrySettings) -> bool:
        return self.clock() < row.fired_at + self.retry_for

    def finished(self, row: Delivery, outcome: str) -> None:
        if outcome == "gone":
            removed = self.tokens.remove(row.user, bytes(row.payload))
            log.info("device token of {user} reported gone by the notifier: deleted ({count})",
                     user=row.user, count=removed)


class DeviceTokenEntry:
    """``/private/devicetoken`` on INBOX as the METADATA store sees it."""

    mailbox = ENTRY_MAILBOX
    name = ENTRY_NAME
    max_size = TOKEN_MAX_SIZE
    read_only = False

    def __init__(self, tokens: DeviceTokens):
        self.tokens = tokens

    def get(self, user: str) -> Optional[bytes]:
        return self.tokens.latest(user)

    def check(self, user: str, value: Optional[bytes]) -> None:
        if value is not None and not value:
            raise MetadataError("An empty device token cannot be stored (NIL removes the latest)", "CANNOT")

    def set(self, user: str, value: Optional[bytes]) -> None:
        if value is None:
            removed = self.tokens.remove_latest(user)
            log.info("device token of {user}: latest removed ({removed})", user=user, removed=removed)
        else:
            new = self.tokens.add(user, value)
            log.info("device token of {user} {what} ({size} octets)", user=user,
                     what="added" if new else "refreshed", size=len(value))


class DeviceTokenNotifier:
    """On a push trigger, records one delivery per live token and hands them to the dispatcher."""

    def __init__(self, url: bytes, tokens: DeviceTokens, dispatcher: Dispatcher):
        self.url = url
        self.tokens = tokens
        self.dispatcher = dispatcher

    def fire(self, user: str, folder: str, delivered_at: Optional[float] = None) -> list[Delivery]:
        now = time.time()
        with database.atomic():
            rows = [Delivery.create(user=user, url=self.url, payload=token, fired_at=now, next_attempt_at=now,
                                    kind=DeviceTokenKind.name)
                    for token in self.tokens.tokens(user)]
        if rows:
            log.info("device tokens of {user} notified for a delivery into {folder}: {count}",
                     user=user, folder=folder, count=len(rows))
            self.dispatcher.deliveries_fired(rows)
        return rows


def setup_device_tokens(push_service, url: Optional[str],
                        tokens: Optional[DeviceTokens] = None) -> Optional[DeviceTokenEntry]:
    """Wire device tokens into a `PushService` when a notifier URL is configured;
    returns the METADATA entry to register (None when the feature is off).

    Off, any notification still pending from an earlier run with a notifier
    is dropped: the operator turned the feature off, and sending it as
    another kind would be wrong.
    """
    if not url:
        dropped = Delivery.delete().where(Delivery.kind == DeviceTokenKind.name).execute()
        if dropped:
            log.info("device tokens are off: dropped {count} pending notification(s)", count=dropped)
        return None
    tokens = tokens or DeviceTokens()
    push_service.dispatcher.add_kind(DeviceTokenKind(tokens))
    push_service.triggers.append(DeviceTokenNotifier(url.encode("utf-8"), tokens, push_service.dispatcher).fire)
    return DeviceTokenEntry(tokens)
