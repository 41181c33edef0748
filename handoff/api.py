"""The hand-off API: conversations, agents' answers, notes, tags, canned replies.

Routes on `api.bp` (under /api/v1), for agents and admins. Agents' answers go
through the delivery layer like everything else: a live reply token first
(free), otherwise what the agent chose in `if_expired` — `push` (billed),
`hold` (sent through the user's next token), or `ask` (nothing is sent; the
answer says what a push would cost, and the agent posts again with push or
hold).
"""

import io
import logging
import math
import re
import uuid
from collections import deque

from flask import current_app, request, send_file

from api import bp
from api.audit import audit
from api.auth import current_account, require_role
from api.errors import ApiError, json_object
from api.openapi import doc
from bot import ledger
from bot.delivery import MAX_OBJECTS, DeliveryError
from bot.history import INBOUND
from handoff import queue, settings
from handoff.canned import Canned, CannedError, CannedExists
from handoff.content import (
    CACHE_SECONDS,
    MEDIA_TYPES,
    ContentCache,
    ContentError,
    shown,
)
from handoff.conversations import (
    ASSIGNED,
    CLOSED,
    OPEN_STATUSES,
    QUEUE,
    STATUSES,
    ConversationError,
    Conversations,
    clean_tag,
)
from store import key

log = logging.getLogger(__name__)

LIST_LIMIT = 500
MESSAGES_LIMIT = 500
IDEMPOTENCY_KEY_MAX = 200
#: A history entry id (a Redis stream id).
ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

_ID = {"type": "string", "description": "a ULID"}
CONVERSATION_SCHEMA = {
    "type": "object",
    "properties": {
        "id": _ID,
        "user_id": {"type": "string", "nullable": True},
        "chat_id": {"type": "string"},
        "display_name": {"type": "string", "nullable": True},
        "picture_url": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": list(STATUSES)},
        "assignee": {"type": "string", "nullable": True},
        "waiting_since": {"type": "number", "nullable": True},
        "free_until": {
            "type": "number",
            "nullable": True,
            "description": "the latest live reply token's deadline (epoch seconds)",
        },
        "last_message": {"type": "object", "nullable": True},
        "unread": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
CONVERSATION_DETAIL_SCHEMA = {
    "type": "object",
    "properties": {
        **CONVERSATION_SCHEMA["properties"],
        "messages": {"type": "array", "items": {"type": "object"}},
        "notes": {"type": "array", "items": {"type": "object"}},
        "held": {
            "type": "array",
            "description": "answers held for the chat, oldest first",
            "items": {
                "type": "object",
                "properties": {
                    "messages": {"type": "array", "items": {"type": "object"}},
                    "held_at": {"type": "number"},
                    "actor": {"type": "string"},
                },
            },
        },
        "held_objects": {
            "type": "integer",
            "description": "the message objects held for the chat: a push "
            "carries them first, so its cost counts them",
        },
    },
}
LIST_SCHEMA = {
    "type": "object",
    "properties": {"conversations": {"type": "array", "items": CONVERSATION_SCHEMA}},
}
SEND_SCHEMA = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {"type": "array", "minItems": 1, "maxItems": 5},
        "if_expired": {"type": "string", "enum": list(settings.IF_EXPIRED)},
    },
}
SENT_SCHEMA = {
    "type": "object",
    "properties": {
        "delivery": {
            "type": "string",
            "enum": ["reply", "push", "held", "needs_confirmation"],
        },
        "billable": {"type": "integer"},
        "send_id": {"type": "string"},
        "objects": {
            "type": "integer",
            "description": "needs_confirmation: the objects a push would carry",
        },
        "held_objects": {
            "type": "integer",
            "description": "needs_confirmation: how many of them are held answers",
        },
    },
}


# -- helpers ------------------------------------------------------------------


def _runtime():
    return current_app.extensions["tsunagi"]


def _conversations() -> Conversations:
    runtime = _runtime()
    return Conversations(runtime.redis, runtime.delivery.clock)


def _caller() -> tuple[str, bool]:
    """(username, is_admin) of the caller, who is marked present (and active
    when the request changes something)."""
    account = current_account()
    queue.touch(
        _runtime().redis,
        account["username"],
        _runtime().delivery.clock(),
        acted=request.method not in ("GET", "HEAD"),
    )
    return account["username"], account["role"] == "admin"


def _domain(call, *args, **kwargs):
    """Run a conversation change, turning its refusals into API errors."""
    try:
        return call(*args, **kwargs)
    except ConversationError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


#: Conversation fields the API keeps to itself (history cursors, bookkeeping).
_INTERNAL = frozenset(
    {"history_after", "history_until", "first_unanswered_at", "handoff_event"}
)


def _view(conversation: dict) -> dict:
    """A conversation as the API shows it: window, profile and tags added."""
    return _views([conversation])[0]


def _views(conversations: list[dict]) -> list[dict]:
    """`_view` for many conversations in one round trip to Redis."""
    runtime = _runtime()
    now = runtime.delivery.clock()
    pipe = runtime.redis.pipeline(transaction=False)
    for conversation in conversations:
        owner = conversation["user_id"] or conversation["chat_id"]
        # The latest live token's deadline, as `TokenPool.free_until` reads it.
        pipe.zrevrangebyscore(
            key("tokens", conversation["chat_id"]),
            "+inf",
            now,
            start=0,
            num=1,
            withscores=True,
        )
        pipe.hgetall(key("profile", owner))
        pipe.smembers(key("tags", owner))
    replies = pipe.execute()
    shown = []
    for index, conversation in enumerate(conversations):
        window, profile, tags = replies[3 * index : 3 * index + 3]
        view = {k: v for k, v in conversation.items() if k not in _INTERNAL}
        view["free_until"] = window[0][1] if window else None
        view["display_name"] = profile.get("display_name") or None
        view["picture_url"] = profile.get("picture_url") or None
        view["language"] = profile.get("language") or None
        view["tags"] = sorted(tags)
        shown.append(view)
    return shown


def _held_objects(held: list[dict]) -> int:
    """The message objects of held answers `held`: what a push carries first.

    The ask quote and the conversation's `held_objects` count alike, so the
    panel's badge and the confirmation agree on what a push bills.
    """
    return sum(len(item["messages"]) for item in held)


def _messages(conversation: dict, after: str | None) -> list[dict]:
    """The conversation's messages from history, oldest first.

    Each answer shows once, with its final delivery. The history is a
    stream, written once: holding an answer adds `held` rows, and its
    delivery later adds rows of its own under the same `send_id`. So a held
    row is left out when a later row of the same send (reply, push or
    refused) is in this read: that row stands for it, where and how it went.
    A held row whose delivery falls outside the read (another page, after
    the conversation closed) is shown as held, as it was then. Each message
    names its `send_id`, so a client merging polls (`after`) can drop the
    held row a later row delivers.
    """
    history = _runtime().delivery.history
    rows = history.read(
        conversation["chat_id"],
        MESSAGES_LIMIT,
        after=after or conversation["history_after"],
    )
    until = conversation["history_until"]
    if until:
        rows = [row for row in rows if not _id_after(row["id"], until)]
    delivered = _delivered_held(rows)
    shown = []
    for row in rows:
        if row["id"] in delivered:
            continue
        shown.append(
            {
                "id": row["id"],
                "direction": row["direction"],
                "type": row["kind"],
                "text": row["text"],
                "media": row["media"] or None,
                "time": row["time"],
                "delivery": row.get("delivery")
                if row["direction"] != INBOUND
                else None,
                "billable": row.get("billable", 0),
                "origin": row.get("origin")
                or ("user" if row["direction"] == INBOUND else None),
                "actor": row.get("actor") or None,
                "send_id": row.get("send_id") or None,
                "message": _message_object(row),
            }
        )
    return shown


def _delivered_held(rows: list[dict]) -> set[str]:
    """Ids of the `held` rows among `rows` that a later row of their send delivers.

    Matched object by object, oldest first: a send's later rows go out in
    the order its held rows were written, and only rows after a held row
    can deliver it (a long answer's first part may go by reply before its
    rest is held).
    """
    waiting: dict[str, deque] = {}
    delivered = set()
    for row in rows:
        send_id = row.get("send_id")
        if row["direction"] == INBOUND or not send_id:
            continue
        held = waiting.setdefault(send_id, deque())
        if row.get("delivery") == ledger.HELD:
            held.append(row["id"])
        elif held:
            delivered.add(held.popleft())
    return delivered


def _message_object(row: dict) -> dict | None:
    """The LINE message object behind a history row (for the panel to draw
    stickers, quick replies and Flex), or None for events that carry none."""
    body = row.get("body") or {}
    if row["direction"] == INBOUND:
        body = body.get("message")
    return body if isinstance(body, dict) and body.get("type") else None


def _id_after(entry_id: str, other: str) -> bool:
    a, b = (tuple(int(p) for p in i.split("-")) for i in (entry_id, other))
    return a > b


# -- conversations --------------------------------------------------------------


@bp.get("/conversations")
@doc(
    "List conversations (the queue in its order)",
    params={
        "status": "bot | queued | assigned | closed (default: every open one)",
        "assignee": "`me` or a username: that agent's assigned conversations",
        "chat_id": "only this chat's conversations, every status (its past ones)",
        "limit": "at most this many (default and maximum 500)",
    },
    responses={200: ("the conversations", LIST_SCHEMA)},
)
@require_role("agent")
def list_conversations():
    """Queued ones come live window first (soonest lapsing), then by waiting time."""
    username, _admin = _caller()
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(
            422, "invalid", f"status must be one of {list(STATUSES)}", field="status"
        )
    limit = _limit(request.args.get("limit"))
    assignee = request.args.get("assignee") or None
    if assignee == "me":
        assignee = username
    conversations = _conversations()
    chat_id = request.args.get("chat_id") or None
    if chat_id:
        found = [
            c
            for c in conversations.of_chat(chat_id, limit)
            if status is None or c["status"] == status
        ]
        return {"conversations": _views(found)}
    if assignee:
        if status not in (None, ASSIGNED):
            return {"conversations": []}
        found = conversations.many(conversations.ids(ASSIGNED, assignee=assignee))
    else:
        statuses = [status] if status else list(OPEN_STATUSES)
        found = []
        for one in statuses:
            found += conversations.many(conversations.ids(one, limit=limit))
    shown = _views(found)
    shown.sort(key=lambda c: (_STATUS_RANK[c["status"]], *_within_status(c)))
    return {"conversations": shown[:limit]}


_STATUS_RANK = {"queued": 0, "assigned": 1, "bot": 2, "closed": 3}


def _within_status(conversation):
    if conversation["status"] == "queued":
        return queue.queue_order(conversation)
    if conversation["status"] == "closed":
        return (False, -(conversation["closed_at"] or 0), 0)
    return (False, -(_latest(conversation)), 0)


def _latest(conversation) -> float:
    last = conversation.get("last_message") or {}
    return last.get("time") or conversation["opened_at"] or 0


def _limit(raw) -> int:
    if raw is None:
        return LIST_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= LIST_LIMIT:
        raise ApiError(
            422, "invalid", f"limit must be from 1 to {LIST_LIMIT}", field="limit"
        )
    return value


@bp.get("/conversations/<conversation_id>")
@doc(
    "A conversation with its messages, notes and held answers",
    params={"after": "only messages after this message id (for polling)"},
    responses={
        200: ("the conversation", CONVERSATION_DETAIL_SCHEMA),
        404: "no such conversation",
    },
)
@require_role("agent")
def get_conversation(conversation_id):
    """Messages carry `delivery` (reply | push | held) and `billable`.

    `held_objects` counts the objects of the chat's held answers: a push
    carries them first (bot/delivery.py), so the panel's cost badge counts
    them into what an answer sent now would bill. Reading it as its assignee
    marks it read.
    """
    username, _admin = _caller()
    after = request.args.get("after") or None
    if after is not None and not ENTRY_ID.match(after):
        raise ApiError(
            422,
            "invalid",
            "after must be a message id such as 1700000000000-0",
            field="after",
        )
    conversations = _conversations()
    conversation = _domain(conversations.require, conversation_id)
    if conversation["status"] == ASSIGNED and conversation["assignee"] == username:
        conversations.mark_read(conversation_id)
    shown = _view(conversation)
    shown["messages"] = _messages(conversation, after)
    shown["notes"] = conversations.notes(conversation_id)
    shown["held"] = [
        {
            "messages": item["messages"],
            "held_at": item["held_at"],
            "actor": item["actor"],
        }
        for item in _runtime().delivery.held(conversation["chat_id"])
    ]
    shown["held_objects"] = _held_objects(shown["held"])
    return shown


@bp.get("/conversations/<conversation_id>/content/<message_id>")
@doc(
    "The photo, video, audio or file the user sent as message `message_id`",
    responses={
        200: "the bytes, with LINE's Content-Type; inline for photos, video "
        "and audio, an attachment for files",
        404: "no such conversation or no such media message in it; "
        "`content_gone` when LINE no longer keeps the content",
        409: "`external`: the sender keeps it at the https address in the "
        "message's contentProvider",
        413: "`content_too_large`: larger than the desk fetches",
        502: "`line_unavailable`: LINE did not serve it",
        503: "`content_not_ready`: LINE is still preparing it",
    },
)
@require_role("agent")
def get_content(conversation_id, message_id):
    """Only a photo, video, audio or file message of this conversation's own
    history is fetched (the route is no proxy for other ids), from Redis when
    cached, else from LINE within a short time-out (handoff/content.py)."""
    _caller()
    conversation = _domain(_conversations().require, conversation_id)
    message = _media_message(conversation, message_id)
    if message is None:
        raise ApiError(
            404, "not_found", "no photo, video, audio or file with that id here"
        )
    if (message.get("contentProvider") or {}).get("type", "line") != "line":
        raise ApiError(
            409,
            "external",
            "the sender keeps this content at its own address (contentProvider)",
        )
    runtime = _runtime()
    cache = ContentCache(
        # A connection that keeps bytes as bytes, with the web's short time-outs.
        runtime.web_queue.connection,
        runtime.line,
        max_bytes=runtime.config.content_max_bytes,
        budget=runtime.config.content_cache_bytes,
    )
    try:
        content = cache.get(message_id)
    except ContentError as exc:
        raise ApiError(exc.status, exc.code, exc.message, headers=exc.headers) from None
    how = shown(message, message_id, content.content_type)
    response = send_file(
        io.BytesIO(content.data),
        mimetype=how.content_type,
        as_attachment=not how.inline,
        download_name=how.download_name,
        conditional=True,
    )
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the content is a document that may run nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _media_message(conversation: dict, message_id: str) -> dict | None:
    """The user's photo, video, audio or file message `message_id` within the
    conversation's stretch of history, or None."""
    history = _runtime().delivery.history
    after = conversation["history_after"]
    until = conversation["history_until"]
    while True:
        rows = history.read(conversation["chat_id"], MESSAGES_LIMIT, after=after)
        for row in rows:
            if until and _id_after(row["id"], until):
                return None
            if (
                row["direction"] == INBOUND
                and row["kind"] in MEDIA_TYPES
                and row["media"] == message_id
            ):
                return _message_object(row)
        if len(rows) < MESSAGES_LIMIT:
            return None
        after = rows[-1]["id"]


@bp.post("/conversations/<conversation_id>/claim")
@doc(
    "Take a queued (or bot) conversation",
    responses={
        200: ("the conversation, now yours", CONVERSATION_SCHEMA),
        404: "no such conversation",
        409: "another agent has it, or it is closed",
    },
)
@require_role("agent")
def claim(conversation_id):
    """Atomic: of two agents claiming at once, one gets 200 and the other 409."""
    username, _admin = _caller()
    return _view(_domain(_conversations().claim, conversation_id, username))


@bp.post("/conversations/<conversation_id>/transfer")
@doc(
    "Give the conversation to another agent, or back to the queue",
    request={
        "type": "object",
        "required": ["to"],
        "properties": {"to": {"type": "string", "description": "a username or queue"}},
    },
    responses={
        200: ("the conversation", CONVERSATION_SCHEMA),
        404: "no such conversation",
        409: "closed, or already where it is sent",
    },
)
@require_role("agent")
def transfer(conversation_id):
    """The assignee or an admin may transfer; only admins assign for others."""
    username, admin = _caller()
    target = json_object().get("to")
    if not isinstance(target, str) or not target.strip():
        raise ApiError(422, "invalid", "to must be a username or 'queue'", field="to")
    target = target.strip().lower()
    if target != QUEUE:
        from handoff.agents import Agents

        account = Agents(_runtime().redis).get(target)
        if account is None or not account["active"]:
            raise ApiError(422, "invalid", f"no active agent {target!r}", field="to")
    conversation = _domain(
        _conversations().transfer, conversation_id, username, target, admin=admin
    )
    return _view(conversation)


@bp.post("/conversations/<conversation_id>/close")
@doc(
    "Close the conversation; the bot answers the user again",
    responses={
        200: ("the closed conversation", CONVERSATION_SCHEMA),
        404: "no such conversation",
        409: "already closed",
    },
)
@require_role("agent")
def close(conversation_id):
    """The assignee or an admin may close."""
    username, admin = _caller()
    return _view(
        _domain(_conversations().close, conversation_id, username, admin=admin)
    )


@bp.post("/conversations/<conversation_id>/notes")
@doc(
    "Add an internal note (never sent to the user)",
    request={
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string", "maxLength": 5000}},
    },
    responses={201: "the note", 404: "no such conversation"},
)
@require_role("agent")
def add_note(conversation_id):
    """Any agent may note any conversation."""
    username, _admin = _caller()
    text = json_object().get("text")
    try:
        note = _domain(_conversations().add_note, conversation_id, username, text)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), field="text") from None
    # The note's words stay with the conversation; the audit names the note.
    audit(username, "conversation.note", conversation_id, note_id=note["id"])
    return note, 201


@bp.post("/conversations/<conversation_id>/tags")
@doc(
    "Add and remove tags on the conversation's user",
    request={
        "type": "object",
        "properties": {
            "add": {"type": "array", "items": {"type": "string"}},
            "remove": {"type": "array", "items": {"type": "string"}},
        },
    },
    responses={200: "the user's tags", 404: "no such conversation"},
)
@require_role("agent")
def change_tags(conversation_id):
    """Tags belong to the user and follow them into later conversations."""
    username, _admin = _caller()
    body = json_object()
    changes = {}
    for name in ("add", "remove"):
        value = body.get(name, [])
        if not isinstance(value, list):
            raise ApiError(422, "invalid", f"{name} must be a list of tags", field=name)
        for index, tag in enumerate(value):
            try:
                clean_tag(tag)
            except ValueError as exc:
                raise ApiError(
                    422, "invalid", str(exc), field=f"{name}[{index}]"
                ) from None
        changes[name] = value
    conversations = _conversations()
    conversation = _domain(conversations.require, conversation_id)
    owner = conversation["user_id"] or conversation["chat_id"]
    before = conversations.tags(owner)
    try:
        tags = conversations.change_tags(owner, **changes)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), field="add") from None
    if tags != before:
        audit(username, "user.tags", owner, before=before, after=tags)
    return {"tags": tags}


@bp.post("/conversations/<conversation_id>/messages")
@doc(
    "Answer the user (free through a live reply token when there is one)",
    request=SEND_SCHEMA,
    responses={
        200: ("how it went, or what a push would cost", SENT_SCHEMA),
        403: "not the assignee",
        404: "no such conversation",
        409: "the conversation is closed",
        502: "LINE refused the messages",
    },
)
@require_role("agent")
def send_messages(conversation_id):
    """All objects go in one call; `Idempotency-Key` makes a retry safe.

    With no live token: `push` pushes (billed once per 5 objects), `hold`
    keeps the answer for the user's next message, `ask` sends nothing and
    answers `needs_confirmation` with the cost. A push carries the answers
    still held for the chat first, in the same requests (a held answer goes
    before anything newer), so its cost and the quote — `billable` pushes,
    `objects` in all, `held_objects` of them held — count theirs too.
    """
    from bot.messages import validate_messages

    username, admin = _caller()
    runtime = _runtime()
    body = json_object()
    messages = body.get("messages")
    errors = validate_messages(messages, field="messages")
    if errors:
        raise ApiError(422, "invalid", errors[0]["message"], field=errors[0]["field"])
    if_expired = body.get("if_expired")
    if if_expired is None:
        if_expired = settings.setting(runtime.redis, "handoff_if_expired")
    if if_expired not in settings.IF_EXPIRED:
        raise ApiError(
            422,
            "invalid",
            f"if_expired must be one of {list(settings.IF_EXPIRED)}",
            field="if_expired",
        )
    send_id = _send_id(username)

    conversations = _conversations()
    conversation = _domain(conversations.require, conversation_id)
    if conversation["status"] == CLOSED:
        raise ApiError(409, "closed", "the conversation is closed")
    if not admin and conversation["status"] != ASSIGNED:
        raise ApiError(403, "not_assignee", "claim the conversation before answering")
    if not admin and conversation["assignee"] != username:
        raise ApiError(403, "not_assignee", "only the assignee or an admin may answer")
    chat_id = conversation["chat_id"]
    if if_expired == "ask" and _no_push(runtime, username):
        # Free-only or the budget guard would hold a push: nothing to confirm.
        if_expired = "hold"
    if if_expired == "ask" and not runtime.delivery.tokens.live(chat_id):
        # A push carries the chat's held answers first (bot/delivery.py), so
        # the quote counts their objects too.
        held = _held_objects(runtime.delivery.held(chat_id))
        objects = held + len(messages)
        return {
            "delivery": "needs_confirmation",
            "billable": math.ceil(objects / MAX_OBJECTS),
            "objects": objects,
            "held_objects": held,
        }

    policy = "push" if if_expired == "push" else "hold"
    reason = ledger.OPERATOR_CHOICE if policy == "push" else ledger.NO_TOKEN
    try:
        result = runtime.delivery.send(
            chat_id,
            messages,
            policy=policy,
            send_id=send_id,
            origin="agent",
            actor=username,
            reason=reason,
        )
    except DeliveryError as exc:
        log.warning("handoff: LINE refused %s's answer (%s)", username, exc.error.kind)
        raise ApiError(
            502, "line_refused", f"LINE refused the messages: {exc.error.message}"
        ) from None
    first = messages[0]
    conversations.record_outbound(
        conversation_id,
        first.get("type", ""),
        first.get("text") or first.get("altText") or "",
        username,
    )
    log.info(
        "handoff: %s answered %s by %s (%d billable)",
        username,
        conversation_id,
        result.delivery,
        result.billable,
    )
    return {
        "delivery": result.delivery,
        "billable": result.billable,
        "send_id": result.send_id,
    }


def _no_push(runtime, username: str) -> bool:
    """True when the budget guard (bot/budget.py) would hold this agent's push."""
    gate = runtime.delivery.budget.gate("push", origin="agent", actor=username)
    return gate.policy != "push"


def _send_id(username: str) -> str:
    """The send's id: the caller's `Idempotency-Key`, scoped to them, or new."""
    given = request.headers.get("Idempotency-Key")
    if given is None:
        return f"agent:{uuid.uuid4().hex}"
    if not given or len(given) > IDEMPOTENCY_KEY_MAX or not given.isprintable():
        raise ApiError(
            400,
            "bad_request",
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters",
            field="Idempotency-Key",
        )
    return f"agent:{username}:{given}"


# -- canned replies -------------------------------------------------------------


CANNED_SCHEMA = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
        "title": {"type": "string", "maxLength": 100},
        "text": {"type": "string"},
        "messages": {"type": "array", "minItems": 1, "maxItems": 5},
    },
}


@bp.get("/canned")
@doc("The canned replies", responses={200: "`{canned: [...]}` by code"})
@require_role("agent")
def list_canned():
    """Shared by every agent."""
    _caller()
    return {"canned": Canned(_runtime().redis).list()}


@bp.post("/canned")
@doc(
    "Add a canned reply (text, or 1 to 5 LINE message objects)",
    request=CANNED_SCHEMA,
    responses={201: "the canned reply", 409: "the code is taken"},
)
@require_role("agent")
def create_canned():
    """Messages are checked against LINE's schema when saved."""
    username, _admin = _caller()
    canned = Canned(_runtime().redis, _runtime().delivery.clock)
    try:
        item = canned.create(json_object(), username)
    except CannedError as exc:
        raise ApiError(422, "invalid", exc.message, field=exc.field) from None
    except CannedExists as exc:
        raise ApiError(
            409, "conflict", f"a canned reply {exc.args[0]!r} exists", field="code"
        ) from None
    audit(username, "canned.create", item["code"], after=item)
    return item, 201


@bp.delete("/canned/<code>")
@doc(
    "Remove a canned reply",
    responses={204: "removed", 403: "neither its author nor an admin", 404: "none"},
)
@require_role("agent")
def delete_canned(code):
    """Its author or an admin may remove it."""
    username, admin = _caller()
    canned = Canned(_runtime().redis)
    item = canned.get(code)
    if item is None:
        raise ApiError(404, "not_found", f"no canned reply {code!r}")
    if not admin and item.get("author") != username:
        raise ApiError(403, "forbidden", "only its author or an admin may remove it")
    canned.delete(code)
    audit(username, "canned.delete", code, before=item)
    return "", 204
