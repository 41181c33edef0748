"""Login throttling, per username and per remote address.

Failures are counted in a sliding window of `login_lock_minutes`. From the
`login_slow_after`-th failure on, the next attempt is accepted only after a
wait that starts at `SLOW_BASE` seconds and doubles with every further
failure (5, 10, 20, 40, 80 s with the defaults, so a patient guesser still
reaches the lock); the `login_max_failures`-th failure locks the username or
address for `login_lock_minutes`. Refused attempts are not counted and never
reach the password check.
"""

import logging
import math
import secrets

import store

log = logging.getLogger(__name__)

#: The wait after the first failure past `login_slow_after`, in seconds.
SLOW_BASE = 5


class Throttle:
    """Counts login failures and says how long a caller must wait."""

    def __init__(
        self, redis, clock, *, slow_after: int, max_failures: int, window_minutes: int
    ):
        self.redis = redis
        self.clock = clock
        self.slow_after = slow_after
        self.max_failures = max_failures
        self.window = window_minutes * 60

    def _keys(self, username, address):
        keys = []
        if username:
            keys.append(store.key("login_failures", "user", username[:64]))
        if address:
            keys.append(store.key("login_failures", "addr", address))
        return keys

    def wait(self, username: str | None, address: str | None) -> int:
        """Seconds the caller must wait before trying again (0: go ahead)."""
        now = self.clock()
        longest = 0.0
        for key in self._keys(username, address):
            locked_until = self.redis.get(key + ":locked")
            if locked_until:
                longest = max(longest, float(locked_until) - now)
            self.redis.zremrangebyscore(key, "-inf", now - self.window)
            stamps = self.redis.zrange(key, 0, -1, withscores=True)
            if len(stamps) >= self.slow_after:
                delay = SLOW_BASE * 2 ** (len(stamps) - self.slow_after)
                longest = max(longest, stamps[-1][1] + delay - now)
        return max(0, math.ceil(longest))

    def fail(self, username: str | None, address: str | None) -> None:
        """Count one failed attempt; the `max_failures`-th locks."""
        now = self.clock()
        for key in self._keys(username, address):
            pipe = self.redis.pipeline()
            pipe.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
            pipe.expire(key, self.window + 60)
            pipe.zcount(key, now - self.window, "+inf")
            count = pipe.execute()[-1]
            if count >= self.max_failures:
                # The lock outlives the failures that caused it; they are
                # forgotten, so that the lock's end starts a fresh count.
                pipe = self.redis.pipeline()
                pipe.set(key + ":locked", str(now + self.window), ex=self.window + 60)
                pipe.delete(key)
                pipe.execute()
                log.warning(
                    "throttle: %s locked for %d minutes",
                    key.split(":", 2)[-1],
                    self.window // 60,
                )

    def succeed(self, username: str) -> None:
        """Forget the username's failures (the address's keep counting)."""
        self.redis.delete(*self._keys(username, None))
