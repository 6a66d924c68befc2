"""Checking a web push as its receivers would, for the web push tests.

- The subscriber side and the VAPID check come from examples/webpush_receiver.py
  (the code users read is the code the tests run): `Subscriber` (keys,
  http_ece decryption), `verify_vapid`, `check_request`.
- `decrypt_rfc8291` is a second, independent decryption written here from
  RFC 8291 / RFC 8188 with `cryptography` primitives only (no http_ece), so
  a mistake shared by the server and http_ece cannot pass unnoticed.
- `open_push` runs both on a received request and insists they agree.
"""

from __future__ import annotations

import os
import re
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "examples"))
from webpush_receiver import PushRejected, Subscriber, b64url, b64url_decode, check_request, verify_vapid  # noqa: E402,F401

TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _hkdf(salt: bytes, info: bytes, length: int, ikm: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def body_header(body: bytes) -> tuple[bytes, int, bytes, bytes]:
    """RFC 8188 section 2.1: (salt, record size, keyid, records)."""
    assert len(body) >= 21, body
    id_len = body[20]
    return body[:16], int.from_bytes(body[16:20], "big"), body[21:21 + id_len], body[21 + id_len:]


def decrypt_rfc8291(body: bytes, private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """Decrypt an aes128gcm web push body from the RFCs' formulas (one record)."""
    salt, rs, keyid, record = body_header(body)
    assert len(keyid) == 65 and keyid[0] == 4, "keyid must be the sender's uncompressed ephemeral key"
    assert 17 <= len(record) <= rs, f"one record expected: {len(record)} octets, rs {rs}"
    sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), keyid)
    receiver_raw = private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint)
    shared = private_key.exchange(ec.ECDH(), sender)
    ikm = _hkdf(auth_secret, b"WebPush: info\x00" + receiver_raw + keyid, 32, shared)  # RFC 8291 3.4
    cek = _hkdf(salt, b"Content-Encoding: aes128gcm\x00", 16, ikm)  # RFC 8188 2.2
    nonce = _hkdf(salt, b"Content-Encoding: nonce\x00", 12, ikm)  # RFC 8188 2.3, counter 0
    padded = AESGCM(cek).decrypt(nonce, record, None)
    unpadded = padded.rstrip(b"\x00")
    assert unpadded.endswith(b"\x02"), "the only record must end with the last-record delimiter 0x02"
    return unpadded[:-1]


def header_map(headers) -> dict:
    """[(name, value)] -> {lower-case name: value}, refusing repeated fields."""
    out: dict = {}
    for name, value in headers:
        assert name.lower() not in out, f"{name} sent twice"
        out[name.lower()] = value
    return out


def open_push(received, subscriber: Subscriber, vapid_key: str, origin: str) -> tuple[bytes, dict, dict]:
    """Check a received web push (push_util.Received) fully; returns (payload, claims, headers).

    The example receiver's checks (headers, VAPID, http_ece decryption) and
    the independent decryption must both pass and agree.
    """
    headers = header_map(received.headers)
    assert received.method == "POST"
    assert headers.get("content-type") == "application/octet-stream", headers
    assert headers.get("content-length") == str(len(received.body)), headers
    assert "transfer-encoding" not in headers, headers
    assert TOPIC.fullmatch(headers.get("topic", "")), headers
    payload, claims = check_request("POST", headers, received.body, subscriber, vapid_key, origin)
    assert decrypt_rfc8291(received.body, subscriber.private_key, subscriber.auth_secret) == payload
    return payload, claims, headers
