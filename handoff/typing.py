"""The loading animation while an agent types: the user sees someone is on it.

`POST /api/v1/conversations/{id}/typing` is called by the panel while its
agent types (every few seconds is fine). LINE's `chat/loading/start` shows the
animation for 5 to 60 seconds, sends no message and costs nothing; it ends by
itself or when the next message reaches the user. Calls are rate-limited per
chat in Redis, so any number of typing events from any number of panels
become at most one LINE call per `MIN_INTERVAL`, and none while the animation
already shown has more than `RENEW_BEFORE` seconds to run.
"""

import logging

from flask import current_app, request

from api import bp
from api.auth import current_account, require_role
from api.errors import ApiError, json_object
from api.openapi import doc
from bot.line_api import LineError
from store import key

log = logging.getLogger(__name__)

DEFAULT_SECONDS = 20
#: The animation is renewed only when it has less than this left.
RENEW_BEFORE = 5.0
#: At most one LINE call per chat this often, whatever the typing events.
MIN_INTERVAL = 5.0

# KEYS[1] the chat's loading hash. ARGV: now, renew_before, min_interval,
# new_until, ttl. Claims the right to call LINE (returns 1) only when the
# animation shown is about to end and no call was made too recently.
CLAIM_SCRIPT = """
local now = tonumber(ARGV[1])
local shown = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local called = tonumber(redis.call('HGET', KEYS[1], 'called') or '0')
if shown - now > tonumber(ARGV[2]) or now - called < tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], 'until', ARGV[4], 'called', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1
"""

TYPING_SCHEMA = {
    "type": "object",
    "properties": {
        "seconds": {
            "type": "integer",
            "minimum": 5,
            "maximum": 60,
            "multipleOf": 5,
            "description": "how long to show it (default 20)",
        }
    },
}


def loading_key(chat_id: str) -> str:
    """The chat's loading state; the delivery layer clears it on every send."""
    return key("loading", chat_id)


def valid_seconds(value) -> int:
    """`value` if LINE accepts it (5 to 60, a multiple of 5), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"seconds must be a whole number, got {value!r}")
    if not 5 <= value <= 60 or value % 5:
        raise ValueError(f"seconds must be 5 to 60 in steps of 5, got {value!r}")
    return value


def show(runtime, chat_id: str, seconds: int = DEFAULT_SECONDS) -> dict:
    """Show (or renew) the animation in `chat_id` unless it is still showing.

    Returns `{"shown": bool, "loading_until": epoch seconds or None}`; raises
    `LineError` when LINE refuses (the state is then cleared for a retry
    after `MIN_INTERVAL`). Only one-to-one chats have the animation.
    """
    if not chat_id.startswith("U"):
        raise ValueError("the loading animation exists only in one-to-one chats")
    redis = runtime.redis
    now = runtime.delivery.clock()
    claim = redis.register_script(CLAIM_SCRIPT)
    name = loading_key(chat_id)
    until = now + seconds
    if not claim(
        keys=[name],
        args=[now, RENEW_BEFORE, MIN_INTERVAL, until, int(seconds + MIN_INTERVAL)],
    ):
        shown = float(redis.hget(name, "until") or 0)
        return {"shown": False, "loading_until": shown if shown > now else None}
    try:
        runtime.line.show_loading_animation(chat_id, seconds)
    except LineError:
        redis.hset(name, "until", 0)
        raise
    return {"shown": True, "loading_until": until}


@bp.post("/conversations/<conversation_id>/typing")
@doc(
    "The agent is typing: show LINE's loading animation to the user (free)",
    request=TYPING_SCHEMA,
    responses={
        200: "`{shown, loading_until}`: shown is false when it was already showing",
        403: "not the assignee",
        404: "no such conversation",
        409: "closed, or not a one-to-one chat",
        502: "LINE refused",
    },
)
@require_role("agent")
def typing(conversation_id):
    """Call it every few seconds while typing; it is renewed as it runs out."""
    from handoff import queue
    from handoff.conversations import ASSIGNED, CLOSED, Conversations

    runtime = current_app.extensions["tsunagi"]
    account = current_account()
    username = account["username"]
    queue.touch(runtime.redis, username, runtime.delivery.clock())
    body = json_object() if _has_body() else {}
    try:
        seconds = valid_seconds(body.get("seconds", DEFAULT_SECONDS))
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc), field="seconds") from None

    conversation = Conversations(runtime.redis).get(conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"no conversation {conversation_id!r}")
    if conversation["status"] == CLOSED:
        raise ApiError(409, "closed", "the conversation is closed")
    if account["role"] != "admin" and (
        conversation["status"] != ASSIGNED or conversation["assignee"] != username
    ):
        raise ApiError(403, "not_assignee", "only the assignee or an admin may type")
    chat_id = conversation["chat_id"]
    if not chat_id.startswith("U"):
        raise ApiError(
            409, "not_one_to_one", "LINE shows the animation only in one-to-one chats"
        )
    try:
        return show(runtime, chat_id, seconds)
    except LineError as err:
        log.warning("typing: LINE refused the animation for %s (%s)", chat_id, err.kind)
        raise ApiError(502, "line_refused", f"LINE refused: {err.message}") from None


def _has_body() -> bool:
    return bool(request.get_data(cache=True))
