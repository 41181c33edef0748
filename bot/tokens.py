"""The reply-token pool: every live reply token of a chat, with its deadline.

A reply is free, so a token is the most valuable thing the desk holds. Tokens
are kept per chat in a sorted set scored by deadline; a send takes the live
token that lapses soonest (keeping the freshest for later), and `ZREM` decides
which taker wins, so two workers can never spend the same token.
"""

import logging
import time

from store import key

log = logging.getLogger(__name__)

#: LINE honours a redelivered event's token for at most this long after the event.
REDELIVERY_LIMIT = 20 * 60


def token_deadline(event: dict, arrival: float, ttl: float) -> float:
    """When the event's reply token stops counting as usable (epoch seconds).

    `ttl` seconds after the webhook arrived; for a redelivered event never
    later than 20 minutes after LINE stamped it.
    """
    deadline = arrival + ttl
    if (event.get("deliveryContext") or {}).get("isRedelivery"):
        stamped = event.get("timestamp", 0) / 1000.0
        deadline = min(deadline, stamped + REDELIVERY_LIMIT)
    return deadline


class TokenPool:
    """Live reply tokens per chat (`chat_id` is the user, group or room id)."""

    def __init__(self, redis, clock=time.time):
        self.redis = redis
        self.clock = clock

    def _key(self, chat_id):
        return key("tokens", chat_id)

    def add(self, chat_id: str, reply_token: str, deadline: float) -> bool:
        """Keep `reply_token` until `deadline`; False when it has already lapsed."""
        now = self.clock()
        if deadline <= now:
            return False
        pipe = self.redis.pipeline()
        pipe.zadd(self._key(chat_id), {reply_token: deadline})
        pipe.zremrangebyscore(self._key(chat_id), "-inf", now)
        pipe.expire(self._key(chat_id), int(deadline - now) + 60)
        pipe.execute()
        return True

    def take(self, chat_id: str):
        """Remove and return `(reply_token, deadline)` lapsing soonest, or None."""
        name = self._key(chat_id)
        while True:
            now = self.clock()
            self.redis.zremrangebyscore(name, "-inf", now)
            live = self.redis.zrangebyscore(
                name, now, "+inf", start=0, num=1, withscores=True
            )
            if not live:
                return None
            reply_token, deadline = live[0]
            if self.redis.zrem(name, reply_token):
                return reply_token, deadline
            # Another taker won this token; look again.

    def give_back(self, chat_id: str, reply_token: str, deadline: float) -> None:
        """Return an unspent token taken by `take` (e.g. the send was refused)."""
        self.add(chat_id, reply_token, deadline)

    def live(self, chat_id: str) -> list[tuple[str, float]]:
        """The chat's live tokens, soonest-lapsing first."""
        return self.redis.zrangebyscore(
            self._key(chat_id), self.clock(), "+inf", withscores=True
        )

    def free_until(self, chat_id: str):
        """The latest live token's deadline, or None when the window is shut."""
        live = self.redis.zrevrangebyscore(
            self._key(chat_id), "+inf", self.clock(), start=0, num=1, withscores=True
        )
        return live[0][1] if live else None
