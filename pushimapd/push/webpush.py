"""Web Push: RFC 8030 delivery, RFC 8291 message encryption, RFC 8292 VAPID.

A WEBPUSH registration carries the subscriber's public key (p256dh) and auth
secret; each fired delivery becomes a POST whose body is the payload
encrypted for that subscriber (aes128gcm, one record, a fresh ephemeral key
per request, by `http_ece`) and whose Authorization header is a VAPID JWT
signed with the server's key (ES256, by `py_vapid.jwt`). The key pair lives
in the database (`VapidKey`) so that ``pushimapd push vapid --rotate`` run
beside a server takes effect on the server's next request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import socket
import struct
import time
from typing import Optional
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from py_vapid.jwt import sign as sign_jwt
from twisted.logger import Logger

from ..db import database
from .dispatcher import DeliveryKind
from .models import Delivery, Registration, VapidKey
from .policy import InvalidRegistration

log = Logger()

KIND = "webpush"
URGENCIES = ("very-low", "low", "normal", "high")
DEFAULT_TTL = 86400
JWT_LIFETIME = 12 * 3600  # RFC 8292: at most 24 h ahead
JWT_RENEW_BEFORE = 3600  # a cached token is replaced when less than this is left
RECORD_SIZE = 4096
_B64URL = re.compile(rb"[A-Za-z0-9_-]*")


# --------------------------------------------------------------------------------------
# base64url and the subscription keys
# --------------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 style), as browsers print keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: bytes) -> bytes:
    """Strict base64url: only ``A-Z a-z 0-9 - _``, padding optional but correct if present."""
    body = text.rstrip(b"=")
    padding = len(text) - len(body)
    if not _B64URL.fullmatch(body) or len(body) % 4 == 1:
        raise ValueError("not base64url")
    if padding and (len(body) + padding) % 4:
        raise ValueError("wrong base64 padding")
    try:
        return base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def public_point(raw: bytes) -> ec.EllipticCurvePublicKey:
    """A 65-octet uncompressed P-256 point that lies on the curve, as a key object."""
    if len(raw) != 65 or raw[0] != 0x04:
        raise ValueError("not a 65-octet uncompressed point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # checks the curve equation


def decode_subscription(p256dh: bytes, auth: bytes) -> tuple[bytes, bytes]:
    """The raw point and auth secret of a WEBPUSH command; InvalidRegistration (BAD) if unusable."""
    try:
        point = b64url_decode(p256dh)
    except ValueError as e:
        raise InvalidRegistration(f"p256dh is {e}") from None
    try:
        public_point(point)
    except ValueError:
        raise InvalidRegistration("p256dh must be a 65-octet uncompressed point on P-256") from None
    try:
        secret = b64url_decode(auth)
    except ValueError as e:
        raise InvalidRegistration(f"auth is {e}") from None
    if len(secret) != 16:
        raise InvalidRegistration("auth must be exactly 16 octets")
    return point, secret


# --------------------------------------------------------------------------------------
# the server's VAPID key
# --------------------------------------------------------------------------------------
class VapidKeys:
    """The current VAPID key pair, read from the database and cached by row id.

    Every use asks sqlite for the current row id (one indexed lookup), so a
    rotation made by another process is seen on the next request.
    """

    def __init__(self):
        self._cached: Optional[tuple[int, ec.EllipticCurvePrivateKey, bytes]] = None

    def current(self) -> tuple[int, ec.EllipticCurvePrivateKey, bytes]:
        """(row id, private key, 65-octet public point); made on first use."""
        latest = self._latest_id()
        if latest is None:
            self.ensure()
            latest = self._latest_id()
        if self._cached is None or self._cached[0] != latest:
            row = VapidKey.get_by_id(latest)
            private = serialization.load_der_private_key(bytes(row.private_der), password=None)
            self._cached = (row.id, private, bytes(row.public_raw))
        return self._cached

    @staticmethod
    def _latest_id() -> Optional[int]:
        # plain SQL: this runs for every web push request, and peewee's query
        # building costs several times the lookup itself
        return database.execute_sql(f"SELECT max(id) FROM {VapidKey._meta.table_name}").fetchone()[0]

    def public_key(self) -> str:
        """base64url (no padding) of the uncompressed public point: the applicationServerKey."""
        return b64url(self.current()[2])

    @staticmethod
    def ensure() -> bool:
        """Make the key pair unless there is one; True when made."""
        with database.atomic("IMMEDIATE"):  # a server and the CLI starting together make one
            if VapidKey.select().exists():
                return False
            _insert_new_key()
        log.info("VAPID key pair made")
        return True

    @staticmethod
    def rotate() -> tuple[int, int]:
        """A new key pair; drops web push registrations and unfinished web push deliveries.

        Returns (registrations dropped, deliveries dropped): subscriptions
        made for the old key would be refused by their push service.
        """
        with database.atomic("IMMEDIATE"):
            new_id = _insert_new_key()
            VapidKey.delete().where(VapidKey.id != new_id).execute()
            regs = Registration.delete().where(Registration.kind == KIND).execute()
            dels = Delivery.delete().where(Delivery.kind == KIND).execute()
        return regs, dels


def _insert_new_key() -> int:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    raw = private.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
    return VapidKey.create(private_der=der, public_raw=raw).id


# --------------------------------------------------------------------------------------
# VAPID: the JWT and the Authorization header
# --------------------------------------------------------------------------------------
def audience(url: bytes) -> str:
    """The origin of the push resource (RFC 6454): scheme://host[:port], default port left out."""
    parts = urlsplit(url.decode("ascii"))
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == {"http": 80, "https": 443}.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


_MAILTO = re.compile(r"mailto:[^@\s<>\"]+@[A-Za-z0-9.\-\[\]:]+")


def check_subject(subject: str) -> str:
    """The VAPID ``sub``: a mailto: address or an https: URL (ValueError otherwise)."""
    if not subject.isascii() or not subject.isprintable() or " " in subject:
        raise ValueError("the VAPID subject must be printable ASCII without spaces")
    if subject.lower().startswith("mailto:"):
        if not _MAILTO.fullmatch("mailto:" + subject[7:]):
            raise ValueError("a mailto: VAPID subject needs an address, e.g. mailto:postmaster@example.org")
        return subject
    if subject.lower().startswith("https:"):
        try:
            parts = urlsplit(subject)
            parts.port
        except ValueError:
            raise ValueError("the https: VAPID subject is not a valid URL") from None
        if not parts.hostname or not subject.lower().startswith("https://"):
            raise ValueError("an https: VAPID subject needs a host, e.g. https://example.org/contact")
        return subject
    raise ValueError("the VAPID subject must be a mailto: or https: URI")


def default_subject() -> str:
    """``mailto:postmaster@<this host's name>``; localhost if the name would not make a valid one."""
    subject = f"mailto:postmaster@{socket.getfqdn()}"
    try:
        return check_subject(subject)
    except ValueError:
        return "mailto:postmaster@localhost"


class VapidSigner:
    """``Authorization: vapid t=<JWT>, k=<key>`` per audience, a token reused while it is fresh.

    A burst of deliveries to one push service costs one signature.
    """

    def __init__(self, keys: VapidKeys, subject: str, clock=time.time):
        self.keys = keys
        self.subject = check_subject(subject)
        self.clock = clock
        self._tokens: dict[tuple[int, str], tuple[float, bytes]] = {}  # (key id, aud) -> (exp, header)

    def authorization(self, url: bytes) -> bytes:
        key_id, private, public_raw = self.keys.current()
        aud = audience(url)
        now = self.clock()
        cached = self._tokens.get((key_id, aud))
        if cached is not None and cached[0] - now > JWT_RENEW_BEFORE:
            return cached[1]
        exp = int(now) + JWT_LIFETIME
        token = sign_jwt({"aud": aud, "exp": exp, "sub": self.subject}, private)
        header = f"vapid t={token}, k={b64url(public_raw)}".encode("ascii")
        if len(self._tokens) > 1024 or any(k[0] != key_id for k in self._tokens):
            self._tokens = {k: v for k, v in self._tokens.items() if k[0] == key_id and v[0] - now > JWT_RENEW_BEFORE}
        self._tokens[(key_id, aud)] = (exp, header)
        return header


# --------------------------------------------------------------------------------------
# RFC 8291 encryption
# --------------------------------------------------------------------------------------
def encrypt(payload: bytes, subscriber_point: bytes, auth_secret: bytes) -> bytes:
    """The aes128gcm body for one subscriber: one record, a fresh ephemeral key and salt."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    salt = os.urandom(16)
    if payload:
        return http_ece.encrypt(payload, salt=salt, private_key=ephemeral, dh=subscriber_point,
                                auth_secret=auth_secret, version="aes128gcm", rs=RECORD_SIZE)
    # http_ece writes no record at all for empty content; RFC 8188 wants one
    # (here only the 0x02 delimiter), so the record is sealed here with the
    # key and nonce http_ece derives
    key, nonce = http_ece.derive_key("encrypt", version="aes128gcm", salt=salt, key=None, private_key=ephemeral,
                                     dh=subscriber_point, auth_secret=auth_secret, keyid=None)
    keyid = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    record = AESGCM(key).encrypt(nonce, b"\x02", None)
    return salt + struct.pack("!LB", RECORD_SIZE, len(keyid)) + keyid + record


def topic(user: str, url: bytes) -> bytes:
    """RFC 8030 Topic: 32 base64url characters from the registration, so a push
    service replaces an undelivered earlier push for it instead of queueing both."""
    return b64url(hashlib.sha256(user.encode("utf-8") + b"\0" + url).digest()[:24]).encode("ascii")


# --------------------------------------------------------------------------------------
# the delivery kind
# --------------------------------------------------------------------------------------
class WebPushKind(DeliveryKind):
    """The dispatcher's "webpush" kind: the RFC 8030 POST of a fired WEBPUSH registration."""

    name = KIND

    def __init__(self, signer: VapidSigner, ttl: int = DEFAULT_TTL, urgency: str = "normal"):
        if ttl < 0:
            raise ValueError("the web push TTL must not be negative")
        if urgency not in URGENCIES:
            raise ValueError(f"the web push urgency must be one of {', '.join(URGENCIES)}")
        self.signer = signer
        self.ttl = b"%d" % ttl
        self.urgency = urgency.encode("ascii")

    def request(self, row: Delivery) -> tuple[bytes, dict, bytes]:
        url = bytes(row.url)
        body = encrypt(bytes(row.payload), bytes(row.p256dh), bytes(row.auth))
        headers = {
            b"TTL": [self.ttl],
            b"Urgency": [self.urgency],
            b"Topic": [topic(row.user, url)],
            b"Content-Type": [b"application/octet-stream"],
            b"Content-Encoding": [b"aes128gcm"],
            b"Authorization": [self.signer.authorization(url)],
        }
        return b"POST", headers, body

    def judge(self, status: int) -> Optional[str]:
        outcome = super().judge(status)
        if status in (401, 403):
            log.warn("web push: the push service refused the VAPID authorization (HTTP {status}): the "
                     "subscription was made for another VAPID key (rotated?) or the JWT was not accepted",
                     status=status)
        elif status == 413:
            log.warn("web push: the push service refused the message as too large (HTTP 413)")
        return outcome
