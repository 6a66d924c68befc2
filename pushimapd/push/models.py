"""Push state in sqlite (peewee): registrations, fired-but-undelivered requests, the VAPID key.

A fire moves a user's registrations into `Delivery` rows in one transaction,
so a crash (even kill -9) loses neither a registration nor a delivery that
has not finished: both are read back at start.
"""

from __future__ import annotations

import time

import peewee

from ..db import MODELS, BaseModel


class Registration(BaseModel):
    user = peewee.CharField(max_length=128, index=True)
    url = peewee.BlobField()  # compared byte for byte as sent
    payload = peewee.BlobField()
    updated = peewee.BigIntegerField()  # order of the latest PUT (monotonic sequence)
    registered_at = peewee.FloatField(default=time.time)  # wall clock of the latest PUT
    kind = peewee.CharField(max_length=16, default="put")  # how it is delivered (dispatcher kinds)
    p256dh = peewee.BlobField(null=True)  # web push: the subscriber's public key (raw point)
    auth = peewee.BlobField(null=True)  # web push: the subscriber's auth secret (16 octets)

    class Meta:
        indexes = ((("user", "url"), True),)


class Delivery(BaseModel):
    user = peewee.CharField(max_length=128, index=True)
    url = peewee.BlobField()
    payload = peewee.BlobField()
    fired_at = peewee.FloatField(default=time.time)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.FloatField(default=time.time)
    last_error = peewee.CharField(max_length=200, null=True)
    kind = peewee.CharField(max_length=16, default="put")  # which DeliveryKind builds the request
    p256dh = peewee.BlobField(null=True)
    auth = peewee.BlobField(null=True)


class VapidKey(BaseModel):
    """The server's VAPID key pair (RFC 8292); the row with the highest id is current.

    Kept in the database rather than a file beside it: the CLI and a running
    server share it, a rotation replaces the key and drops the web push
    registrations made for the old one in one transaction, and the server
    notices a rotation by the row id.
    """

    private_der = peewee.BlobField()  # PKCS#8 DER, unencrypted (the database file is owner-only)
    public_raw = peewee.BlobField()  # 65-octet uncompressed P-256 point
    created_at = peewee.FloatField(default=time.time)


MODELS.extend([Registration, Delivery, VapidKey])
