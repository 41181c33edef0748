"""API tokens: random bearer secrets, stored only as their SHA-256.

`token:{sha256}` is a hash (`username`, `epoch`, `expires_at`, `created_at`)
that Redis drops at expiry. The token also dies when its account's epoch
moves on (password replaced, account disabled), see `handoff.agents`.
"""

import hashlib
import logging
import math
import secrets
from datetime import UTC, datetime

import store

log = logging.getLogger(__name__)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def iso(ts: float) -> str:
    """`ts` (Unix seconds) as ISO-8601 UTC, e.g. 2026-12-03T18:00:00Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Tokens:
    """Issue, look up and revoke API tokens."""

    def __init__(self, redis, clock):
        self.redis = redis
        self.clock = clock

    def _key(self, token: str) -> str:
        return store.key("token", _digest(token))

    def issue(self, username: str, epoch: str, ttl_seconds: int) -> dict:
        """A new token for `username`: `{"token", "expires_at"}`."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = math.floor(now + ttl_seconds)
        key = self._key(token)
        pipe = self.redis.pipeline()
        pipe.hset(
            key,
            mapping={
                "username": username,
                "epoch": epoch,
                "created_at": iso(now),
                "expires": str(expires),
            },
        )
        # Redis forgets it a little after the desk stops honouring it.
        pipe.expire(key, int(ttl_seconds) + 60)
        pipe.execute()
        return {"token": token, "expires_at": iso(expires)}

    def lookup(self, token: str) -> dict | None:
        """The live token's record (`username`, `epoch`), or None."""
        if not token or len(token) > 256:
            return None
        data = self.redis.hgetall(self._key(token))
        if not data:
            return None
        if float(data.get("expires", 0)) <= self.clock():
            return None
        return data

    def revoke(self, token: str) -> bool:
        """Forget the token; True when it existed."""
        return bool(self.redis.delete(self._key(token)))
