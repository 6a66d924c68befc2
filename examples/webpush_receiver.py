#!/usr/bin/env python3
"""A web push subscriber and push service in one, for trying pushimapd's WEBPUSH.

It makes a subscription key pair (p256dh and auth, as a browser's
PushSubscription has), prints the IMAP command that registers it, and runs a
local HTTP receiver that checks each POST the way a push service and the
subscribing browser together would: the VAPID JWT (signature against the
server's key, aud, exp, sub), the Web Push headers, then decrypts the
aes128gcm body with the subscriber's private key and auth secret.

    pushimapd push vapid                                # the server's VAPID key
    python3 examples/webpush_receiver.py --vapid-key KEY [--port 8088]

Then register with the printed command (the server must run with
--push-allow-http --push-allow-private for a plain-http loopback receiver)
and deliver a message to that user. The project's tests import `Subscriber`,
`verify_vapid` and `check_request` from here.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Mapping, Optional

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

URGENCIES = ("very-low", "low", "normal", "high")
MAX_JWT_LIFETIME = 24 * 3600


class PushRejected(Exception):
    """What a push service or a subscriber would refuse, and why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Subscriber:
    """A push subscription's keys: what PushSubscription.toJSON() calls keys.p256dh and keys.auth."""

    def __init__(self, private_key: Optional[ec.EllipticCurvePrivateKey] = None, auth: Optional[bytes] = None):
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = auth if auth is not None else os.urandom(16)
        self.public_raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    @property
    def p256dh(self) -> str:
        return b64url(self.public_raw)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def webpush_command(self, url: str, payload: str, tag: str = "a1") -> str:
        """The IMAP command that registers this subscription (quoted strings)."""
        def quote(s: str) -> str:
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

        return f"{tag} PUSH-NOTIFY-HTTP WEBPUSH {quote(url)} {self.p256dh} {self.auth} {quote(payload)}"

    def decrypt(self, body: bytes) -> bytes:
        """The plaintext of an RFC 8291 aes128gcm body, as the browser decrypts it."""
        try:
            return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret,
                                    version="aes128gcm")
        except http_ece.ECEException as e:
            raise PushRejected(f"cannot decrypt: {e.message}") from None


def parse_authorization(value: str) -> tuple[str, str]:
    """``vapid t=<JWT>, k=<key>`` -> (JWT, key)."""
    scheme, _, params = value.partition(" ")
    if scheme.lower() != "vapid":
        raise PushRejected(f"Authorization scheme is {scheme!r}, not vapid")
    fields = {}
    for part in params.split(","):
        name, sep, val = part.strip().partition("=")
        if not sep:
            raise PushRejected(f"malformed Authorization parameter {part!r}")
        fields[name.strip().lower()] = val.strip()
    if "t" not in fields or "k" not in fields:
        raise PushRejected("Authorization lacks t= or k=")
    return fields["t"], fields["k"]


def verify_vapid(authorization: str, vapid_key: str, origin: str, now: Optional[float] = None) -> dict:
    """Check the VAPID header as a push service does; returns the JWT claims.

    The key must be ``vapid_key`` (the server's, from ``PUSH-NOTIFY-HTTP VAPID``),
    the ES256 signature must verify against it, ``aud`` must be this
    receiver's origin, ``exp`` in the future but at most 24 h ahead, and
    ``sub`` a mailto: or https: contact.
    """
    token, key = parse_authorization(authorization)
    if key != vapid_key:
        raise PushRejected("k= is not the VAPID key the subscription was made for")
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
    except ValueError as e:
        raise PushRejected(f"malformed JWT: {e}") from None
    if header.get("alg") != "ES256" or header.get("typ", "JWT") != "JWT":
        raise PushRejected(f"JWT header {header} is not ES256")
    if len(signature) != 64:
        raise PushRejected("ES256 signature is not 64 octets")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(vapid_key))
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PushRejected("JWT signature does not verify against the VAPID key") from None
    now = time.time() if now is None else now
    if claims.get("aud") != origin:
        raise PushRejected(f"aud {claims.get('aud')!r} is not {origin!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + MAX_JWT_LIFETIME + 60:
        raise PushRejected(f"exp {exp!r} is not within the next 24 hours")
    sub = claims.get("sub", "")
    if not re.fullmatch(r"mailto:[^@\s]+@\S+|https://\S+", sub):
        raise PushRejected(f"sub {sub!r} is not a mailto: or https: contact")
    return claims


def check_request(method: str, headers: Mapping[str, str], body: bytes, subscriber: Subscriber, vapid_key: str,
                  origin: str) -> tuple[bytes, dict]:
    """Everything a push service and the subscriber check; returns (plaintext, JWT claims).

    ``headers`` maps lower-case names to values.
    """
    if method != "POST":
        raise PushRejected(f"method {method}, not POST")
    ttl = headers.get("ttl", "")
    if not ttl.isdigit():
        raise PushRejected(f"TTL {ttl!r} is not a number of seconds")
    if headers.get("urgency", "normal") not in URGENCIES:
        raise PushRejected(f"Urgency {headers.get('urgency')!r}")
    topic = headers.get("topic")
    if topic is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic):
        raise PushRejected(f"Topic {topic!r} is not at most 32 base64url characters")
    if headers.get("content-encoding") != "aes128gcm":
        raise PushRejected(f"Content-Encoding {headers.get('content-encoding')!r}, not aes128gcm")
    claims = verify_vapid(headers.get("authorization", ""), vapid_key, origin)
    return subscriber.decrypt(body), claims


def serve(subscriber: Subscriber, vapid_key: str, port: int) -> None:
    """Answer 201 to every push that verifies and decrypts (printing it), 400/403 otherwise."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            origin = f"http://127.0.0.1:{self.server.server_address[1]}"
            try:
                payload, claims = check_request("POST", headers, body, subscriber, vapid_key, origin)
                status = 201
                print(f"push to {self.path}: {payload!r} (sub {claims['sub']}, TTL {headers['ttl']}, "
                      f"Urgency {headers.get('urgency')}, Topic {headers.get('topic')})", flush=True)
            except PushRejected as e:
                status = 403 if "VAPID" in str(e) or "JWT" in str(e) else 400
                print(f"push to {self.path} refused ({status}): {e}", flush=True)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on http://127.0.0.1:{httpd.server_address[1]}/", flush=True)
    httpd.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vapid-key", required=True, help="the server's key (pushimapd push vapid)")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--payload", default="new-mail")
    args = parser.parse_args()
    subscriber = Subscriber()
    url = f"http://127.0.0.1:{args.port}/push/{b64url(os.urandom(9))}"  # a push service makes this up
    print("register over IMAP (after LOGIN) with:")
    print("  " + subscriber.webpush_command(url, args.payload))
    serve(subscriber, args.vapid_key, args.port)


if __name__ == "__main__":
    main()
