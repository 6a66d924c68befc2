"""URLAUTH (RFC 4467) mailbox access keys, one per user and mailbox, in sqlite.

A key is 32 random octets; the INTERNAL mechanism's token is an HMAC of
the rump URL under it. Each key remembers the UIDVALIDITY it was made
for: a mailbox deleted and created again under the same name gets a new
UIDVALIDITY, so the old key (and every URL made with it) no longer
counts. Sessions reach this through ``ServerConfig.urlauth`` (a
`UrlAuthKeys`), never by importing this module.
"""

from __future__ import annotations

import secrets
from typing import Optional

import peewee

from .db import MODELS, BaseModel

KEY_OCTETS = 32


class UrlAuthKey(BaseModel):
    user = peewee.CharField(max_length=128, index=True)
    mailbox = peewee.CharField(max_length=512)
    uidvalidity = peewee.BigIntegerField()
    key = peewee.BlobField()

    class Meta:
        indexes = ((("user", "mailbox"), True),)


MODELS.append(UrlAuthKey)


class UrlAuthKeys:
    def key(self, user: str, mailbox: str, uidvalidity: int, create: bool) -> Optional[bytes]:
        """The mailbox's access key; a new one when ``create`` and there is
        none for this UIDVALIDITY, else None."""
        row = UrlAuthKey.get_or_none((UrlAuthKey.user == user) & (UrlAuthKey.mailbox == mailbox))
        if row is not None and row.uidvalidity == uidvalidity:
            return bytes(row.key)
        if not create:
            return None
        key = secrets.token_bytes(KEY_OCTETS)
        (UrlAuthKey.insert(user=user, mailbox=mailbox, uidvalidity=uidvalidity, key=key)
         .on_conflict(conflict_target=[UrlAuthKey.user, UrlAuthKey.mailbox],
                      update={UrlAuthKey.uidvalidity: uidvalidity, UrlAuthKey.key: key})
         .execute())
        return key

    def reset(self, user: str, mailbox: Optional[str] = None) -> int:
        """Forget the user's key for one mailbox, or all of them: every URL
        made with them stops working. Returns how many keys were dropped."""
        query = UrlAuthKey.delete().where(UrlAuthKey.user == user)
        if mailbox is not None:
            query = query.where(UrlAuthKey.mailbox == mailbox)
        return query.execute()
