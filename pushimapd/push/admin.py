"""``pushimapd push list``: pending registrations and in-flight deliveries of every kind."""

from __future__ import annotations

import datetime
import time
from typing import Callable, Optional

from .policy import redact
from .registry import registry_summary

KIND_LABELS = {"put": "PUT", "webpush": "WEBPUSH"}


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _kind(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.upper())


def print_registrations(user: Optional[str], show: Callable[[bytes], str]) -> None:
    registrations, _ = registry_summary(user)
    print(f"registrations pending: {len(registrations)}")
    for r in registrations:
        print(f"  {r.user}\t{_kind(r.kind)}\t{show(bytes(r.url))}\tpayload {len(bytes(r.payload))} bytes")


def print_deliveries(user: Optional[str], show: Callable[[bytes], str]) -> None:
    _, deliveries = registry_summary(user)
    print(f"deliveries in flight: {len(deliveries)}")
    now = time.time()
    for d in deliveries:
        wait = max(0.0, d.next_attempt_at - now)
        error = f"\tlast error: {d.last_error}" if d.last_error else ""
        print(f"  {d.user}\t{_kind(d.kind)}\t{show(bytes(d.url))}\tattempts {d.attempts}\tfired {_when(d.fired_at)}"
              f"\tnext try in {wait:.1f}s{error}")


# One printer per section, in order. Device tokens (METADATA /private/devicetoken)
# get their own section here, after the deliveries, when they are built.
SECTIONS: list[Callable[[Optional[str], Callable[[bytes], str]], None]] = [print_registrations, print_deliveries]


def print_push_list(user: Optional[str], show_secrets: bool = False) -> None:
    show = (lambda url: url.decode("ascii", "replace")) if show_secrets else redact
    for section in SECTIONS:
        section(user, show)
