"""The cost ledger: every send the desk makes, and what LINE bills for it.

Each entry names the chat, the time, the method (reply, push, held, refused),
the message objects, the billable count by LINE's rule — one per recipient per
push request, whatever the number of objects; replies are free — and why that
method was used. Daily and monthly counters, bucketed in the desk's time zone,
feed the quota screens without scanning the ledger.
"""

import json
import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from store import key

log = logging.getLogger(__name__)

REPLY = "reply"
PUSH = "push"
HELD = "held"
REFUSED = "refused"
METHODS = (REPLY, PUSH, HELD, REFUSED)

#: Why a method was used.
TOKEN_LIVE = "token_live"
NO_TOKEN = "no_token"
TOKEN_EXPIRED = "token_expired"
OPERATOR_CHOICE = "operator_choice"
MONTHLY_LIMIT = "monthly_limit"
HELD_DELIVERED = "held_delivered"
HELD_EXPIRED = "held_expired"
#: The user blocked the account: nothing but a free reply goes to them.
UNFOLLOWED = "unfollowed"
UNCERTAIN = "uncertain"
REJECTED = "rejected"

LEDGER_MAXLEN = 1_000_000
COUNTER_TTL = 400 * 24 * 3600


def billable_count(method: str, recipients: int = 1) -> int:
    """What LINE counts for one request: pushes per recipient, replies nothing."""
    return recipients if method == PUSH else 0


class Ledger:
    """Writes and reads the ledger stream and its counters."""

    def __init__(self, redis, timezone="Asia/Tokyo", clock=time.time):
        self.redis = redis
        self.zone = ZoneInfo(timezone)
        self.clock = clock

    def buckets(self, when: float) -> tuple[str, str]:
        """The (month, day) counter names for `when`, e.g. ("2026-12", "2026-12-03")."""
        local = datetime.fromtimestamp(when, self.zone)
        return local.strftime("%Y-%m"), local.strftime("%Y-%m-%d")

    def record(
        self,
        pipe,
        *,
        chat_id,
        method,
        messages,
        reason,
        send_id="",
        origin="bot",
        actor="",
        request_id="",
        when=None,
    ) -> int:
        """Add one send to `pipe` (a Redis pipeline); returns its billable count.

        Written through the caller's pipeline so the entry, the counters and
        the history of the same send land together or not at all.
        """
        when = self.clock() if when is None else when
        billable = billable_count(method)
        month, day = self.buckets(when)
        pipe.xadd(
            key("ledger"),
            {
                "time": f"{when:.3f}",
                "chat_id": chat_id,
                "method": method,
                "objects": len(messages),
                "billable": billable,
                "reason": reason,
                "send_id": send_id,
                "origin": origin,
                "actor": actor,
                "request_id": request_id or "",
                "messages": json.dumps(messages, ensure_ascii=False),
            },
            maxlen=LEDGER_MAXLEN,
            approximate=True,
        )
        for bucket in (key("usage", "month", month), key("usage", "day", day)):
            pipe.hincrby(bucket, method, 1)
            pipe.hincrby(bucket, f"{method}_objects", len(messages))
            if billable:
                pipe.hincrby(bucket, "billable", billable)
            elif method == REPLY:
                pipe.hincrby(bucket, "free", 1)
            pipe.expire(bucket, COUNTER_TTL)
        return billable

    def usage(self, period: str) -> dict:
        """Counters for a month ("2026-12") or a day ("2026-12-03")."""
        kind = "day" if period.count("-") == 2 else "month"
        raw = self.redis.hgetall(key("usage", kind, period))
        return {name: int(value) for name, value in raw.items()}

    def entries(self, count=100, *, before="+", reason=None, method=None):
        """Newest entries first, optionally only one reason or method."""
        rows = []
        cursor = before
        while len(rows) < count:
            batch = self.redis.xrevrange(key("ledger"), cursor, "-", count=count * 2)
            if not batch:
                break
            for entry_id, fields in batch:
                if entry_id == cursor:
                    continue
                if reason and fields.get("reason") != reason:
                    continue
                if method and fields.get("method") != method:
                    continue
                rows.append(_entry(entry_id, fields))
                if len(rows) == count:
                    break
            cursor = batch[-1][0]
            if len(batch) < count * 2:
                break
        return rows


def _entry(entry_id, fields) -> dict:
    return {
        "id": entry_id,
        "time": float(fields["time"]),
        "chat_id": fields["chat_id"],
        "method": fields["method"],
        "objects": int(fields["objects"]),
        "billable": int(fields["billable"]),
        "reason": fields["reason"],
        "send_id": fields.get("send_id", ""),
        "origin": fields.get("origin", ""),
        "actor": fields.get("actor", ""),
        "request_id": fields.get("request_id", ""),
        "messages": json.loads(fields.get("messages") or "[]"),
    }
