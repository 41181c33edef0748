"""Dead letters: webhook events whose handling failed on every attempt.

The inbox (bot/inbox.py) makes an event a dead letter after its last retry
fails. Each is kept in `deadletter:{event_id}` (a hash: where it came from,
its failure record and its own copy of the stored payload, so it outlives the
event's 48 h dedupe key) and indexed in the zset `deadletter` by when it died.
Only the newest `KEEP` are kept: a desk failing for days must not fill Redis.
Nor are they kept longer than the history keeps what users wrote
(`HISTORY_RETENTION_DAYS`): a dead letter holds the user's words too.

Admins list them without the user's words (`summary` leaves the payload out),
file one back into its chat's inbox for one more attempt (`retry`), or
`discard` it.
"""

import json
import logging
import time

from redis.exceptions import WatchError

from store import key

log = logging.getLogger(__name__)

#: The newest dead letters kept; older ones are dropped as new ones come.
KEEP = 1000
INDEX = key("deadletter")
#: How long an event id is remembered for deduplication (as bot/inbox.py).
EVENT_TTL = 48 * 3600

# KEYS[1] the index; ARGV: the hash keys' prefix, how many to keep, and the
# time before which they died too long ago. Returns how many were dropped.
TRIM_SCRIPT = """
local dropped = 0
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
for _, id in ipairs(expired) do
  redis.call('DEL', ARGV[1] .. id)
  redis.call('ZREM', KEYS[1], id)
  dropped = dropped + 1
end
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if over <= 0 then
  return dropped
end
local old = redis.call('ZRANGE', KEYS[1], 0, over - 1)
for _, id in ipairs(old) do
  redis.call('DEL', ARGV[1] .. id)
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
return dropped + over
"""


def _hash(event_id: str) -> str:
    return key("deadletter", event_id)


class DeadLetters:
    """The dead letters in Redis: add, list, retry, discard."""

    def __init__(self, redis, clock=time.time, retention_days=90):
        self.redis = redis
        self.clock = clock
        self.retention = retention_days * 24 * 3600
        self._trim = redis.register_script(TRIM_SCRIPT)

    def trim(self) -> int:
        """Drop dead letters past the retention or beyond the newest `KEEP`.

        Run on every `add` and by the sweeper. Returns how many went.
        """
        cutoff = self.clock() - self.retention
        return self._trim(keys=[INDEX], args=[_hash(""), KEEP, cutoff])

    def add(self, event_id: str, record: dict, payload: dict) -> None:
        """Move `event_id` out of its chat's inbox into the dead letters.

        One transaction: the event is in the inbox or here, never in neither.
        """
        event = payload.get("event") or {}
        stored = {k: v for k, v in payload.items() if k not in ("attempts",)}
        fields = {
            **record,
            "died_at": self.clock(),
            "event_type": str(event.get("type") or ""),
            "message_type": str((event.get("message") or {}).get("type") or ""),
            "payload": json.dumps(stored, ensure_ascii=False),
        }
        pipe = self.redis.pipeline()
        pipe.zrem(key("inbox", record["chat_id"]), event_id)
        pipe.delete(key("failure", event_id))
        pipe.delete(_hash(event_id))
        pipe.hset(_hash(event_id), mapping=fields)
        pipe.zadd(INDEX, {event_id: fields["died_at"]})
        pipe.execute()
        dropped = self.trim()
        if dropped:
            log.warning("deadletters: dropped the %d oldest (keep %d)", dropped, KEEP)

    def adopt_legacy(self) -> int:
        """Turn a `deadletter` list left by an older desk into dead letters.

        Older desks pushed `{"chat_id", "event_id"}` onto a list of that name;
        each whose event is still stored becomes a dead letter (its failure
        times unknown: now; error `unknown`), the rest are logged and lost
        as they already were. Returns how many were adopted. The list is
        first moved aside under a name of its own, which is also read when
        found: a sweeper that died mid-way leaves it for the next to finish
        (adopting an entry twice writes the same dead letter again).
        """
        legacy = key("deadletter", "legacy-list")
        if self.redis.type(INDEX) == "list":
            self.redis.rename(INDEX, legacy)
        elif not self.redis.exists(legacy):
            return 0
        adopted = 0
        for raw in self.redis.lrange(legacy, 0, -1):
            item = json.loads(raw)
            event_id = item.get("event_id", "")
            stored = self.redis.get(key("event", event_id))
            if stored is None:
                log.warning("deadletters: old dead letter %s has expired", event_id)
                continue
            now = self.clock()
            record = {
                "chat_id": item.get("chat_id", ""),
                "score": int(
                    (json.loads(stored).get("event") or {}).get("timestamp") or 0
                ),
                "attempts": 5,
                "first_failed": now,
                "last_failed": now,
                "error": "unknown",
            }
            self.add(event_id, record, json.loads(stored))
            adopted += 1
        self.redis.delete(legacy)
        log.info("deadletters: adopted %d dead letters of an older desk", adopted)
        return adopted

    def count(self) -> int:
        return self.redis.zcard(INDEX)

    def list(self, limit: int = KEEP) -> list[dict]:
        """The dead letters, newest first, without their payloads.

        Only the summary's fields are read: the payloads (the user's words)
        never leave Redis for a listing.
        """
        ids = self.redis.zrevrange(INDEX, 0, limit - 1)
        pipe = self.redis.pipeline(transaction=False)
        for event_id in ids:
            pipe.hmget(_hash(event_id), SUMMARY_FIELDS)
        listed = []
        for event_id, values in zip(ids, pipe.execute(), strict=True):
            pairs = zip(SUMMARY_FIELDS, values, strict=True)
            fields = {name: value for name, value in pairs if value is not None}
            if fields:
                listed.append(summary(event_id, fields))
        return listed

    def get(self, event_id: str) -> dict | None:
        """One dead letter's summary, or None."""
        fields = self.redis.hgetall(_hash(event_id))
        return summary(event_id, fields) if fields else None

    def retry(self, event_id: str) -> dict | None:
        """File the event back into its chat's inbox for one more attempt.

        Its payload is stored again under `event:{id}` and its failure record
        goes with it, marked `last_chance`: failing again makes it a dead
        letter at once (with its attempts counted on), not after another
        round of delays. Returns the summary, or None when there is no such
        dead letter (or another admin retried it first). The caller starts
        the chat's drain.
        """
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(_hash(event_id))
                fields = pipe.hgetall(_hash(event_id))
                if not fields:
                    return None
                chat_id = fields["chat_id"]
                failure = {
                    name: fields[name]
                    for name in (
                        "chat_id",
                        "score",
                        "attempts",
                        "first_failed",
                        "last_failed",
                        "error",
                    )
                }
                failure["last_chance"] = 1
                pipe.multi()
                pipe.set(key("event", event_id), fields["payload"], ex=EVENT_TTL)
                pipe.delete(key("failure", event_id))
                pipe.hset(key("failure", event_id), mapping=failure)
                pipe.expire(key("failure", event_id), EVENT_TTL)
                pipe.zadd(key("inbox", chat_id), {event_id: int(fields["score"])})
                pipe.sadd(key("inbox"), chat_id)
                pipe.zrem(INDEX, event_id)
                pipe.delete(_hash(event_id))
                pipe.execute()
            except WatchError:
                return None  # another admin retried or discarded it just now
        return summary(event_id, fields)

    def discard(self, event_id: str) -> dict | None:
        """Drop a dead letter for good; returns its summary, or None."""
        fields = self.redis.hgetall(_hash(event_id))
        if not fields:
            return None
        pipe = self.redis.pipeline()
        pipe.zrem(INDEX, event_id)
        pipe.delete(_hash(event_id))
        removed, _ = pipe.execute()
        return summary(event_id, fields) if removed else None


#: The fields of a dead letter's hash that `summary` reads.
SUMMARY_FIELDS = (
    "chat_id",
    "event_type",
    "message_type",
    "attempts",
    "first_failed",
    "last_failed",
    "died_at",
    "error",
)


def summary(event_id: str, fields: dict) -> dict:
    """What admins see of a dead letter: never the user's words."""
    return {
        "event_id": event_id,
        "chat_id": fields.get("chat_id", ""),
        "event_type": fields.get("event_type", ""),
        "message_type": fields.get("message_type") or None,
        "attempts": int(fields.get("attempts", 0)),
        "first_failed": float(fields.get("first_failed", 0)),
        "last_failed": float(fields.get("last_failed", 0)),
        "died_at": float(fields.get("died_at", 0)),
        "error": fields.get("error", ""),
    }
