"""The inbox: webhook events kept in Redis until a worker has handled them.

`store` is the webhook's only write: one Lua call deduplicates every event on
its `webhookEventId` and files the new ones in their chat's inbox, ordered by
the timestamp LINE stamped — all or nothing, so a 200 means every event is
safe. `drain` hands one chat's events to a handler in that order under a
per-chat lock, and an event leaves the inbox only once handled: a worker that
dies mid-event leaves it for `sweep`, which starts a new drain within seconds.
"""

import hashlib
import json
import logging
import threading
import time

from store import PREFIX, key

log = logging.getLogger(__name__)

#: How long an event id is remembered for deduplication (LINE: at least 24 h).
DEDUPE_TTL = 48 * 3600
#: A drain's lock lapses this long after its holder's last sign of life.
LOCK_TTL = 6.0
LOCK_RENEW_EVERY = 1.5
#: A chat whose drain was started this recently is left to it by the sweeper.
KICK_TTL = 3
#: An event that fails this many times leaves the inbox for the dead letters.
MAX_ATTEMPTS = 5

# KEYS: none (all keys share the prefix in ARGV[1]); ARGV: prefix, ttl, kick
# ttl, then (event_id, chat_id, score, payload) per event. Returns the chats
# that got new events, and marks them kicked (their drain is about to be
# queued, so the sweeper leaves them alone for a moment).
STORE_SCRIPT = """
local prefix, ttl, kick = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local chats, seen = {}, {}
for i = 4, #ARGV, 4 do
  local id, chat, score, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('SET', prefix .. 'event:' .. id, payload, 'NX', 'EX', ttl) then
    redis.call('ZADD', prefix .. 'inbox:' .. chat, score, id)
    redis.call('SADD', prefix .. 'inbox', chat)
    if not seen[chat] then
      seen[chat] = true
      table.insert(chats, chat)
      redis.call('SET', prefix .. 'kick:' .. chat, 1, 'EX', kick)
    end
  end
end
return chats
"""

# KEYS[1] inbox of the chat, KEYS[2] set of chats with pending events.
FORGET_IF_EMPTY_SCRIPT = """
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


def chat_id_of(event: dict) -> str:
    """Where a reply to `event` goes: the user, group or room id.

    Events with no source (module events) share the channel's own chat.
    """
    source = event.get("source") or {}
    return (
        source.get("groupId")
        or source.get("roomId")
        or source.get("userId")
        or "_channel"
    )


def event_id_of(event: dict) -> str:
    """The event's `webhookEventId`, or a digest of it when LINE sent none."""
    event_id = event.get("webhookEventId")
    if event_id:
        return str(event_id)
    body = json.dumps(event, sort_keys=True, ensure_ascii=False).encode()
    return "sha256-" + hashlib.sha256(body).hexdigest()[:32]


class LockKeeper:
    """Renews the drain locks of this process from one background thread."""

    def __init__(self):
        self._locks = set()
        self._mutex = threading.Lock()
        self._thread = None

    def hold(self, lock):
        with self._mutex:
            self._locks.add(lock)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lock-keeper", daemon=True
                )
                self._thread.start()

    def drop(self, lock):
        with self._mutex:
            self._locks.discard(lock)

    def _run(self):
        while True:
            time.sleep(LOCK_RENEW_EVERY)
            with self._mutex:
                locks = list(self._locks)
            for lock in locks:
                try:
                    lock.reacquire()
                except Exception:  # noqa: BLE001 - a lost lock is re-won later
                    log.warning("inbox: could not renew %s", lock.name, exc_info=True)


class Inbox:
    """Stores webhook events and drains them, one chat at a time."""

    def __init__(self, redis, clock=time.time):
        self.redis = redis
        self.clock = clock
        self._store = redis.register_script(STORE_SCRIPT)
        self._forget = redis.register_script(FORGET_IF_EMPTY_SCRIPT)
        self.keeper = LockKeeper()

    def store(self, events: list[dict], destination: str = "", *, pipe=None):
        """Keep new events (duplicates are dropped); returns chats with news.

        With `pipe` the call is queued on that pipeline instead (its result
        comes back from `pipe.execute()`), so that storing can share a
        round trip and a transaction with the enqueueing of the drain.
        """
        if not events:
            return []
        arrival = self.clock()
        args = [PREFIX, DEDUPE_TTL, KICK_TTL]
        for event in events:
            payload = {"event": event, "arrival": arrival, "destination": destination}
            args += [
                event_id_of(event),
                chat_id_of(event),
                int(event.get("timestamp") or 0),
                json.dumps(payload, ensure_ascii=False),
            ]
        if pipe is None:
            return self._store(args=args)
        # EVALSHA straight onto the pipeline: redis-py's script objects would
        # add a SCRIPT EXISTS round trip to every webhook.
        pipe.evalsha(self._store.sha, 0, *args)
        return None

    def load_scripts(self, client=None) -> None:
        """Load the Lua scripts into Redis (again after a restart flushed them)."""
        (client or self.redis).script_load(STORE_SCRIPT)

    def kick(self, chat_ids) -> None:
        """Note that drains were started for `chat_ids` (the sweeper waits)."""
        pipe = self.redis.pipeline(transaction=False)
        for chat_id in chat_ids:
            pipe.set(key("kick", chat_id), 1, ex=KICK_TTL)
        pipe.execute()

    def pending(self, chat_id: str) -> list[str]:
        """Event ids waiting in the chat's inbox, in LINE's order."""
        return self.redis.zrange(key("inbox", chat_id), 0, -1)

    def drain(self, chat_id: str, handle) -> int:
        """Hand each of the chat's events to `handle(payload)`, in order.

        Returns how many were handled. Another drain of the same chat running
        elsewhere makes this one return at once: that one sees these events.
        """
        handled = 0
        while True:
            lock = self.redis.lock(
                key("lock", "inbox", chat_id),
                timeout=LOCK_TTL,
                blocking=False,
                thread_local=False,
            )
            if not lock.acquire():
                return handled
            self.keeper.hold(lock)
            try:
                done, failed = self._drain_locked(chat_id, handle)
                handled += done
            finally:
                self.keeper.drop(lock)
                try:
                    lock.release()
                except Exception:  # noqa: BLE001 - it lapsed; the work is done
                    log.warning("inbox: lock of %s lapsed mid-drain", chat_id)
            if failed:
                return handled
            # An event filed between our last look and the release would be
            # nobody's: look once more before leaving.
            if self._forget(keys=[key("inbox", chat_id), key("inbox")], args=[chat_id]):
                return handled

    def _drain_locked(self, chat_id, handle) -> tuple[int, bool]:
        handled = 0
        inbox_key = key("inbox", chat_id)
        while True:
            head = self.redis.zrange(inbox_key, 0, 0)
            if not head:
                return handled, False
            event_id = head[0]
            raw = self.redis.get(key("event", event_id))
            if raw is None:
                log.warning("inbox: event %s expired before handling", event_id)
                self.redis.zrem(inbox_key, event_id)
                continue
            payload = json.loads(raw)
            payload["event_id"] = event_id
            payload["chat_id"] = chat_id
            try:
                handle(payload)
            except Exception:
                log.exception("inbox: event %s of %s failed", event_id, chat_id)
                if self._give_up(chat_id, event_id):
                    continue
                return handled, True
            self.redis.zrem(inbox_key, event_id)
            handled += 1

    def _give_up(self, chat_id, event_id) -> bool:
        """Count a failure; past MAX_ATTEMPTS move the event to the dead letters."""
        attempts_key = key("attempts", event_id)
        attempts = self.redis.incr(attempts_key)
        self.redis.expire(attempts_key, DEDUPE_TTL)
        if attempts < MAX_ATTEMPTS:
            return False
        log.error(
            "inbox: event %s of %s failed %d times; dead-lettered",
            event_id,
            chat_id,
            attempts,
        )
        pipe = self.redis.pipeline()
        pipe.rpush(
            key("deadletter"), json.dumps({"chat_id": chat_id, "event_id": event_id})
        )
        pipe.zrem(key("inbox", chat_id), event_id)
        pipe.execute()
        return True

    def sweep(self, enqueue, limit: int = 1000) -> list[str]:
        """Start drains for chats with events that nobody is draining.

        Covers a worker that died mid-event and a webhook process that died
        between storing and enqueueing. One sweeper runs at a time.
        """
        if not self.redis.set(key("lock", "sweeper"), 1, nx=True, px=900):
            return []
        stranded = []
        for chat_id in self.redis.sscan_iter(key("inbox"), count=500):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(key("lock", "inbox", chat_id))
            pipe.exists(key("kick", chat_id))
            locked, kicked = pipe.execute()
            if not locked and not kicked:
                stranded.append(chat_id)
            if len(stranded) >= limit:
                break
        if stranded:
            log.info("inbox: sweeper restarts %d stranded chats", len(stranded))
            self.kick(stranded)
            enqueue(stranded)
        return stranded
