"""The simulated LINE platform's memory: users, chats, reply tokens, quota.

Everything lives in this process, behind one lock, because the simulator is a
development and test tool: one simulator per process, gone on restart. The
rules that cost money are kept as strictly as LINE keeps them, since the desk
is only as thrifty as the platform it was tested against is strict.
"""

import logging
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ulid import ULID

from simulator.faults import Faults

log = logging.getLogger(__name__)

#: Monthly message allowance of LINE's plans in Japan (messages per month).
PLANS = {"communication": 200, "light": 5000, "standard": 30000}
#: A plan name with no monthly limit (`GET quota` says `type: none`).
UNLIMITED = "unlimited"
#: LINE honours a redelivered event's token at most this long after the event.
REDELIVERY_LIMIT = 20 * 60
#: How long LINE remembers an accepted `X-Line-Retry-Key`.
RETRY_KEY_TTL = 24 * 3600
#: Multicast takes at most this many user ids.
MULTICAST_MAX = 500
#: Dead reply tokens are swept each time this many more have been issued.
TOKEN_SWEEP_EVERY = 500
#: How many webhook deliveries the log keeps.
WEBHOOK_LOG_SIZE = 500
#: Largest image a phone may send (LINE itself takes much larger ones).
MAX_IMAGE_BYTES = 10 * 1024 * 1024

USER_ID = re.compile(r"^U[0-9a-f]{32}$")
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

INVALID_REPLY_TOKEN = "Invalid reply token"
MONTHLY_LIMIT = "You have reached your monthly limit."
RETRY_KEY_ACCEPTED = "The retry key is already accepted"


class LineRefusal(Exception):
    """A call the simulated platform refuses, with LINE's status and body."""

    def __init__(self, status, message, *, details=None, headers=None, extra=None):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict:
        body = {"message": self.message}
        if self.details:
            body["details"] = self.details
        return body | self.extra


@dataclass
class Settings:
    """What a simulated channel is configured with.

    `plan` is a name from `PLANS`, `UNLIMITED`, or a number of messages.
    """

    channel_secret: str
    access_token: str
    webhook_url: str = ""
    reply_token_ttl: float = 60.0
    plan: str | int = "communication"
    bot_user_id: str = field(default_factory=lambda: "U" + secrets.token_hex(16))
    bot_name: str = "Tsunagi"
    redelivery: bool = True
    redelivery_delays: tuple = (1.0, 2.0, 4.0, 8.0)
    webhook_timeout: float = 5.0
    timezone: str = "Asia/Tokyo"


def plan_limit(plan) -> int | None:
    """The monthly limit of `plan`; None when it has none.

    Raises ValueError naming the plan when it is neither known nor a count.
    """
    if isinstance(plan, str) and plan.lower() in PLANS:
        return PLANS[plan.lower()]
    if isinstance(plan, str) and plan.lower() == UNLIMITED:
        return None
    if isinstance(plan, bool):
        raise ValueError(f"plan must be a plan name or a number, got {plan!r}")
    try:
        limit = int(plan)
    except (TypeError, ValueError):
        names = ", ".join([*PLANS, UNLIMITED])
        raise ValueError(
            f"plan must be one of {names} or a number, got {plan!r}"
        ) from None
    if limit < 0 or str(limit) != str(plan).strip():
        raise ValueError(f"plan must be a whole number of at least 0, got {plan!r}")
    return limit


def request_id() -> str:
    """An `x-line-request-id` in LINE's shape (a UUID)."""
    return str(uuid.uuid4())


def message_id() -> str:
    """A message id in LINE's shape (a long decimal number)."""
    return str(secrets.randbits(62) + 10**17)


class Simulator:
    """One simulated LINE channel: its users, their chats and its bill.

    Thread-safe: every public method takes the lock. `changed` is notified
    whenever a chat gets something new, so readers can long-poll.
    """

    def __init__(self, settings: Settings, *, clock=time.time):
        plan_limit(settings.plan)
        self.settings = settings
        self.clock = clock
        self.changed = threading.Condition(threading.RLock())
        self.webhooks = None  # a WebhookSender, attached by `simulator.init_app`
        self.faults = Faults()
        self._clear()

    def _clear(self):
        self.users = {}
        self.chats = {}
        self.tokens = {}
        self.retry_keys = {}
        self.usage = Counter()
        self.calls = Counter()
        self.refused = Counter()
        self.contents = {}
        self.read_tokens = {}
        self.loading = {}
        self.webhook_log = deque(maxlen=WEBHOOK_LOG_SIZE)
        self.seq = 0

    def reset(self) -> None:
        """Forget every user, message, token and count (the settings stay)."""
        with self.changed:
            self._clear()
            self.faults.clear()
            self.changed.notify_all()

    # -- time and quota ----------------------------------------------------

    def month(self) -> str:
        """This month as LINE counts it (`YYYY-MM` in the channel's time zone)."""
        zone = ZoneInfo(self.settings.timezone)
        return datetime.fromtimestamp(self.clock(), zone).strftime("%Y-%m")

    @property
    def limit(self) -> int | None:
        return plan_limit(self.settings.plan)

    def total_usage(self) -> int:
        with self.changed:
            return self.usage[self.month()]

    def set_plan(self, plan) -> None:
        """Change the plan at once (LINE applies an upgrade the same month)."""
        limit = plan_limit(plan)
        if isinstance(plan, str) and plan.lower() in (*PLANS, UNLIMITED):
            plan = plan.lower()
        else:
            plan = limit
        with self.changed:
            self.settings.plan = plan
            self.changed.notify_all()

    def _charge(self, recipients: int) -> None:
        """Count `recipients` against this month; 429 when it would pass the limit."""
        limit = self.limit
        month = self.month()
        if limit is not None and self.usage[month] + recipients > limit:
            raise LineRefusal(429, MONTHLY_LIMIT)
        self.usage[month] += recipients

    def stats(self) -> dict:
        """The month's bill and the API's traffic, for the phone page and tests."""
        with self.changed:
            limit = self.limit
            plan = self.settings.plan
            return {
                "plan": plan if isinstance(plan, str) else "custom",
                "limit": limit,
                "month": self.month(),
                "totalUsage": self.usage[self.month()],
                "replies": self.calls["reply"],
                "pushes": self.calls["push"],
                "multicasts": self.calls["multicast"],
                "refused": sum(self.refused.values()),
                "refusedBy": dict(self.refused),
                "users": len(self.users),
                "webhooks": len(self.webhook_log),
            }

    def note_refusal(self, path: str, status: int) -> None:
        with self.changed:
            self.refused[f"{status} {path}"] += 1

    # -- users -------------------------------------------------------------

    def create_user(
        self,
        display_name: str,
        *,
        user_id: str | None = None,
        picture_url: str = "",
        avatar: str = "",
        language: str = "ja",
        status_message: str = "",
    ) -> dict:
        """Add a user (not yet a friend: following starts with a follow event)."""
        user_id = user_id or "U" + secrets.token_hex(16)
        if not USER_ID.match(user_id):
            raise ValueError(f"userId must be U and 32 hex digits, got {user_id!r}")
        with self.changed:
            if user_id in self.users:
                raise ValueError(f"user {user_id} already exists")
            user = {
                "userId": user_id,
                "displayName": display_name,
                "pictureUrl": picture_url,
                "avatar": avatar,
                "language": language,
                "statusMessage": status_message,
                "following": False,
                "createdAt": int(self.clock() * 1000),
            }
            self.users[user_id] = user
            self.chats[user_id] = []
            self._bump()
            return dict(user)

    def user(self, user_id: str) -> dict | None:
        with self.changed:
            user = self.users.get(user_id)
            return dict(user) if user else None

    def list_users(self) -> list[dict]:
        with self.changed:
            return [dict(u) for u in self.users.values()]

    def set_following(self, user_id: str, following: bool) -> None:
        with self.changed:
            self.users[user_id]["following"] = following
            self._bump()

    # -- what users do (turned into webhook events by `simulator.events`) ----

    def issue_token(self, user_id: str, event_time: float, event_id: str) -> str:
        """A fresh reply token for an event `user_id` caused at `event_time`."""
        token = secrets.token_hex(16)
        with self.changed:
            if len(self.tokens) % TOKEN_SWEEP_EVERY == 0:
                self._forget_dead_tokens()
            self.tokens[token] = self._token_entry(user_id, event_time, event_id)
        return token

    def _token_entry(self, user_id: str, event_time: float, event_id) -> dict:
        """A token's record: unused, usable for the TTL from now."""
        return {
            "userId": user_id,
            "issuedAt": self.clock(),
            "eventTime": event_time,
            "deadline": self.clock() + self.settings.reply_token_ttl,
            "used": False,
            "webhookEventId": event_id,
        }

    def _forget_dead_tokens(self) -> None:
        """Drop tokens no redelivery can revive, so a long session stays small."""
        horizon = self.clock() - REDELIVERY_LIMIT - self.settings.reply_token_ttl
        for token in [t for t, e in self.tokens.items() if e["eventTime"] < horizon]:
            del self.tokens[token]

    def adopt_token(self, token: str, user_id: str, event_time: float, event_id):
        """Honour a token an injected event carries, as if LINE had issued it."""
        with self.changed:
            if token not in self.tokens:
                self.tokens[token] = self._token_entry(user_id, event_time, event_id)

    def renew_token(self, token: str) -> None:
        """LINE's redelivery rule: a minute from now, never past 20 min after the event.

        A used token stays used.
        """
        with self.changed:
            entry = self.tokens.get(token)
            if entry is None or entry["used"]:
                return
            entry["deadline"] = min(
                self.clock() + self.settings.reply_token_ttl,
                entry["eventTime"] + REDELIVERY_LIMIT,
            )

    def token(self, token: str) -> dict | None:
        with self.changed:
            entry = self.tokens.get(token)
            return dict(entry) if entry else None

    def store_content(self, data: bytes, content_type: str) -> str:
        """Keep the bytes of a message a user sent; returns its message id."""
        if len(data) > MAX_IMAGE_BYTES:
            raise ValueError(f"an image may be at most {MAX_IMAGE_BYTES} bytes")
        mid = message_id()
        with self.changed:
            self.contents[mid] = (data, content_type)
        return mid

    def content(self, mid: str):
        with self.changed:
            return self.contents.get(mid)

    def forget_content(self, mid: str) -> bool:
        """Drop a message's bytes, as LINE does once its keeping period ends
        (a later download is LINE's 404); False when there were none."""
        with self.changed:
            return self.contents.pop(mid, None) is not None

    def read_token_for(self, user_id: str) -> str:
        """A `markAsReadToken` that marks `user_id`'s messages read up to now."""
        token = secrets.token_urlsafe(18)
        with self.changed:
            self.read_tokens[token] = user_id
        return token

    def record_user_entry(self, user_id: str, entry: dict) -> dict:
        """Add what the user did (message, sticker, postback, follow…) to the chat."""
        with self.changed:
            entry = {"from": "user", "seq": self._bump(), "read": False, **entry}
            entry.setdefault("time", int(self.clock() * 1000))
            self.chats.setdefault(user_id, []).append(entry)
            self.loading.pop(user_id, None)
            return entry

    # -- the Messaging API -------------------------------------------------

    def reply(self, reply_token: str, messages: list[dict]) -> list[dict]:
        """Deliver through `reply_token`: free, once, within its lifetime."""
        with self.changed:
            entry = self.tokens.get(reply_token)
            if entry is None or entry["used"] or self.clock() > entry["deadline"]:
                raise LineRefusal(400, INVALID_REPLY_TOKEN)
            entry["used"] = True
            self.calls["reply"] += 1
            user_id = entry["userId"]
            delivered = self.users.get(user_id, {}).get("following", False)
            return self._deliver(user_id, messages, "reply", 0, delivered)

    def push(self, to: str, messages: list[dict], retry_key: str | None) -> dict:
        """Push to one user: billed once per recipient, at most once per retry key."""
        with self.changed:
            accepted = self._accepted(retry_key)
            if accepted:
                raise accepted
            user = self.users.get(to)
            if user is None:
                raise LineRefusal(400, "Failed to send messages")
            delivered = user["following"]
            if delivered:
                self._charge(1)
            self.calls["push"] += 1
            sent = self._deliver(to, messages, "push", int(delivered), delivered)
            return self._accept(retry_key, {"sentMessages": sent})

    def multicast(self, to: list[str], messages: list[dict], retry_key) -> dict:
        """Push to many users: each friend among them counts once."""
        with self.changed:
            accepted = self._accepted(retry_key)
            if accepted:
                raise accepted
            friends = [
                uid
                for uid in dict.fromkeys(to)
                if self.users.get(uid, {}).get("following")
            ]
            self._charge(len(friends))
            self.calls["multicast"] += 1
            for uid in friends:
                self._deliver(uid, messages, "multicast", 1, True)
            return self._accept(retry_key, {})

    def show_loading(self, chat_id: str, seconds: int) -> None:
        with self.changed:
            if chat_id not in self.users:
                raise LineRefusal(400, "The chatId is invalid")
            self.loading[chat_id] = self.clock() + seconds
            self._bump()

    def mark_read(self, user_id: str) -> None:
        """Mark every message `user_id` sent so far as read."""
        with self.changed:
            for entry in self.chats.get(user_id, []):
                if entry["from"] == "user":
                    entry["read"] = True
            self._bump()

    def mark_read_by_token(self, token: str) -> None:
        with self.changed:
            user_id = self.read_tokens.pop(token, None)
            if user_id is None:
                raise LineRefusal(400, "The markAsReadToken is invalid")
            self.mark_read(user_id)

    def bot_info(self) -> dict:
        return {
            "userId": self.settings.bot_user_id,
            "basicId": "@" + self.settings.bot_user_id[1:9],
            "displayName": self.settings.bot_name,
            "chatMode": "chat",
            "markAsReadMode": "manual",
        }

    # -- reading chats -----------------------------------------------------

    def received(self, user_id: str) -> list[dict]:
        """What the bot sent to `user_id`, oldest first."""
        with self.changed:
            return [dict(e) for e in self.chats.get(user_id, []) if e["from"] == "bot"]

    def chat(self, user_id: str, after: int = 0) -> list[dict]:
        """Everything in `user_id`'s chat with a sequence number above `after`."""
        with self.changed:
            return [dict(e) for e in self.chats.get(user_id, []) if e["seq"] > after]

    def read_up_to(self, user_id: str) -> int:
        """The sequence number of the user's last message marked read (0: none)."""
        with self.changed:
            return max(
                (
                    e["seq"]
                    for e in self.chats.get(user_id, [])
                    if e["from"] == "user" and e["read"]
                ),
                default=0,
            )

    def loading_until(self, user_id: str) -> float | None:
        with self.changed:
            until = self.loading.get(user_id)
            return until if until and until > self.clock() else None

    def wait(self, ready, timeout: float):
        """Block until `ready()` is truthy or `timeout` passes; returns its value.

        Woken by every change, so a test or the phone page sees a new message
        as soon as it arrives instead of sleeping blindly.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self.changed:
            while True:
                value = ready()
                remaining = deadline - time.monotonic()
                if value or remaining <= 0:
                    return value
                self.changed.wait(remaining)

    # -- internals ---------------------------------------------------------

    def _bump(self) -> int:
        self.seq += 1
        self.changed.notify_all()
        return self.seq

    def _deliver(self, user_id, messages, method, billable, delivered) -> list:
        sent = [{"id": message_id(), "quoteToken": secrets.token_urlsafe(24)}]
        sent += [
            {"id": message_id(), "quoteToken": secrets.token_urlsafe(24)}
            for _ in messages[1:]
        ]
        if not delivered:
            log.info(
                "simulator: %s to %s not delivered (not a friend)", method, user_id
            )
            return sent
        entry = {
            "from": "bot",
            "seq": self._bump(),
            "method": method,
            "billable": billable,
            "time": int(self.clock() * 1000),
            "messages": messages,
            "sentMessages": sent,
        }
        self.chats.setdefault(user_id, []).append(entry)
        self.loading.pop(user_id, None)
        return sent

    def _accepted(self, retry_key) -> LineRefusal | None:
        """The 409 for a retry key LINE has already accepted, else None."""
        if retry_key is None:
            return None
        if not UUID_RE.match(retry_key):
            return LineRefusal(400, "The retry key must be a UUID")
        now = self.clock()
        for old in [
            k for k, v in self.retry_keys.items() if v[0] < now - RETRY_KEY_TTL
        ]:
            del self.retry_keys[old]
        accepted = self.retry_keys.get(retry_key.lower())
        if accepted is None:
            return None
        _, accepted_id, body = accepted
        return LineRefusal(
            409,
            RETRY_KEY_ACCEPTED,
            headers={"x-line-accepted-request-id": accepted_id},
            extra={k: v for k, v in body.items() if k == "sentMessages"},
        )

    def _accept(self, retry_key, body: dict) -> dict:
        rid = request_id()
        if retry_key is not None:
            self.retry_keys[retry_key.lower()] = (self.clock(), rid, body)
        return body | {"_requestId": rid}

    def log_webhook(self, record: dict) -> None:
        with self.changed:
            self.webhook_log.append(record)
            self._bump()

    def log_webhook_given_up(self) -> None:
        """Wake waiters: a delivery was abandoned (see `WebhookSender.given_up`)."""
        with self.changed:
            self._bump()

    def webhook_deliveries(self) -> list[dict]:
        with self.changed:
            return [dict(r) for r in self.webhook_log]


def new_event_id() -> str:
    """A `webhookEventId` (LINE uses ULIDs)."""
    return str(ULID())
