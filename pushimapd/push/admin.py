"""``pushimapd push list``: pending registrations and in-flight deliveries."""

from __future__ import annotations

from typing import Optional


def print_push_list(user: Optional[str]) -> None:
    print("push notifications are not implemented yet")
