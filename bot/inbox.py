"""The inbox: webhook events kept in Redis until a worker has handled them.

`store` is the webhook's only write: one Lua call deduplicates every event on
its `webhookEventId` and files the new ones in their chat's inbox, ordered by
the timestamp LINE stamped — all or nothing, so a 200 means every event is
safe. `drain` hands one chat's events to a handler in that order under a
per-chat lock, and an event leaves the inbox only once handled: a worker that
dies mid-event leaves it for `sweep`, which starts a new drain within seconds.

Chats with new events wait in `drain:pending` for one drain job: the webhook
queues a job only when none is queued already (`drain:armed`), and the job
takes the chats that are waiting when it starts (`take_pending`). A burst of
webhooks thus costs one RQ job per job a worker can start, not one per
request — RQ's own cost per job would otherwise bound both the receiver and
the workers.

An event whose handler raises is not retried at once, nor does it block its
chat: it is parked in `retry` (a zset by due time, after the growing delays of
the `event_retry_delays` setting) and the drain goes on with the chat's later
events; the sweeper files it back into the inbox when due. After the last
delay's attempt fails too, it becomes a dead letter (bot/deadletters.py) that
admins can retry or discard. The move out of the inbox, to `retry` or to the
dead letters, is one transaction with the failure's record, so an event is
always in exactly one of the three places until it is handled.
"""

import hashlib
import json
import logging
import threading
import time

import orjson

from api.settings import get_setting, register_setting
from bot.deadletters import DeadLetters
from store import PREFIX, key

log = logging.getLogger(__name__)

#: How long an event id is remembered for deduplication (LINE: at least 24 h).
DEDUPE_TTL = 48 * 3600
#: A drain's lock lapses this long after its holder's last sign of life.
LOCK_TTL = 6.0
LOCK_RENEW_EVERY = 1.5
#: A chat whose drain was started this recently is left to it by the sweeper.
KICK_TTL = 3
#: How long a queued drain job counts as coming: a webhook within it queues
#: none. Past it (workers busy or gone) the next webhook queues another, so a
#: lost job delays chats by seconds at most and a backlog adds one job a while.
ARMED_TTL = 5
#: Seconds a failed event waits before each retry: attempt n+1 comes
#: RETRY_DELAYS[n-1] after attempt n failed, so 6 attempts over about 43
#: minutes — long enough to outlast a dependency's short outage or a fix
#: deployed within half an hour — and the 6th failure makes a dead letter.
RETRY_DELAYS = [5, 30, 120, 600, 1800]
RETRY_SETTING = "event_retry_delays"
#: Parked events the sweeper files back into their inboxes per pass.
REFILE_BATCH = 500


def _retry_delays(value):
    """Validate `event_retry_delays`: 0 to 10 delays of 1 s to 24 h each."""
    if not isinstance(value, list) or len(value) > 10:
        raise ValueError("must be a list of at most 10 delays in seconds")
    for delay in value:
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise ValueError("each delay must be a number of seconds")
        if not 1 <= delay <= 86400:
            raise ValueError(f"each delay must be from 1 to 86400 s, got {delay!r}")
    return value


register_setting(
    RETRY_SETTING,
    RETRY_DELAYS,
    _retry_delays,
    "Seconds a webhook event whose handling failed waits before each retry; "
    "after the last retry fails it is kept under Failed events for an admin.",
)

# KEYS: none (all keys share the prefix in ARGV[1]); ARGV: prefix, dedupe ttl,
# armed ttl, arrival, then (event_id, chat_id, score, payload) per event.
# Returns the chats that got new events, and 1 when the caller must queue a
# drain job (no job was queued for `drain:pending` already), else 0. A chat
# waits in `drain:pending` by its first arrival, so the oldest are taken first
# (their reply tokens lapse first). Each redis.call costs, so the sets are
# written once for all chats.
STORE_SCRIPT = """
local prefix, ttl, armed_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local arrival = ARGV[4]
local event_key, inbox_key = prefix .. 'event:', prefix .. 'inbox:'
local unpack = unpack or table.unpack
local chats, seen = {}, {}
for i = 5, #ARGV, 4 do
  local id, chat = ARGV[i], ARGV[i + 1]
  if redis.call('SET', event_key .. id, ARGV[i + 3], 'NX', 'EX', ttl) then
    redis.call('ZADD', inbox_key .. chat, ARGV[i + 2], id)
    if not seen[chat] then
      seen[chat] = true
      chats[#chats + 1] = chat
    end
  end
end
if #chats == 0 then
  return {chats, 0}
end
local waiting = {}
for first = 1, #chats, 1000 do
  local last = math.min(first + 999, #chats)
  redis.call('SADD', prefix .. 'inbox', unpack(chats, first, last))
  for j = first, last do
    waiting[2 * (j - first) + 1] = arrival
    waiting[2 * (j - first) + 2] = chats[j]
  end
  redis.call('ZADD', prefix .. 'drain:pending', 'NX',
    unpack(waiting, 1, 2 * (last - first + 1)))
end
if redis.call('SET', prefix .. 'drain:armed', 1, 'NX', 'EX', armed_ttl) then
  return {chats, 1}
end
return {chats, 0}
"""

# ARGV: prefix, batch, kick ttl, armed ttl. A drain job's first step: it is no
# longer coming (a webhook from now on queues another), and it takes up to
# `batch` waiting chats, longest waiting first, kicked so that the sweeper
# leaves them to it. Returns
# the chats, and 1 when more are waiting and the caller must queue a job.
TAKE_SCRIPT = """
local prefix, batch = ARGV[1], tonumber(ARGV[2])
local kick, armed_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('DEL', prefix .. 'drain:armed')
local popped = redis.call('ZPOPMIN', prefix .. 'drain:pending', batch)
local chats = {}
for i = 1, #popped, 2 do
  chats[#chats + 1] = popped[i]
  redis.call('SET', prefix .. 'kick:' .. popped[i], 1, 'EX', kick)
end
if redis.call('ZCARD', prefix .. 'drain:pending') > 0
    and redis.call('SET', prefix .. 'drain:armed', 1, 'NX', 'EX', armed_ttl) then
  return {chats, 1}
end
return {chats, 0}
"""

# ARGV: prefix, now, batch. Files parked events that are due back into their
# chat's inbox at their LINE timestamp; returns the chats that got them, and
# the ids of events whose failure record (which names the chat) had gone.
REFILE_SCRIPT = """
local prefix, now, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', prefix .. 'retry', '-inf', now,
  'LIMIT', 0, batch)
local chats, seen, lost = {}, {}, {}
for _, id in ipairs(due) do
  redis.call('ZREM', prefix .. 'retry', id)
  local at = redis.call('HMGET', prefix .. 'failure:' .. id, 'chat_id', 'score')
  if at[1] then
    redis.call('ZADD', prefix .. 'inbox:' .. at[1], at[2], id)
    redis.call('SADD', prefix .. 'inbox', at[1])
    if not seen[at[1]] then
      seen[at[1]] = true
      table.insert(chats, at[1])
    end
  else
    table.insert(lost, id)
  end
end
return {chats, lost}
"""

# KEYS[1] inbox of the chat, KEYS[2] set of chats with pending events.
FORGET_IF_EMPTY_SCRIPT = """
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
    """Renews the Redis locks this process holds, from one background thread.

    A lock given to `hold` has its timeout renewed every `LOCK_RENEW_EVERY`
    seconds until `drop`, so its timeout only needs to outlast a holder that
    died, not the longest piece of work done under it. Used for the drain
    locks here and for the send locks of bot/delivery.py (`shared_keeper`).
    """

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

    def renew(self) -> None:
        """Reset every held lock's timeout to its full length, once."""
        with self._mutex:
            locks = list(self._locks)
        for lock in locks:
            try:
                lock.reacquire()
            except Exception:  # noqa: BLE001 - a lost lock is re-won later
                log.warning("inbox: could not renew %s", lock.name, exc_info=True)

    def _run(self):
        while True:
            time.sleep(LOCK_RENEW_EVERY)
            self.renew()


_shared_keeper = LockKeeper()


def shared_keeper() -> LockKeeper:
    """The process's one LockKeeper (one renewing thread for every lock)."""
    return _shared_keeper


class Inbox:
    """Stores webhook events and drains them, one chat at a time."""

    def __init__(self, redis, clock=time.time, retention_days=90):
        self.redis = redis
        self.clock = clock
        self._store = redis.register_script(STORE_SCRIPT)
        self._take = redis.register_script(TAKE_SCRIPT)
        self._forget = redis.register_script(FORGET_IF_EMPTY_SCRIPT)
        self._refile = redis.register_script(REFILE_SCRIPT)
        self.keeper = shared_keeper()
        self.deadletters = DeadLetters(redis, clock, retention_days)
        self._adopted = False  # an older desk's dead-letter list, once

    def store(self, events: list[dict], destination: str = "") -> tuple[list, bool]:
        """Keep new events (duplicates are dropped) in one Lua call.

        Returns the chats that got new events, and whether the caller must
        queue a drain job for them (True when none was queued already). The
        events are safe once this returns, job or not: a job that is never
        queued is made good by the sweeper.
        """
        if not events:
            return [], False
        arrival = self.clock()
        args = [PREFIX, DEDUPE_TTL, ARMED_TTL, arrival]
        for event in events:
            payload = {"event": event, "arrival": arrival, "destination": destination}
            args += [
                event_id_of(event),
                chat_id_of(event),
                int(event.get("timestamp") or 0),
                orjson.dumps(payload),
            ]
        # EVALSHA straight away: redis-py's script objects would add a
        # SCRIPT EXISTS round trip to every webhook. A Redis that restarted
        # and forgot the script raises NoScriptError (see `load_scripts`).
        chats, wake = self.redis.evalsha(self._store.sha, 0, *args)
        return [_text(chat) for chat in chats], bool(wake)

    def take_pending(self, batch: int) -> tuple[list[str], bool]:
        """The drain job's share: up to `batch` chats waiting for a drain.

        Returns them (kicked for the sweeper), and whether more are waiting
        and the caller must queue another job for them — so that a burst is
        spread over every worker instead of piling onto the first.
        """
        chats, more = self._take(args=[PREFIX, batch, KICK_TTL, ARMED_TTL])
        return [_text(chat) for chat in chats], bool(more)

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

        `payload["attempts"]` is how many times the event failed before (0 on
        its first try). An event whose handler raises is parked for a retry
        (or made a dead letter after its last one) and the drain goes on with
        the chat's later events. So order holds among the events handled
        together, but a retried event is handled after the later events that
        went through while it waited: its answer can arrive after theirs.
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
                handled += self._drain_locked(chat_id, handle)
            finally:
                self.keeper.drop(lock)
                try:
                    lock.release()
                except Exception:  # noqa: BLE001 - it lapsed; the work is done
                    log.warning("inbox: lock of %s lapsed mid-drain", chat_id)
            # An event filed between our last look and the release would be
            # nobody's: look once more before leaving.
            if self._forget(keys=[key("inbox", chat_id), key("inbox")], args=[chat_id]):
                return handled

    def _drain_locked(self, chat_id, handle) -> int:
        handled = 0
        inbox_key = key("inbox", chat_id)
        while True:
            head = self.redis.zrange(inbox_key, 0, 0, withscores=True)
            if not head:
                return handled
            event_id, score = head[0]
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(key("event", event_id))
            pipe.hgetall(key("failure", event_id))
            raw, failure = pipe.execute()
            if raw is None:
                log.warning("inbox: event %s expired before handling", event_id)
                self.redis.zrem(inbox_key, event_id)
                continue
            payload = json.loads(raw)
            payload["event_id"] = event_id
            payload["chat_id"] = chat_id
            payload["attempts"] = int(failure.get("attempts", 0))
            try:
                handle(payload)
            except Exception as exc:  # noqa: BLE001 - any failure parks the event
                self._fail(chat_id, event_id, score, payload, failure, exc)
                continue
            pipe = self.redis.pipeline()
            pipe.zrem(inbox_key, event_id)
            pipe.delete(key("failure", event_id))
            pipe.execute()
            handled += 1

    def _fail(self, chat_id, event_id, score, payload, failure, exc) -> None:
        """Park a failed event for its next attempt, or make it a dead letter.

        The record keeps the attempts, the first and last failure times and
        the exception's class name — never its message, which may quote what
        the user wrote.
        """
        now = self.clock()
        attempts = int(failure.get("attempts", 0)) + 1
        record = {
            "chat_id": chat_id,
            "score": int(score),
            "attempts": attempts,
            "first_failed": float(failure.get("first_failed", now)),
            "last_failed": now,
            "error": type(exc).__name__,
        }
        # The traceback may quote the user's words: only at DEBUG.
        log.debug("inbox: event %s failed", event_id, exc_info=exc)
        delays = get_setting(self.redis, RETRY_SETTING)
        # An admin's retry of a dead letter gets one attempt (`last_chance`).
        if failure.get("last_chance") or attempts > len(delays):
            log.error(
                "inbox: event %s of %s failed %d times (%s); dead-lettered",
                event_id,
                chat_id,
                attempts,
                record["error"],
            )
            self.deadletters.add(event_id, record, payload)
            return
        delay = delays[attempts - 1]
        log.warning(
            "inbox: event %s of %s failed (%s), attempt %d; retry in %s s",
            event_id,
            chat_id,
            record["error"],
            attempts,
            delay,
        )
        pipe = self.redis.pipeline()
        pipe.zrem(key("inbox", chat_id), event_id)
        pipe.hset(key("failure", event_id), mapping=record)
        pipe.expire(key("failure", event_id), DEDUPE_TTL)
        # The payload must outlive the wait, however old the event already is.
        pipe.expire(key("event", event_id), DEDUPE_TTL)
        pipe.zadd(key("retry"), {event_id: now + delay})
        pipe.execute()

    def refile_due(self) -> list[str]:
        """File parked events that are due back into their inboxes.

        Each goes back at its LINE timestamp, ahead of its chat's events still
        waiting. Returns the chats that got one (the caller starts drains).
        An event whose failure record had gone is filed by its own payload;
        one with no payload either is beyond saving, and logged as lost.
        """
        chats, lost = self._refile(args=[PREFIX, self.clock(), REFILE_BATCH])
        chats = [c.decode() if isinstance(c, bytes) else c for c in chats]
        for event_id in lost:
            raw = self.redis.get(key("event", event_id))
            if raw is None:
                log.error(
                    "inbox: parked event %s lost its record and payload", event_id
                )
                continue
            event = json.loads(raw)["event"]
            chat_id = chat_id_of(event)
            pipe = self.redis.pipeline()
            pipe.zadd(
                key("inbox", chat_id), {event_id: int(event.get("timestamp") or 0)}
            )
            pipe.sadd(key("inbox"), chat_id)
            pipe.execute()
            log.warning("inbox: parked event %s lost its failure record", event_id)
            if chat_id not in chats:
                chats.append(chat_id)
        return chats

    def parked(self) -> list[str]:
        """Ids of events waiting for a retry, the soonest due first."""
        return self.redis.zrange(key("retry"), 0, -1)

    def sweep(self, enqueue, wake=None, limit: int = 1000) -> list[str]:
        """Start drains for chats with events that nobody is draining.

        Covers a worker that died mid-event and a webhook process that died
        between storing and queueing, and files failed events back into
        their inboxes when their retry is due. Chats waiting in
        `drain:pending` are left to the job that is coming for them; when
        none is (its webhook died, or the job was lost), `wake()` queues one.
        One sweeper runs at a time.
        """
        if not self.redis.set(key("lock", "sweeper"), 1, nx=True, px=900):
            return []
        if not self._adopted:
            self.deadletters.adopt_legacy()
            self._adopted = True
        self.deadletters.trim()
        refiled = self.refile_due()
        if refiled:
            log.info("inbox: %d chats have failed events due for a retry", len(refiled))
        if wake is not None and self.redis.zcard(key("drain", "pending")):
            if self.redis.set(key("drain", "armed"), 1, nx=True, ex=ARMED_TTL):
                log.info("inbox: sweeper queues a drain for chats left waiting")
                wake()
        stranded = []
        for chat_id in self.redis.sscan_iter(key("inbox"), count=500):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(key("lock", "inbox", chat_id))
            pipe.exists(key("kick", chat_id))
            pipe.zscore(key("drain", "pending"), chat_id)
            locked, kicked, waiting = pipe.execute()
            if not locked and not kicked and waiting is None:
                stranded.append(chat_id)
            if len(stranded) >= limit:
                break
        if stranded:
            log.info("inbox: sweeper restarts %d stranded chats", len(stranded))
            self.kick(stranded)
            enqueue(stranded)
        return stranded
