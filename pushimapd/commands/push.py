"""PUSH-NOTIFY-HTTP PUT / CANCEL / LIST (../shared/spec/PUSH-NOTIFY-HTTP.md)."""

from __future__ import annotations

from ..core.dispatch import AUTH, BAD, NO, OK, command
from ..wire import serializer as ser
from ..wire.grammar import ParseError

CAPABILITY = "PUSH-NOTIFY-HTTP=PUT"


def _push_args(cursor):
    cursor.sp()
    action = cursor.atom().upper()
    if action == "PUT":
        cursor.sp()
        url = cursor.astring()
        cursor.sp()
        return (action, url, cursor.astring())
    if action == "CANCEL":
        cursor.sp()
        return (action, cursor.astring(), None)
    if action == "LIST":
        return (action, None, None)
    raise ParseError(f"Unknown PUSH-NOTIFY-HTTP action {action}")


@command("PUSH-NOTIFY-HTTP", AUTH, _push_args)
def push_notify(session, cmd):
    from ..push.policy import InvalidRegistration, RefusedTarget
    from ..push.registry import LimitReached, UnknownRegistration

    registry = session.config.push
    if registry is None:
        return NO("Push notifications are not enabled on this server", "CANNOT")
    action, url, payload = cmd.args
    if action == "PUT":
        try:
            registry.put(session.user, url, payload)
        except InvalidRegistration as e:
            return BAD(str(e))
        except RefusedTarget as e:
            return NO(str(e), "CANNOT")
        except LimitReached:
            return NO(f"At most {registry.limit} push registrations per user", "LIMIT")
        return OK("PUSH-NOTIFY-HTTP PUT completed")
    if action == "CANCEL":
        try:
            registry.cancel(session.user, url)
        except UnknownRegistration:
            return NO("No such push registration", "NONEXISTENT")
        return OK("PUSH-NOTIFY-HTTP CANCEL completed")
    for reg_url, reg_payload in registry.list(session.user):
        session.untagged(b"PUSH-NOTIFY-HTTP PUT " + ser.string(reg_url) + b" " + ser.string(reg_payload))
    return OK("PUSH-NOTIFY-HTTP LIST completed")
