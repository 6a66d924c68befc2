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


# -- Delta Chat device tokens (XDELTAPUSH) ------------------------------------------
def _token_shown(token: bytes, show_secrets: bool) -> str:
    """Tokens are secrets: by default only their size and a short fingerprint."""
    if show_secrets:
        return token.decode("ascii", "backslashreplace")
    import hashlib

    return f"[redacted {len(token)} bytes, sha256 {hashlib.sha256(token).hexdigest()[:12]}]"


def print_device_tokens(user: Optional[str], show_secrets: bool = False) -> None:
    from .tokens import TOKEN_LIFETIME, token_summary

    tokens = token_summary(user)
    print(f"device tokens: {len(tokens)}")
    now = time.time()
    for t in tokens:
        state = "expired" if t.refreshed_at + TOKEN_LIFETIME < now else f"expires {_when(t.refreshed_at + TOKEN_LIFETIME)}"
        print(f"  {t.user}\t{_token_shown(bytes(t.token), show_secrets)}\trefreshed {_when(t.refreshed_at)}\t{state}")
