"""The test bed's tables: faults (kept until used up or cleared) and the log
of events the CLI made (so a running server can note them in its traces)."""

from __future__ import annotations

import time

import peewee
from playhouse.sqlite_ext import AutoIncrementField

from ..db import MODELS, BaseModel


class Fault(BaseModel):
    id = AutoIncrementField()  # never reused: sessions count per fault id
    user = peewee.CharField(max_length=128, index=True)
    kind = peewee.CharField(max_length=16)  # disconnect, bye, delay, respond, uidvalidity, push
    command = peewee.CharField(max_length=32, null=True)  # upper case; None: any command
    after = peewee.IntegerField(default=0)  # matching commands answered before it fires
    ms = peewee.IntegerField(null=True)  # delay
    status = peewee.CharField(max_length=8, null=True)  # respond: NO or BAD
    code = peewee.CharField(max_length=64, null=True)  # respond: response code, e.g. OVERQUOTA
    http_status = peewee.IntegerField(null=True)  # push
    retry_after = peewee.FloatField(null=True)  # push: Retry-After seconds
    mailbox = peewee.CharField(max_length=512, null=True)  # uidvalidity
    remaining = peewee.IntegerField(null=True)  # firings left; None: until cleared
    fired = peewee.IntegerField(default=0)
    created_at = peewee.FloatField(default=time.time)


class TestbedEvent(BaseModel):
    """One ``pushimapd event`` made by the CLI (the change itself is in the Maildir)."""

    id = AutoIncrementField()  # never reused: the server remembers the last one it noted
    user = peewee.CharField(max_length=128, index=True)
    kind = peewee.CharField(max_length=16)
    description = peewee.CharField(max_length=512)
    created_at = peewee.FloatField(default=time.time)


MODELS.extend([Fault, TestbedEvent])
