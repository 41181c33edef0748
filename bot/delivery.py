"""The one delivery layer: every message that leaves Tsunagi goes through `send`.

It spends live reply tokens first (free), then does what the caller's policy
says when none is left: `push` (billed, one bundled request per 5 objects,
safe to retry through `X-Line-Retry-Key`), `hold` (kept for the chat's next
event, delivered through its token before anything newer) or `refuse`.
A held answer always goes before anything newer: a push to a chat with held
answers carries them first, in the same bundled requests.
Before a send starts, the budget guard (bot/budget.py) may turn `push` into
`hold`: free-only mode, the quota thresholds and the per-agent daily cap are
enforced here and nowhere else, whatever the caller asked for.

Held answers that should no longer go are dropped, each recorded as
`refused` (ledger and history, under its own send): all of them when the
user blocks the account (`unfollowed`; nothing but a free reply then leaves
for that chat until they follow again), and the bot's own answers held
longer than `bot_answer_hold_minutes`, when the chat's held answers are next
flushed or released (an automatic answer days late would come before the
answer to the user's new question).

Every send has a `send_id`. Its progress is written to Redis before each call
to LINE, so a send that is retried — by a caller or by a worker recovering a
dead one's job — resumes where it stopped: a reply is retried with the very
token it had taken, a push with the very retry key, and nothing goes out twice.
"""

import json
import logging
import random
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from redis.exceptions import LockError

from api.settings import get_setting, integer, register_setting
from bot import ledger as L
from bot.budget import Budget
from bot.history import History
from bot.inbox import shared_keeper
from bot.ledger import UNFOLLOWED, Ledger
from bot.line_api import INVALID_REPLY_TOKEN, MONTHLY_LIMIT, LineError
from bot.tokens import TokenPool
from store import key

log = logging.getLogger(__name__)

MAX_OBJECTS = 5
POLICIES = ("push", "hold", "refuse")
SEND_RECORD_TTL = 24 * 3600
PUSH_ATTEMPTS = 5
BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0
#: A send lock lapses this long after its holder's last renewal (a dead one):
#: the same as a drain lock, so a worker that died mid-send holds its chat up
#: for seconds, not for the better part of a reply token's minute.
SEND_LOCK_TTL = 6
#: How long a send waits for another send to the same chat.
SEND_LOCK_WAIT = 120
#: Chats with held answers, scored by when their oldest was held.
HELD_INDEX = key("held")

register_setting(
    "bot_answer_hold_minutes",
    30,
    integer(0, 7 * 24 * 60),
    "The bot's own answers held longer than this (their token lapsed) are "
    "dropped, and recorded, instead of going out with the user's next "
    "message (0: drop at once). Agents' held answers are never dropped.",
)


class DeliveryError(Exception):
    """A send LINE refused for a reason retrying cannot fix (bad message, auth)."""

    def __init__(self, error: LineError):
        super().__init__(str(error))
        self.error = error


@dataclass
class Part:
    """One request (or hold) that carried some of a send's objects.

    `objects` counts what the request carried: a push that took held answers
    along with the send's own (see `Delivery._push_behind_held`) counts theirs
    too, as its `billable` is the whole request's.
    """

    method: str
    objects: int
    billable: int
    reason: str


@dataclass
class SendResult:
    """What became of a send: `delivery` is the costliest method any part used."""

    send_id: str
    delivery: str
    billable: int = 0
    parts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


_RANK = {L.REPLY: 0, L.HELD: 1, L.PUSH: 2, L.REFUSED: 3}


def chunks(messages: list, size: int = MAX_OBJECTS) -> list[list]:
    """Split `messages` into the fewest requests of at most `size` objects."""
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (1-based), with jitter."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return delay * (0.5 + random.random() / 2)


class Delivery:
    """Sends messages to chats at the lowest cost LINE allows."""

    def __init__(
        self,
        redis,
        line,
        *,
        timezone="Asia/Tokyo",
        retention_days=90,
        clock=time.time,
        sleep=time.sleep,
    ):
        self.redis = redis
        self.line = line
        self.clock = clock
        self.sleep = sleep
        self.tokens = TokenPool(redis, clock)
        self.ledger = Ledger(redis, timezone, clock)
        self.history = History(redis, retention_days, clock)
        self.budget = Budget(redis, self.ledger)
        self.keeper = shared_keeper()

    # -- public --------------------------------------------------------------

    def send(
        self,
        chat_id: str,
        messages: list[dict],
        *,
        policy: str,
        send_id: str | None = None,
        origin: str = "bot",
        actor: str = "",
        reason: str = L.NO_TOKEN,
        approved: bool = False,
    ) -> SendResult:
        """Deliver `messages` to `chat_id`, through reply tokens where possible.

        `reason` is recorded for whatever part cannot go by reply. Calling again
        with the same `send_id` never sends anything twice; it returns the
        first call's result once that call has finished. `approved` is an
        admin's approval to push past the budget guard (never past free-only);
        when the guard holds a push, the held part's reason says why. A push
        to a chat with held answers pushes them first, in the same requests,
        and its `billable` counts every request.
        """
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if not messages:
            raise ValueError("a send needs at least one message object")
        send_id = send_id or uuid.uuid4().hex
        if self.redis.exists(key("held", chat_id)) and not self._load(send_id):
            # Held answers go before anything newer, and this one rides in
            # their reply when it fits; with no token left it is held behind.
            then = {
                "messages": messages,
                "send_id": send_id,
                "origin": origin,
                "actor": actor,
            }
            self.flush_held(chat_id, then=then)
        with self._chat_lock(chat_id):
            record = self._load(send_id)
            if record.get("done"):
                return SendResult(**record["result"])
            record.setdefault("parts", [])
            record.setdefault("sent", 0)
            if "gate" not in record:
                # Decided once: a resumed send keeps its first decision.
                gate = self.budget.gate(
                    policy, origin=origin, actor=actor, approved=approved
                )
                record["gate"] = [gate.policy, gate.reason]
            if record["gate"][1]:
                policy, reason = record["gate"]
            if self.redis.exists(_unfollowed_key(chat_id)):
                # Blocked: a push would be billed for nothing, and a held
                # answer would greet the user when they follow again.
                policy, reason = "refuse", UNFOLLOWED
            self._deliver(
                chat_id, messages, policy, send_id, origin, actor, reason, record
            )
            return self._finish(send_id, record)

    def flush_held(self, chat_id: str, then: dict | None = None) -> int:
        """Deliver held answers, oldest first, through the chat's live tokens.

        Several held answers share one reply when their objects fit in five.
        Returns how many held answers went out; the rest stay held.

        `then` is an answer about to be sent (`messages`, `send_id`, `origin`,
        `actor`): when it fits in the reply that carries the last held
        answers, it rides along, and its send is recorded as done, so the
        caller's `send` with that `send_id` returns at once. Without this the
        user's one token would carry the old answers and the new one would
        be held in turn, one answer behind for good.
        """
        with self._chat_lock(chat_id):
            held_key = key("held", chat_id)
            items = self._drop_held(chat_id)
            if not items:
                return 0
            if then is not None and self._load(then["send_id"]):
                then = None  # already under way as a send of its own
            delivered = 0
            while delivered < len(items):
                bundle, size = [], 0
                for item in items[delivered:]:
                    if bundle and size + len(item["messages"]) > MAX_OBJECTS:
                        break
                    bundle.append(item)
                    size += len(item["messages"])
                last = delivered + len(bundle) == len(items)
                if last and then and size + len(then["messages"]) <= MAX_OBJECTS:
                    # One reply for all: the answer goes whole or not at all.
                    bundle.append(dict(then, rides=True, held_at=self.clock()))
                if not self._flush_bundle(chat_id, bundle, held_key):
                    break
                delivered += len(bundle) - (1 if bundle[-1].get("rides") else 0)
            self._reindex_held(chat_id)
            return delivered

    def release_held(
        self,
        chat_id: str,
        *,
        actor: str = "",
        approved: bool = False,
        reason: str = L.HELD_EXPIRED,
    ) -> SendResult | None:
        """Push every held answer of the chat as one bundle (5 objects a request).

        For answers held too long, or an admin pushing them. The budget guard
        decides as for any push: when it holds, nothing changes and None is
        returned; so does a chat with nothing held. Held answers that must
        not go (see `_drop_held`) are dropped first.
        """
        with self._chat_lock(chat_id):
            items = self._drop_held(chat_id)
        if not items:
            return None
        lead = _lead(items)
        # With no actor of its own (the upkeep), the held answers' author is
        # gated: their daily push cap still applies.
        gate = self.budget.gate(
            "push",
            origin=lead["origin"],
            actor=actor or lead["actor"],
            approved=approved,
        )
        if gate.policy != "push":
            log.info(
                "delivery: held answers of %s stay held (%s)", chat_id, gate.reason
            )
            return None
        with self._chat_lock(chat_id):
            held_key = key("held", chat_id)
            items = self._drop_held(chat_id)
            if not items:
                return None
            send_id = f"release:{items[0]['id']}"
            record = self._load(send_id)
            if record.get("done"):
                # An earlier release ended at LINE's monthly limit before any
                # of this first answer went: this is a new attempt.
                record = {}
            record.setdefault("parts", [])
            record.setdefault("sent", 0)
            lead = _lead(items)
            payer = {
                "send_id": send_id,
                "origin": lead["origin"],
                "actor": actor or lead["actor"],
            }
            # A release retried after a crash resumes after what went out.
            try:
                pushed = self._push_bundle(chat_id, items, payer, record, reason)
            except DeliveryError:
                # What went out is no longer held; the rest stays.
                self._keep_unsent(held_key, items, record["bundled"])
                self._reindex_held(chat_id)
                raise
            self._keep_unsent(held_key, items, pushed)
            self._reindex_held(chat_id)
            left = sum(len(item["messages"]) for item in items) - pushed
            if left:
                # LINE's monthly limit: the rest stays held as it was.
                part = Part(L.HELD, left, 0, L.MONTHLY_LIMIT)
                record["parts"].append(asdict(part))
            return self._finish(send_id, record)

    def unfollowed(self, chat_id: str) -> None:
        """The user blocked the account: drop the chat's held answers.

        Each is recorded as `refused` for `UNFOLLOWED`. Until `followed`,
        any send to the chat that no live token carries is refused (see
        `send`), so nothing is pushed to someone who blocked us (LINE would
        bill the request and deliver nothing) and nothing is held for them.
        """
        with self._chat_lock(chat_id):
            self.redis.set(_unfollowed_key(chat_id), f"{self.clock():.3f}")
            self._drop_held(chat_id)
        log.info("delivery: %s blocked the account", chat_id)

    def followed(self, chat_id: str) -> None:
        """The user follows (again): sends to the chat go as usual."""
        self.redis.delete(_unfollowed_key(chat_id))

    def _drop_held(self, chat_id: str) -> list[dict]:
        """Drop the held answers that must not go; returns the rest, oldest
        first (what `held` would read next, without reading it again).

        All of them when the user blocked the account (`UNFOLLOWED`), else
        the bot's own answers held `bot_answer_hold_minutes` or longer
        (`HELD_EXPIRED`): the user has likely moved on, and an old automatic
        answer would arrive ahead of the answer to what they ask now.
        Agents' answers are never dropped for their age. Each dropped answer
        is recorded as a refused send of its own, as `_refuse` records one.
        The caller holds the chat lock.
        """
        held_key = key("held", chat_id)
        raws = self.redis.lrange(held_key, 0, -1)
        if not raws:
            return []
        if self.redis.exists(_unfollowed_key(chat_id)):
            reason, stale_before = UNFOLLOWED, None
        else:
            reason = L.HELD_EXPIRED
            minutes = get_setting(self.redis, "bot_answer_hold_minutes")
            stale_before = self.clock() - minutes * 60
        pipe = self.redis.pipeline()
        dropped, kept = 0, []
        for raw in raws:
            item = json.loads(raw)
            if stale_before is not None and (
                item["origin"] != "bot" or item["held_at"] > stale_before
            ):
                kept.append(item)
                continue
            pipe.lrem(held_key, 1, raw)
            self._record(
                pipe,
                chat_id,
                item["messages"],
                L.REFUSED,
                reason,
                item["send_id"],
                item["origin"],
                item["actor"],
            )
            dropped += 1
        if dropped:
            pipe.execute()
            self._reindex_held(chat_id)
            log.info(
                "delivery: %d held answers of %s dropped (%s)",
                dropped,
                chat_id,
                reason,
            )
        return kept

    def held_chats(self, older_than: float) -> list[str]:
        """Chats whose oldest held answer was held before `older_than`."""
        return self.redis.zrangebyscore(HELD_INDEX, "-inf", older_than)

    def _reindex_held(self, chat_id: str) -> None:
        """Keep the chat's place in `HELD_INDEX` true to its held list."""
        first = self.redis.lindex(key("held", chat_id), 0)
        if first is None:
            self.redis.zrem(HELD_INDEX, chat_id)
        else:
            self.redis.zadd(HELD_INDEX, {chat_id: json.loads(first)["held_at"]})

    def held(self, chat_id: str) -> list[dict]:
        """The chat's held answers, oldest first."""
        return [
            json.loads(raw) for raw in self.redis.lrange(key("held", chat_id), 0, -1)
        ]

    # -- the steps of a send -------------------------------------------------

    def _deliver(
        self, chat_id, messages, policy, send_id, origin, actor, reason, record
    ):
        pending = record.get("pending")
        if pending:
            self._resume_reply(chat_id, messages, send_id, origin, actor, record)
        # A push with held answers under way carries the rest: no token now.
        while record["sent"] < len(messages) and "bundle" not in record:
            taken = self.tokens.take(chat_id)
            if taken is None:
                break
            chunk = messages[record["sent"] : record["sent"] + MAX_OBJECTS]
            record["pending"] = {
                "token": taken[0],
                "deadline": taken[1],
                "size": len(chunk),
                "attempts": 0,
            }
            self._save(send_id, record)
            self._try_reply(chat_id, chunk, send_id, origin, actor, record)
        rest = messages[record["sent"] :]
        if not rest:
            return
        if policy == "push" or "bundle" in record:
            self._push_behind_held(
                chat_id, rest, send_id, origin, actor, reason, record
            )
        elif policy == "hold":
            self._hold(chat_id, rest, send_id, origin, actor, reason, record)
        else:
            self._refuse(chat_id, rest, send_id, origin, actor, reason, record)

    def _try_reply(self, chat_id, chunk, send_id, origin, actor, record):
        """Reply with the pending token, retrying what LINE says is passing."""
        pending = record["pending"]
        while True:
            pending["attempts"] += 1
            self._save(send_id, record)
            try:
                headers = self.line.reply(pending["token"], chunk)
            except LineError as err:
                if err.kind == INVALID_REPLY_TOKEN:
                    if pending["attempts"] > 1:
                        # An earlier attempt may have gone through unseen.
                        self._sent(
                            chat_id,
                            chunk,
                            L.REPLY,
                            L.UNCERTAIN,
                            send_id,
                            origin,
                            actor,
                            record,
                        )
                        return
                    log.info(
                        "delivery: chat %s token refused, trying the next", chat_id
                    )
                    record["pending"] = None
                    self._save(send_id, record)
                    return
                if err.retryable and self.clock() + 0.5 < pending["deadline"]:
                    self.sleep(backoff(pending["attempts"]))
                    continue
                if err.retryable:
                    # The token lapsed while LINE was failing; the rest falls
                    # to the policy.
                    record["pending"] = None
                    self._save(send_id, record)
                    return
                # LINE refused the request itself: the token was not spent.
                self.tokens.give_back(chat_id, pending["token"], pending["deadline"])
                record["pending"] = None
                self._save(send_id, record)
                raise DeliveryError(err) from None
            self._sent(
                chat_id,
                chunk,
                L.REPLY,
                L.TOKEN_LIVE,
                send_id,
                origin,
                actor,
                record,
                headers.get("x-line-request-id", ""),
            )
            return

    def _resume_reply(self, chat_id, messages, send_id, origin, actor, record):
        """Finish a reply an earlier, interrupted attempt had started."""
        chunk = messages[record["sent"] : record["sent"] + record["pending"]["size"]]
        if self.clock() >= record["pending"]["deadline"]:
            # Too late to learn whether it went out; count it as sent rather
            # than send the answer twice.
            self._sent(
                chat_id, chunk, L.REPLY, L.UNCERTAIN, send_id, origin, actor, record
            )
            return
        # Mark that an attempt may already have reached LINE.
        record["pending"]["attempts"] = max(record["pending"]["attempts"], 1)
        self._try_reply(chat_id, chunk, send_id, origin, actor, record)

    def _push(self, chat_id, rest, send_id, origin, actor, reason, record):
        keys = record.setdefault("retry_keys", {})
        offset = 0
        while offset < len(rest):
            chunk = rest[offset : offset + MAX_OBJECTS]
            headers = self._push_keyed(
                chat_id, chunk, send_id, record, keys, str(record["sent"])
            )
            if headers is None:
                self._hold(
                    chat_id,
                    rest[offset:],
                    send_id,
                    origin,
                    actor,
                    L.MONTHLY_LIMIT,
                    record,
                )
                return
            self._sent(
                chat_id,
                chunk,
                L.PUSH,
                reason,
                send_id,
                origin,
                actor,
                record,
                headers.get("x-line-request-id", ""),
            )
            offset += len(chunk)

    def _push_behind_held(self, chat_id, rest, send_id, origin, actor, reason, record):
        """Push `rest` after the chat's held answers, in the same pushes.

        A held answer goes before anything newer. With no token left the
        flush in `send` delivers nothing, so a push of the new answer alone
        would overtake the held ones; instead they go first in one bundle,
        oldest first, five objects a push (LINE bills per request, not per
        object). This send passed the budget guard as a push (free-only
        and the guard decided its policy), so it pays: every push of the
        bundle is billed to it (ledger entry, the agent's daily count,
        `SendResult.billable`), while the history shows each answer under
        its own send and author.

        The bundle is kept in the send's record before anything goes, so a
        resumed send pushes the same objects with the same retry keys.
        """
        bundle = record.get("bundle")
        if bundle is None:
            held = self._drop_held(chat_id)
            if not held:
                self._push(chat_id, rest, send_id, origin, actor, reason, record)
                return
            rider = {
                "send_id": send_id,
                "messages": rest,
                "origin": origin,
                "actor": actor,
            }
            bundle = record["bundle"] = [*held, rider]
            self._save(send_id, record)
        payer = {"send_id": send_id, "origin": origin, "actor": actor}
        try:
            self._push_bundle(chat_id, bundle, payer, record, reason)
        except DeliveryError:
            # What went out is settled; the rest stays held, and the send
            # fails as a push LINE refuses does.
            self._end_bundle(chat_id, send_id, record)
            raise
        own = self._end_bundle(chat_id, send_id, record)
        rider = bundle[-1]["messages"]
        if own < len(rider):
            # LINE's monthly limit: the rest waits behind what is still held.
            self._hold(
                chat_id, rider[own:], send_id, origin, actor, L.MONTHLY_LIMIT, record
            )

    def _end_bundle(self, chat_id, send_id, record) -> int:
        """Settle a send's push with held answers; returns its own objects sent.

        The held answers that went out leave the held list in one write with
        the send's progress, so a resumed send neither pushes nor removes
        them twice. Under the chat lock the list starts with the bundle's
        held answers; a send resumed after a crash may find it changed (the
        lock lapsed and another send or flush took some), and then removes
        only the answers it pushed whole, by id, never someone else's.
        """
        bundle = record.pop("bundle")
        pushed = record.pop("bundled", 0)
        record.pop("bundle_keys", None)
        held = bundle[:-1]
        held_objects = sum(len(item["messages"]) for item in held)
        own = max(0, pushed - held_objects)
        record["sent"] += own
        held_key = key("held", chat_id)
        raw_items = self.redis.lrange(held_key, 0, -1)
        pipe = self.redis.pipeline()
        ids = [json.loads(raw)["id"] for raw in raw_items]
        if ids[: len(held)] == [item["id"] for item in held]:
            self._keep_unsent(held_key, held, min(pushed, held_objects), pipe=pipe)
        else:
            gone, objects = set(), 0
            for item in held:
                objects += len(item["messages"])
                if objects <= pushed:
                    gone.add(item["id"])
            for raw, item_id in zip(raw_items, ids, strict=True):
                if item_id in gone:
                    pipe.lrem(held_key, 1, raw)
        pipe.set(key("send", send_id), json.dumps(record), ex=SEND_RECORD_TTL)
        pipe.execute()
        self._reindex_held(chat_id)
        return own

    def _push_bundle(self, chat_id, bundle, payer, record, reason) -> int:
        """Push `bundle`'s answers, oldest first, in the fewest pushes of five.

        Shared by `release_held` and a push behind held answers. `payer`
        (`send_id`, `origin`, `actor`) is the send the pushes are billed to;
        its `record` keeps the progress (`bundled` objects, one retry key a
        push), so a retry resumes after what went out and never pushes an
        object twice. Each push is recorded by `_record_bundle`. Returns how
        many objects went out: all of them, unless LINE answered that the
        monthly limit is reached. Any other refusal raises DeliveryError.
        """
        send_id = payer["send_id"]
        messages = [m for item in bundle for m in item["messages"]]
        owners = [item for item in bundle for _ in item["messages"]]
        keys = record.setdefault("bundle_keys", {})
        done = record.setdefault("bundled", 0)
        while done < len(messages):
            chunk = messages[done : done + MAX_OBJECTS]
            headers = self._push_keyed(chat_id, chunk, send_id, record, keys, str(done))
            if headers is None:
                return done
            pipe = self.redis.pipeline()
            billable = self._record_bundle(
                pipe,
                chat_id,
                chunk,
                owners[done : done + len(chunk)],
                L.PUSH,
                reason,
                headers.get("x-line-request-id", ""),
                payer=payer,
            )
            done += len(chunk)
            record["bundled"] = done
            record["parts"].append(asdict(Part(L.PUSH, len(chunk), billable, reason)))
            pipe.set(key("send", send_id), json.dumps(record), ex=SEND_RECORD_TTL)
            pipe.execute()
        return done

    def _push_keyed(self, chat_id, chunk, send_id, record, keys, index):
        """Push one request under the retry key `keys[index]`; LINE's headers.

        The retry key is made and saved with the send's record before the
        first attempt and reused on every retry, including a retry by a
        recovering worker, so LINE delivers the request once. Returns None
        when LINE's monthly limit is reached (the caller holds what is left);
        any other refusal raises DeliveryError.
        """
        if index not in keys:
            keys[index] = str(uuid.uuid4())
            self._save(send_id, record)
        try:
            return self._push_with_retries(chat_id, chunk, keys[index])
        except LineError as err:
            if err.kind != MONTHLY_LIMIT:
                raise DeliveryError(err) from None
            log.warning("delivery: monthly limit reached; chat %s held", chat_id)
            return None

    def _push_with_retries(self, chat_id, chunk, retry_key):
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                return self.line.push(chat_id, chunk, retry_key)
            except LineError as err:
                if not err.retryable or attempt == PUSH_ATTEMPTS:
                    raise
                log.info(
                    "delivery: push to %s failed (%s), retry %d",
                    chat_id,
                    err.kind,
                    attempt,
                )
                self.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    def _hold(self, chat_id, rest, send_id, origin, actor, reason, record):
        item = {
            "id": uuid.uuid4().hex,
            "send_id": send_id,
            "messages": rest,
            "held_at": self.clock(),
            "origin": origin,
            "actor": actor,
            "reason": reason,
        }
        pipe = self.redis.pipeline()
        pipe.rpush(key("held", chat_id), json.dumps(item, ensure_ascii=False))
        pipe.zadd(HELD_INDEX, {chat_id: item["held_at"]}, nx=True)
        self._record(pipe, chat_id, rest, L.HELD, reason, send_id, origin, actor)
        # With the hold itself, so a resumed send does not hold it again.
        self._progress(record, L.HELD, len(rest), 0, reason)
        pipe.set(key("send", send_id), json.dumps(record), ex=SEND_RECORD_TTL)
        pipe.execute()

    def _refuse(self, chat_id, rest, send_id, origin, actor, reason, record):
        pipe = self.redis.pipeline()
        self._record(pipe, chat_id, rest, L.REFUSED, reason, send_id, origin, actor)
        self._progress(record, L.REFUSED, len(rest), 0, reason)
        pipe.set(key("send", send_id), json.dumps(record), ex=SEND_RECORD_TTL)
        pipe.execute()
        log.info(
            "delivery: chat %s, %d objects not sent (%s)", chat_id, len(rest), reason
        )

    def _flush_bundle(self, chat_id, bundle, held_key) -> bool:
        messages = [m for item in bundle for m in item["messages"]]
        owners = [item for item in bundle for _ in item["messages"]]
        sent = 0
        for chunk_messages in chunks(messages):
            taken, attempts = None, 0
            method, reason, headers = L.REPLY, L.HELD_DELIVERED, {}
            while True:
                if taken is None:
                    taken, attempts = self.tokens.take(chat_id), 0
                if taken is None:
                    self._keep_unsent(held_key, bundle, sent)
                    return False
                attempts += 1
                try:
                    headers = self.line.reply(taken[0], chunk_messages)
                except LineError as err:
                    if err.kind == INVALID_REPLY_TOKEN:
                        if attempts > 1:
                            # An earlier attempt may have gone through unseen:
                            # count it sent rather than deliver it twice.
                            reason = L.UNCERTAIN
                            break
                        taken = None
                        continue
                    if err.retryable and self.clock() + 0.5 < taken[1]:
                        # The same token again: a timed-out attempt may
                        # have spent it, and another token would send twice.
                        self.sleep(backoff(attempts))
                        continue
                    if err.retryable:
                        self._keep_unsent(held_key, bundle, sent)
                        return False
                    # LINE will never take these: drop them (recorded), so
                    # that they do not fail every later event of the chat.
                    # The token was not spent on them.
                    log.warning(
                        "delivery: LINE refused held answers of %s (%s); dropped",
                        chat_id,
                        err.kind,
                    )
                    self.tokens.give_back(chat_id, *taken)
                    method, reason = L.REFUSED, L.REJECTED
                break
            pipe = self.redis.pipeline()
            self._record_bundle(
                pipe,
                chat_id,
                chunk_messages,
                owners[sent : sent + len(chunk_messages)],
                method,
                reason,
                headers.get("x-line-request-id", ""),
            )
            rider = bundle[-1] if bundle[-1].get("rides") else None
            if rider is not None:
                # Never held, so its reason is the reply's own, not "held".
                part = Part(method, len(rider["messages"]), 0, L.TOKEN_LIVE)
                if method == L.REFUSED:
                    part.reason = L.REJECTED
                result = SendResult(rider["send_id"], method, 0, [asdict(part)])
                done = {
                    "sent": len(rider["messages"]),
                    "parts": result.parts,
                    "done": True,
                    "result": result.to_dict(),
                }
                pipe.set(
                    key("send", rider["send_id"]), json.dumps(done), ex=SEND_RECORD_TTL
                )
            pipe.execute()
            sent += len(chunk_messages)
        held = len(bundle) - (1 if bundle[-1].get("rides") else 0)
        self.redis.ltrim(held_key, held, -1)
        return True

    def _record_bundle(
        self, pipe, chat_id, messages, owners, method, reason, request_id, payer=None
    ) -> int:
        """Record one request that carried several answers; returns its billable.

        The ledger gets one entry, as LINE got one request: under `payer`
        (`send_id`, `origin`, `actor`), the send a push is billed to, else
        under the first answer's send (a reply or refusal costs nothing).
        A billed push counts against the payer's daily push cap when an
        agent pays. The history gets each answer under its own send and
        author, so the panel shows who wrote what and each answer's held
        row is matched by the row that delivered it (handoff/api.py).
        """
        payer = payer or owners[0]
        billable = self.ledger.record(
            pipe,
            chat_id=chat_id,
            method=method,
            messages=messages,
            reason=reason,
            send_id=payer["send_id"],
            origin=payer["origin"],
            actor=payer["actor"],
            request_id=request_id,
        )
        if billable and payer["origin"] == "agent":
            self.budget.count_push(pipe, payer["actor"])
        if method in (L.REPLY, L.PUSH):
            pipe.delete(key("loading", chat_id))
        start = 0
        while start < len(messages):
            owner = owners[start]
            end = start
            while end < len(messages) and owners[end] is owner:
                end += 1
            self.history.record_sent(
                pipe,
                chat_id,
                messages[start:end],
                delivery=method,
                # LINE bills the request once: charged to its first object.
                billable=billable if start == 0 else 0,
                origin=owner["origin"],
                actor=owner["actor"],
                send_id=owner["send_id"],
            )
            start = end
        return billable

    def _keep_unsent(self, held_key, bundle, sent, pipe=None) -> None:
        """After `sent` of the bundle's objects went out, keep only the rest held.

        A held answer longer than one reply may go out in part; the part that
        went must not go again with the next token. With `pipe`, the change
        joins it (the caller executes it) instead of being written at once.
        """
        if not sent:
            return
        done = 0
        for item in bundle:
            if sent < len(item["messages"]):
                break
            sent -= len(item["messages"])
            done += 1
        own_pipe = pipe is None
        pipe = self.redis.pipeline() if own_pipe else pipe
        if sent:
            # A new id: a release of the rest is a new send (see release_held).
            rest = dict(
                bundle[done],
                id=uuid.uuid4().hex,
                messages=bundle[done]["messages"][sent:],
            )
            pipe.lset(held_key, done, json.dumps(rest, ensure_ascii=False))
        pipe.ltrim(held_key, done, -1)
        if own_pipe:
            pipe.execute()

    # -- bookkeeping -----------------------------------------------------------

    def _sent(
        self,
        chat_id,
        chunk,
        method,
        reason,
        send_id,
        origin,
        actor,
        record,
        request_id="",
    ):
        pipe = self.redis.pipeline()
        billable = self._record(
            pipe, chat_id, chunk, method, reason, send_id, origin, actor, request_id
        )
        record["pending"] = None
        self._progress(record, method, len(chunk), billable, reason)
        pipe.set(key("send", send_id), json.dumps(record), ex=SEND_RECORD_TTL)
        pipe.execute()

    def _record(
        self,
        pipe,
        chat_id,
        messages,
        method,
        reason,
        send_id,
        origin,
        actor,
        request_id="",
    ):
        billable = self.ledger.record(
            pipe,
            chat_id=chat_id,
            method=method,
            messages=messages,
            reason=reason,
            send_id=send_id,
            origin=origin,
            actor=actor,
            request_id=request_id,
        )
        if billable and origin == "agent":
            self.budget.count_push(pipe, actor)
        if method in (L.REPLY, L.PUSH):
            # A message ends LINE's loading animation (handoff/typing.py).
            pipe.delete(key("loading", chat_id))
        self.history.record_sent(
            pipe,
            chat_id,
            messages,
            delivery=method,
            billable=billable,
            origin=origin,
            actor=actor,
            send_id=send_id,
        )
        return billable

    @staticmethod
    def _progress(record, method, objects, billable, reason):
        record["sent"] += objects
        record["parts"].append(asdict(Part(method, objects, billable, reason)))

    def _finish(self, send_id, record) -> SendResult:
        parts = record["parts"]
        delivery = max((p["method"] for p in parts), key=_RANK.__getitem__)
        result = SendResult(send_id, delivery, sum(p["billable"] for p in parts), parts)
        record["done"] = True
        record["result"] = result.to_dict()
        self._save(send_id, record)
        return result

    def _load(self, send_id) -> dict:
        raw = self.redis.get(key("send", send_id))
        return json.loads(raw) if raw else {}

    def _save(self, send_id, record) -> None:
        self.redis.set(key("send", send_id), json.dumps(record), ex=SEND_RECORD_TTL)

    @contextmanager
    def _chat_lock(self, chat_id):
        """Serialize sends to one chat, so bubbles arrive in the order sent.

        The lock is renewed while held (bot/inbox.py's `LockKeeper`), so a
        LINE call slower than `SEND_LOCK_TTL` cannot let a second send in;
        the timeout only frees a chat whose holder died. A waiter gives up
        (LockError) after `SEND_LOCK_WAIT`.
        """
        lock = self.redis.lock(
            key("lock", "send", chat_id),
            timeout=SEND_LOCK_TTL,
            blocking_timeout=SEND_LOCK_WAIT,
            thread_local=False,
        )
        if not lock.acquire():
            raise LockError(f"the send lock of {chat_id} is busy")
        self.keeper.hold(lock)
        try:
            yield lock
        finally:
            self.keeper.drop(lock)
            try:
                lock.release()
            except LockError:
                log.warning("delivery: send lock of %s lapsed while held", chat_id)


def _unfollowed_key(chat_id: str) -> str:
    """The mark of a chat whose user blocked the account (until they follow)."""
    return key("unfollowed", chat_id)


def _lead(items: list[dict]) -> dict:
    """The held answer a release of `items` is gated and billed as.

    The first agent's, else the first: one push carries them all, and it must
    count against an agent's daily push cap even when a bot answer was held
    before theirs.
    """
    return next((item for item in items if item["origin"] == "agent"), items[0])


__all__ = ["Delivery", "DeliveryError", "SendResult", "POLICIES"]
