"""Login throttling, per username and per remote address.

Failures are counted in a sliding window of `login_lock_minutes`. From the
`login_slow_after`-th failure on, the next attempt is accepted only after a
wait that starts at `SLOW_BASE` seconds and doubles with every further
failure (5, 10, 20, 40, 80 s with the defaults, so a patient guesser still
reaches the lock); the `login_max_failures`-th failure locks the username or
address for `login_lock_minutes`. Refused attempts are not counted and never
reach the password check.
"""

import hashlib
import logging
import math
import secrets

import store

log = logging.getLogger(__name__)

#: The wait after the first failure past `login_slow_after`, in seconds.
SLOW_BASE = 5
FAILURES_PREFIX = store.key("login_failures", "")
LOCKED_PREFIX = store.key("login_locked", "")


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

    @staticmethod
    def _lock_key(key: str) -> str:
        """Where the lock for the failures counted at `key` is kept.

        Under a prefix of its own, not a suffix of `key`: a typed name such
        as `admin:locked` must not land on the key of `admin`'s lock, whose
        wrong type would then fail every login of `admin`.
        """
        return LOCKED_PREFIX + key.removeprefix(FAILURES_PREFIX)

    def wait(self, username: str | None, address: str | None) -> int:
        """Seconds the caller must wait before trying again (0: go ahead)."""
        now = self.clock()
        longest = 0.0
        for key in self._keys(username, address):
            locked_until = self.redis.get(self._lock_key(key))
            if locked_until:
                longest = max(longest, float(locked_until) - now)
            self.redis.zremrangebyscore(key, "-inf", now - self.window)
            stamps = self.redis.zrange(key, 0, -1, withscores=True)
            if len(stamps) >= self.slow_after:
                delay = SLOW_BASE * 2 ** (len(stamps) - self.slow_after)
                longest = max(longest, stamps[-1][1] + delay - now)
        return max(0, math.ceil(longest))

    def begin(self, username: str | None, address: str | None) -> list:
        """Count an attempt as failed before its password is checked.

        Checking a password takes a while (Argon2 is slow on purpose); counted
        up front, attempts fired side by side see each other and are slowed
        together instead of all slipping through one check. Returns the marks
        to hand to `fail` or `succeed`.
        """
        now = self.clock()
        marks = []
        pipe = self.redis.pipeline()
        for key in self._keys(username, address):
            member = f"{now:.6f}:{secrets.token_hex(4)}"
            pipe.zadd(key, {member: now})
            pipe.expire(key, self.window + 60)
            marks.append((key, member))
        pipe.execute()
        return marks

    def fail(self, marks: list) -> None:
        """The attempt failed: the `max_failures`-th failure locks."""
        now = self.clock()
        for key, _ in marks:
            count = self.redis.zcount(key, now - self.window, "+inf")
            if count < self.max_failures:
                continue
            # The lock outlives the failures that caused it; they are
            # forgotten, so that the lock's end starts a fresh count.
            pipe = self.redis.pipeline()
            pipe.set(self._lock_key(key), str(now + self.window), ex=self.window + 60)
            pipe.delete(key)
            pipe.execute()
            kind, _, name = key.removeprefix(FAILURES_PREFIX).partition(":")
            if kind == "user":  # the name typed may be a password: a digest
                name = "digest " + hashlib.sha256(name.encode()).hexdigest()[:12]
            log.warning(
                "throttle: %s %s locked for %d minutes", kind, name, self.window // 60
            )

    def succeed(self, username: str, marks: list) -> None:
        """The attempt succeeded: forget the username's failures and take
        this attempt off the address's count (its other failures stay)."""
        pipe = self.redis.pipeline()
        pipe.delete(*self._keys(username, None))
        for key, member in marks:
            pipe.zrem(key, member)
        pipe.execute()
