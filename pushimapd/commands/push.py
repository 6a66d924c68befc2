"""PUSH-NOTIFY-HTTP PUT / WEBPUSH / VAPID / CANCEL / LIST (see docs/push.md)."""

from __future__ import annotations

from ..core.dispatch import AUTH, BAD, NO, OK, command
from ..wire import serializer as ser
from ..wire.grammar import ParseError

CAPABILITY = "PUSH-NOTIFY-HTTP=PUT"
CAPABILITIES = (CAPABILITY, "PUSH-NOTIFY-HTTP=WEBPUSH")


def _push_args(cursor):
    """(action, url, payload, p256dh, auth) with None for what the action lacks."""
    cursor.sp()
    action = cursor.atom().upper()
    if action == "PUT":
        cursor.sp()
        url = cursor.astring()
        cursor.sp()
        return (action, url, cursor.astring(), None, None)
    if action == "WEBPUSH":
        values = []
        for _ in range(4):  # url p256dh auth payload
            cursor.sp()
            values.append(cursor.astring())
        url, p256dh, auth, payload = values
        return (action, url, payload, p256dh, auth)
    if action == "CANCEL":
        cursor.sp()
        return (action, cursor.astring(), None, None, None)
    if action in ("LIST", "VAPID"):
        return (action, None, None, None, None)
    raise ParseError(f"Unknown PUSH-NOTIFY-HTTP action {action}")


@command("PUSH-NOTIFY-HTTP", AUTH, _push_args)
def push_notify(session, cmd):
    from ..push.policy import InvalidRegistration, RefusedTarget
    from ..push.registry import LimitReached, UnknownRegistration
    from ..push.webpush import KIND as WEBPUSH, b64url, decode_subscription

    registry = session.config.push
    if registry is None:
        return NO("Push notifications are not enabled on this server", "CANNOT")
    action, url, payload, p256dh, auth = cmd.args
    if action in ("PUT", "WEBPUSH"):
        try:
            if action == "WEBPUSH":
                point, secret = decode_subscription(p256dh, auth)
                registry.put(session.user, url, payload, kind=WEBPUSH, p256dh=point, auth=secret)
            else:
                registry.put(session.user, url, payload)
        except InvalidRegistration as e:
            return BAD(str(e))
        except RefusedTarget as e:
            return NO(str(e), "CANNOT")
        except LimitReached:
            return NO(f"At most {registry.limit} push registrations per user", "LIMIT")
        return OK(f"PUSH-NOTIFY-HTTP {action} completed")
    if action == "VAPID":
        if registry.vapid is None:
            return NO("Web push is not enabled on this server", "CANNOT")
        # base64url is all atom characters: an atom, which every client can read
        session.untagged(b"PUSH-NOTIFY-HTTP VAPID " + registry.vapid.public_key().encode("ascii"))
        return OK("PUSH-NOTIFY-HTTP VAPID completed")
    if action == "CANCEL":
        try:
            registry.cancel(session.user, url)
        except UnknownRegistration:
            return NO("No such push registration", "NONEXISTENT")
        return OK("PUSH-NOTIFY-HTTP CANCEL completed")
    for reg in registry.list(session.user):
        line = b"PUSH-NOTIFY-HTTP "
        if reg.kind == WEBPUSH:
            line += b"WEBPUSH " + ser.string(bytes(reg.url)) + b" " + ser.string(b64url(bytes(reg.p256dh))) \
                + b" " + ser.string(b64url(bytes(reg.auth)))
        else:
            line += b"PUT " + ser.string(bytes(reg.url))
        session.untagged(line + b" " + ser.string(bytes(reg.payload)))
    return OK("PUSH-NOTIFY-HTTP LIST completed")
