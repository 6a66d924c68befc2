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


# One printer per section, in order: registrations, deliveries, device tokens.
SECTIONS: list[Callable[[Optional[str], Callable[[bytes], str]], None]] = [
    print_registrations, print_deliveries,
    lambda user, show: print_device_tokens(user, show_secrets=show is not redact),
]


def print_push_list(user: Optional[str], show_secrets: bool = False) -> None:
    show = (lambda url: url.decode("ascii", "replace")) if show_secrets else redact
    for section in SECTIONS:
        section(user, show)
