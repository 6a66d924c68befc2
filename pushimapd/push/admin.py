"""``pushimapd push list``: pending registrations and in-flight deliveries."""

from __future__ import annotations

import datetime
import time
from typing import Optional

from .policy import redact
from .registry import registry_summary


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_push_list(user: Optional[str], show_secrets: bool = False) -> None:
    registrations, deliveries = registry_summary(user)
    show = (lambda url: url.decode("ascii", "replace")) if show_secrets else redact
    print(f"registrations pending: {len(registrations)}")
    for r in registrations:
        print(f"  {r.user}\t{show(bytes(r.url))}\tpayload {len(bytes(r.payload))} bytes")
    print(f"deliveries in flight: {len(deliveries)}")
    now = time.time()
    for d in deliveries:
        wait = max(0.0, d.next_attempt_at - now)
        error = f"\tlast error: {d.last_error}" if d.last_error else ""
        print(f"  {d.user}\t{show(bytes(d.url))}\tattempts {d.attempts}\tfired {_when(d.fired_at)}"
              f"\tnext try in {wait:.1f}s{error}")
