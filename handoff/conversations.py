"""Conversations: who is answering a chat — the bot, the queue or an agent.

Each chat has at most one open conversation, whose status moves
`bot` → `queued` → `assigned` → `closed`; the chat's next event after a close
opens a new `bot` conversation. The messages themselves stay in `bot.history`;
a conversation remembers where in that history it starts and ends.

Every status change is a compare-and-set in Lua on (status, assignee), so two
agents claiming at once cannot both win: the loser re-reads the conversation
and is told who has it. Each change is published for the panel's live view.
"""

import json
import logging
import time

from ulid import ULID

from bot.answers import forget_fallbacks
from store import PREFIX, key

log = logging.getLogger(__name__)

BOT = "bot"
QUEUED = "queued"
ASSIGNED = "assigned"
CLOSED = "closed"
STATUSES = (BOT, QUEUED, ASSIGNED, CLOSED)
OPEN_STATUSES = (BOT, QUEUED, ASSIGNED)

#: Where a transfer sends a conversation back to the queue.
QUEUE = "queue"
NOTE_MAX = 5000
#: How long a user's message is remembered as counted unread (the inbox keeps
#: an event for redelivery no longer than this).
INBOUND_TTL = 48 * 3600
TAG_MAX = 50
TAGS_PER_USER = 100
#: Closed conversations (and their notes) are kept as long as history.
CLOSED_RETENTION_DAYS = 90
LAST_MESSAGE_MAX = 200

# KEYS[1] the conversation hash. ARGV: prefix, id, expected status, expected
# assignee, new status, new assignee, index score, then field/value pairs.
# Moves the conversation between the status and per-agent indexes only when
# it is still in the state the caller saw; returns 1, else 0.
TRANSITION_SCRIPT = """
local prefix, id = ARGV[1], ARGV[2]
local status = redis.call('HGET', KEYS[1], 'status')
local assignee = redis.call('HGET', KEYS[1], 'assignee') or ''
if status ~= ARGV[3] or assignee ~= ARGV[4] then
  return 0
end
local new_status, new_assignee, score = ARGV[5], ARGV[6], ARGV[7]
redis.call('ZREM', prefix .. 'conv:' .. status, id)
if assignee ~= '' then
  redis.call('ZREM', prefix .. 'conv:agent:' .. assignee, id)
end
redis.call('ZADD', prefix .. 'conv:' .. new_status, score, id)
if new_assignee ~= '' then
  redis.call('ZADD', prefix .. 'conv:agent:' .. new_assignee, score, id)
end
redis.call('HSET', KEYS[1], 'status', new_status, 'assignee', new_assignee)
for i = 8, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if new_status == 'closed' then
  local pointer = prefix .. 'conv:open:' .. redis.call('HGET', KEYS[1], 'chat_id')
  if redis.call('GET', pointer) == id then
    redis.call('DEL', pointer)
  end
end
return 1
"""


class ConversationError(Exception):
    """A request about a conversation that cannot be done; `code` names why."""

    status = 400

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(ConversationError):
    status = 404


class Forbidden(ConversationError):
    status = 403


class Conflict(ConversationError):
    status = 409


def _publish(redis, kind: str, data: dict) -> None:
    """Tell the panels about a change; a failure here never undoes the change."""
    try:
        from api.events import publish

        publish(redis, kind, data)
    except Exception:
        log.warning("conversations: publishing %s failed", kind, exc_info=True)


def _summary(direction: str, kind: str, text: str, when: float, actor="") -> str:
    return json.dumps(
        {
            "direction": direction,
            "kind": kind,
            "text": text[:LAST_MESSAGE_MAX],
            "time": when,
            "actor": actor,
        },
        ensure_ascii=False,
    )


def _number(value):
    return float(value) if value not in (None, "") else None


def _decode(raw: dict) -> dict | None:
    if not raw:
        return None
    return {
        "id": raw["id"],
        "chat_id": raw["chat_id"],
        "user_id": raw.get("user_id") or None,
        "status": raw["status"],
        "assignee": raw.get("assignee") or None,
        "opened_at": _number(raw.get("opened_at")),
        "waiting_since": _number(raw.get("waiting_since")),
        "assigned_at": _number(raw.get("assigned_at")),
        "people_since": _number(raw.get("people_since")),
        "closed_at": _number(raw.get("closed_at")),
        "closed_by": raw.get("closed_by") or None,
        "close_reason": raw.get("close_reason") or None,
        "handoff_reason": raw.get("handoff_reason") or None,
        "handoff_event": raw.get("handoff_event") or None,
        "last_user_at": _number(raw.get("last_user_at")),
        "last_agent_at": _number(raw.get("last_agent_at")),
        "first_unanswered_at": _number(raw.get("first_unanswered_at")),
        "last_message": json.loads(raw["last_message"])
        if raw.get("last_message")
        else None,
        "unread": int(raw.get("unread") or 0),
        "history_after": raw.get("history_after") or "-",
        "history_until": raw.get("history_until") or None,
    }


def _people_from(conversation: dict, now: float) -> dict:
    """`people_since` for a change that takes the chat from the bot: when
    people first had it, which later moves (transfer, requeue) keep."""
    return {"people_since": now} if conversation["status"] == BOT else {}


def clean_tag(tag) -> str:
    """A tag as stored: trimmed text of 1 to 50 printable characters."""
    if not isinstance(tag, str):
        raise ValueError(f"a tag must be a string, got {tag!r}")
    tag = tag.strip()
    if not tag or len(tag) > TAG_MAX or not tag.isprintable():
        raise ValueError(
            f"a tag must be 1 to {TAG_MAX} printable characters, got {tag!r}"
        )
    return tag


class Conversations:
    """Reads and changes conversations; every change is published."""

    def __init__(self, redis, clock=time.time):
        self.redis = redis
        self.clock = clock
        self._transition = redis.register_script(TRANSITION_SCRIPT)

    # -- reading ----------------------------------------------------------------

    def get(self, conversation_id: str) -> dict | None:
        return _decode(self.redis.hgetall(key("conv", conversation_id)))

    def require(self, conversation_id: str) -> dict:
        """The conversation, or `NotFound`."""
        conversation = self.get(conversation_id)
        if conversation is None:
            raise NotFound("not_found", f"no conversation {conversation_id!r}")
        return conversation

    def open_for(self, chat_id: str) -> dict | None:
        """The chat's open conversation, or None."""
        conversation_id = self.redis.get(key("conv", "open", chat_id))
        return self.get(conversation_id) if conversation_id else None

    def ids(self, status: str, *, assignee: str | None = None, limit=500) -> list:
        """Ids with `status` (newest closed first, otherwise oldest first)."""
        if assignee:
            ids = self.redis.zrange(key("conv", "agent", assignee), 0, -1)
            return ids if status == ASSIGNED else []
        name = key("conv", status)
        if status == CLOSED:
            return self.redis.zrevrange(name, 0, limit - 1)
        return self.redis.zrange(name, 0, limit - 1)

    def many(self, ids) -> list[dict]:
        pipe = self.redis.pipeline(transaction=False)
        for conversation_id in ids:
            pipe.hgetall(key("conv", conversation_id))
        return [c for c in map(_decode, pipe.execute()) if c]

    def of_chat(self, chat_id: str, limit=50) -> list[dict]:
        """The chat's conversations, newest first."""
        ids = self.redis.zrevrange(key("conv", "chat", chat_id), 0, limit - 1)
        return self.many(ids)

    # -- the bot side (called while handling an event) ----------------------------

    def ensure_open(self, chat_id: str, user_id: str | None, history_after="-"):
        """The chat's open conversation, opening a `bot` one when there is none.

        `history_after` is the history entry just before the conversation's
        first one, so that reading it later starts at the right place.
        """
        current = self.open_for(chat_id)
        if current is not None:
            return current
        now = self.clock()
        conversation_id = str(ULID())
        fields = {
            "id": conversation_id,
            "chat_id": chat_id,
            "user_id": user_id or "",
            "status": BOT,
            "assignee": "",
            "opened_at": now,
            "unread": 0,
            "history_after": history_after,
        }
        pipe = self.redis.pipeline()
        pipe.hset(key("conv", conversation_id), mapping=fields)
        pipe.set(key("conv", "open", chat_id), conversation_id, nx=True)
        created = pipe.execute()[1]
        if not created:
            # Another handler opened one in between: use that one.
            self.redis.delete(key("conv", conversation_id))
            return self.open_for(chat_id)
        pipe = self.redis.pipeline()
        pipe.zadd(key("conv", BOT), {conversation_id: now})
        pipe.zadd(key("conv", "chat", chat_id), {conversation_id: now})
        pipe.execute()
        conversation = self.get(conversation_id)
        log.info("conversations: %s opened for %s", conversation_id, chat_id)
        _publish(self.redis, "conversation.opened", conversation)
        return conversation

    def record_inbound(
        self, conversation: dict, kind: str, text: str, event_id: str = ""
    ) -> dict:
        """Note a message from the user: unread, last message, waiting time.

        `event_id` (the webhook event's) makes the unread count idempotent: an
        event handled again after its worker died is not counted twice.
        """
        now = self.clock()
        name = key("conv", conversation["id"])
        first_time = not event_id or bool(
            self.redis.set(key("inbound", event_id), 1, nx=True, ex=INBOUND_TTL)
        )
        pipe = self.redis.pipeline()
        pipe.hset(
            name,
            mapping={
                "last_user_at": now,
                "last_message": _summary("in", kind, text, now),
            },
        )
        if conversation["status"] == BOT:
            # Scored by last activity, so the upkeep finds silent ones cheaply.
            pipe.zadd(key("conv", BOT), {conversation["id"]: now}, xx=True)
        else:
            # Only a person can answer now: the user waits from this message.
            pipe.hsetnx(name, "first_unanswered_at", now)
            if first_time:
                pipe.hincrby(name, "unread", 1)
        pipe.execute()
        updated = self.get(conversation["id"])
        _publish(self.redis, "conversation.message", _brief(updated))
        return updated

    def record_outbound(self, conversation_id: str, kind: str, text: str, actor):
        """Note an agent's answer: the user is no longer waiting on it."""
        now = self.clock()
        name = key("conv", conversation_id)
        pipe = self.redis.pipeline()
        pipe.hset(
            name,
            mapping={
                "last_agent_at": now,
                "last_message": _summary("out", kind, text, now, actor),
                "unread": 0,
            },
        )
        pipe.hdel(name, "first_unanswered_at")
        pipe.execute()
        updated = self.get(conversation_id)
        _publish(self.redis, "conversation.message", _brief(updated))
        return updated

    def mark_read(self, conversation_id: str) -> None:
        self.redis.hset(key("conv", conversation_id), "unread", 0)

    # -- transitions ----------------------------------------------------------------

    def handoff(self, conversation_id: str, reason: str, event_id: str = "") -> dict:
        """Move a `bot` conversation to the queue (a no-op when it is not `bot`).

        `event_id` names the webhook event that asked, so that the event,
        handled again after a crash, is still acknowledged.
        """
        now = self.clock()

        def decide(conversation):
            if conversation["status"] != BOT:
                return None
            return (
                QUEUED,
                "",
                now,
                {
                    "waiting_since": now,
                    "people_since": now,
                    "first_unanswered_at": now,
                    "handoff_reason": reason,
                    "handoff_event": event_id,
                    "unread": 1,
                },
            )

        return self._change(conversation_id, decide, "conversation.queued")

    def claim(self, conversation_id: str, actor: str) -> dict:
        """Give a `bot` or `queued` conversation to `actor` (any agent).

        Claiming one's own conversation again succeeds; claiming another's is a
        `Conflict`, which is what the loser of a race gets.
        """
        now = self.clock()

        def decide(conversation):
            status = conversation["status"]
            if status == ASSIGNED and conversation["assignee"] == actor:
                return None
            if status == ASSIGNED:
                raise Conflict(
                    "already_claimed",
                    f"conversation is assigned to {conversation['assignee']}",
                )
            if status == CLOSED:
                raise Conflict("closed", "conversation is closed")
            fields = {"assigned_at": now} | _people_from(conversation, now)
            return ASSIGNED, actor, now, fields

        return self._change(conversation_id, decide, "conversation.assigned", actor)

    def transfer(self, conversation_id: str, actor: str, to: str, *, admin=False):
        """Give the conversation to agent `to`, or back to the queue (`"queue"`).

        The assignee or an admin may transfer an assigned conversation; only an
        admin may hand a queued or bot conversation to a named agent, and any
        agent may send a bot conversation to the queue.
        """
        now = self.clock()

        def decide(conversation):
            status, assignee = conversation["status"], conversation["assignee"]
            if status == CLOSED:
                raise Conflict("closed", "conversation is closed")
            if status == ASSIGNED and assignee != actor and not admin:
                raise Forbidden(
                    "not_assignee", "only the assignee or an admin may transfer"
                )
            if to == QUEUE:
                if status == QUEUED:
                    raise Conflict("already_queued", "conversation is in the queue")
                waiting = conversation["first_unanswered_at"] or now
                fields = {"waiting_since": waiting} | _people_from(conversation, now)
                return QUEUED, "", waiting, fields
            if status != ASSIGNED and not admin:
                raise Forbidden(
                    "not_assignee",
                    "claim the conversation; only an admin may assign it to others",
                )
            if status == ASSIGNED and assignee == to:
                raise Conflict("already_assigned", f"conversation is {to}'s already")
            fields = {"assigned_at": now} | _people_from(conversation, now)
            return ASSIGNED, to, now, fields

        kind = "conversation.queued" if to == QUEUE else "conversation.assigned"
        return self._change(conversation_id, decide, kind, actor, audit={"to": to})

    def close(self, conversation_id: str, actor: str, *, admin=False, reason="agent"):
        """Close the conversation; the assignee or an admin may."""
        return self._close(conversation_id, actor, reason, admin=admin)

    def close_open(self, chat_id: str, reason: str) -> dict | None:
        """Close the chat's open conversation for the system (e.g. unfollow)."""
        conversation = self.open_for(chat_id)
        if conversation is None:
            return None
        return self._close(conversation["id"], "system", reason, admin=True)

    def requeue(self, conversation_id: str, assignee: str, reason: str) -> dict:
        """Return an assigned conversation to the queue for the system."""
        now = self.clock()

        def decide(conversation):
            if conversation["status"] != ASSIGNED:
                return None
            if conversation["assignee"] != assignee:
                return None
            waiting = conversation["first_unanswered_at"] or now
            return (
                QUEUED,
                "",
                waiting,
                {
                    "waiting_since": waiting,
                    "handoff_reason": reason,
                },
            )

        return self._change(
            conversation_id, decide, "conversation.queued", "system", audit={}
        )

    def close_if_silent(self, conversation_id: str, seconds: float) -> bool:
        """Close for the system when nobody has spoken for `seconds`.

        Decided on the conversation as it is at the moment of closing, so a
        message that arrives during the sweep keeps it open.
        """
        now = self.clock()

        def keep(conversation):
            since = silent_since(conversation)
            return since is None or now - since < seconds

        closed = self._close(
            conversation_id, "system", "silence", admin=True, keep=keep
        )
        return closed["status"] == CLOSED

    def _close(self, conversation_id, actor, reason, *, admin, keep=None):
        now = self.clock()

        def decide(conversation):
            status, assignee = conversation["status"], conversation["assignee"]
            if keep is not None and keep(conversation):
                return None
            if status == CLOSED:
                raise Conflict("closed", "conversation is closed already")
            if not admin and (status != ASSIGNED or assignee != actor):
                raise Forbidden(
                    "not_assignee", "only the assignee or an admin may close"
                )
            fields = {
                "closed_at": now,
                "closed_by": actor,
                "close_reason": reason,
                "history_until": self._last_history_id(conversation["chat_id"]),
            }
            return CLOSED, "", now, fields

        conversation = self._change(
            conversation_id, decide, "conversation.closed", actor, audit={}
        )
        if conversation["status"] == CLOSED:  # not when `keep` kept it open
            self._expire_closed(conversation_id, now)
            # The bot's run of fallbacks before a hand-off ends with the
            # conversation: the next starts a new run, not a hand-off at once.
            forget_fallbacks(self.redis, conversation["chat_id"])
        return conversation

    def _change(self, conversation_id, decide, kind, actor="system", audit=None):
        """Apply `decide(conversation)` → (status, assignee, score, fields) atomically.

        `decide` returns None for "nothing to do" or raises; a lost race
        re-reads and decides again.
        """
        for _ in range(10):
            conversation = self.require(conversation_id)
            change = decide(conversation)
            if change is None:
                return conversation
            status, assignee, score, fields = change
            args = [
                PREFIX,
                conversation_id,
                conversation["status"],
                conversation["assignee"] or "",
                status,
                assignee,
                score,
            ]
            for name, value in fields.items():
                args += [name, "" if value is None else value]
            if self._transition(keys=[key("conv", conversation_id)], args=args):
                updated = self.get(conversation_id)
                log.info(
                    "conversations: %s %s → %s by %s",
                    conversation_id,
                    conversation["status"],
                    status,
                    actor,
                )
                _audit(self.redis, actor, kind, conversation, updated, audit)
                _publish(self.redis, kind, _brief(updated))
                return updated
        raise Conflict("busy", "conversation is changing; try again")

    def _last_history_id(self, chat_id) -> str:
        last = self.redis.xrevrange(key("history", chat_id), count=1)
        return last[0][0] if last else ""

    def _expire_closed(self, conversation_id, now) -> None:
        keep = CLOSED_RETENTION_DAYS * 24 * 3600
        pipe = self.redis.pipeline()
        pipe.expire(key("conv", conversation_id), keep)
        pipe.expire(key("conv", "notes", conversation_id), keep)
        pipe.zremrangebyscore(key("conv", CLOSED), "-inf", now - keep)
        pipe.execute()

    # -- notes and tags ---------------------------------------------------------------

    def add_note(self, conversation_id: str, author: str, text) -> dict:
        """An internal note on the conversation; notes are never sent to LINE."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a note needs text")
        if len(text) > NOTE_MAX:
            raise ValueError(f"a note is at most {NOTE_MAX} characters")
        conversation = self.require(conversation_id)
        note = {
            "id": str(ULID()),
            "author": author,
            "text": text,
            "time": self.clock(),
        }
        self.redis.rpush(
            key("conv", "notes", conversation_id), json.dumps(note, ensure_ascii=False)
        )
        _publish(
            self.redis,
            "conversation.note",
            {"conversation_id": conversation["id"], "note": note},
        )
        return note

    def notes(self, conversation_id: str) -> list[dict]:
        raw = self.redis.lrange(key("conv", "notes", conversation_id), 0, -1)
        return [json.loads(item) for item in raw]

    def tags(self, user_id: str) -> list[str]:
        return sorted(self.redis.smembers(key("tags", user_id))) if user_id else []

    def change_tags(self, user_id: str, add=(), remove=()) -> list[str]:
        """Add and remove tags on a user (tags belong to the user, not one chat)."""
        add = [clean_tag(tag) for tag in add]
        remove = [clean_tag(tag) for tag in remove]
        name = key("tags", user_id)
        pipe = self.redis.pipeline()
        if remove:
            pipe.srem(name, *remove)
        if add:
            pipe.sadd(name, *add)
        pipe.execute()
        tags = self.tags(user_id)
        if len(tags) > TAGS_PER_USER:
            self.redis.srem(name, *add)
            raise ValueError(f"a user has at most {TAGS_PER_USER} tags")
        _publish(self.redis, "user.tags", {"user_id": user_id, "tags": tags})
        return tags


def silent_since(conversation: dict) -> float | None:
    """Since when nobody has spoken, or None while the user waits for a person.

    A queued conversation, or an assigned one whose user has an unanswered
    message, is never silent: closing it would drop someone who is waiting.
    """
    status = conversation["status"]
    if status in (QUEUED, CLOSED):
        return None
    if status == ASSIGNED and conversation["first_unanswered_at"] is not None:
        return None
    moments = (
        conversation["opened_at"],
        conversation["last_user_at"],
        conversation["last_agent_at"],
        conversation["assigned_at"],
    )
    return max(m for m in moments if m is not None)


def _brief(conversation: dict) -> dict:
    """What a change event carries: the conversation without history cursors."""
    return {
        k: v
        for k, v in conversation.items()
        if k not in ("history_after", "history_until", "handoff_event")
    }


def _audit(redis, actor, kind, before, after, detail) -> None:
    """Record a transition in the audit log (the system's own included)."""
    from api.audit import audit

    audit(
        actor,
        kind,
        target=before["id"],
        before={"status": before["status"], "assignee": before["assignee"]},
        after={"status": after["status"], "assignee": after["assignee"]},
        redis=redis,
        **(detail or {}),
    )
