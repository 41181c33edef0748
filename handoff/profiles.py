"""LINE user profiles (display name, picture, language), cached.

A profile is fetched from LINE once and refreshed at most daily. Fetching
happens in an RQ job, never on the path that answers the user: a slow or
failing profile call must not cost the user their reply token.
"""

import logging
import time

from bot.line_api import LineError
from store import key

log = logging.getLogger(__name__)

#: A cached profile older than this is fetched again (on the user's next event).
REFRESH_AFTER = 24 * 3600
#: Kept this long without being refreshed (the user went quiet).
KEEP = 90 * 24 * 3600
#: After a request (or a failure), no new fetch for this long.
RETRY_AFTER = 600
FIELDS = ("display_name", "picture_url", "language", "status_message")


class Profiles:
    """The profile cache; `line` is the LINE client (`runtime.line`)."""

    def __init__(self, redis, line, clock=time.time):
        self.redis = redis
        self.line = line
        self.clock = clock

    def get(self, user_id: str) -> dict | None:
        """The cached profile, or None when it was never fetched."""
        if not user_id:
            return None
        raw = self.redis.hgetall(key("profile", user_id))
        if not raw:
            return None
        profile = {name: raw.get(name) or None for name in FIELDS}
        profile["fetched_at"] = float(raw.get("fetched_at", 0))
        return profile

    def stale(self, user_id: str) -> bool:
        profile = self.get(user_id)
        return profile is None or self.clock() - profile["fetched_at"] >= REFRESH_AFTER

    def refresh(self, user_id: str) -> dict | None:
        """Fetch the profile from LINE and cache it; None when LINE failed.

        Failures are logged and not raised: the cached copy (if any) stays.
        """
        try:
            data = self.line.get_profile(user_id)
        except LineError as err:
            log.warning("profiles: %s not fetched (%s)", user_id, err.kind)
            return None
        profile = {
            "display_name": data.get("displayName") or data.get("display_name") or "",
            "picture_url": data.get("pictureUrl") or data.get("picture_url") or "",
            "language": data.get("language") or "",
            "status_message": data.get("statusMessage")
            or data.get("status_message")
            or "",
            "fetched_at": self.clock(),
        }
        name = key("profile", user_id)
        pipe = self.redis.pipeline()
        pipe.hset(name, mapping=profile)
        pipe.expire(name, KEEP)
        pipe.execute()
        return self.get(user_id)

    def request_refresh(self, queue, user_id: str) -> bool:
        """Queue a fetch when the cache is stale and none was asked for lately."""
        if not user_id or not user_id.startswith("U") or not self.stale(user_id):
            return False
        if not self.redis.set(
            key("profile", "asked", user_id), 1, nx=True, ex=RETRY_AFTER
        ):
            return False
        queue.enqueue(
            "handoff.profiles.refresh_job", user_id, result_ttl=0, failure_ttl=3600
        )
        return True


def refresh_job(user_id: str) -> bool:
    """RQ job: fetch and cache one user's profile."""
    from bot.runtime import get_runtime

    runtime = get_runtime()
    profiles = Profiles(runtime.redis, runtime.line, runtime.delivery.clock)
    return profiles.refresh(user_id) is not None
