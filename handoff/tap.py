"""Tap to receive: keep a free way open to a user who waits for an agent.

An agent's answer is free only through a live reply token, and a token lives
about a minute. When a conversation waits for an agent and the user's last
live token is about to lapse (`tap_lead_seconds` before), `offer_taps` spends
that token on a short message with a quick-reply button; the hand-off
acknowledgement carries the same button. The user's tap is a postback event:
it brings a fresh token, and whatever was held for the user goes out through
it first (bot/events.py flushes held answers before anything else).

A token is spent this way only while an agent's answer is awaited, and at
most once per lapse (a Redis mark per chat and deadline decides). Answers
still held after `held_max_minutes` are left to `held_after_wait`: one bundled
push (still subject to free-only and the budget guard), or keep holding.
Both run from the worker's sweeper (`upkeep`).
"""

import copy
import logging

from api.settings import get_setting, integer, register_setting
from handoff import hours
from handoff.conversations import ASSIGNED, QUEUED, Conversations
from store import key

log = logging.getLogger(__name__)

TAP_DATA = "action=receive"
#: A quick reply's label holds at most 20 characters.
TAP_BUTTON = {
    "type": "action",
    "action": {
        "type": "postback",
        "label": "回答を受け取る/Get answer",
        "data": TAP_DATA,
        "displayText": "回答を受け取る / Get the answer",
    },
}
TAP_TEXT = (
    "担当者が回答を準備しています。ボタンを押すと回答を受け取れます。\n"
    "A person is preparing your answer. Tap the button below to get it."
)
MAX_QUICK_REPLY_ITEMS = 13
HELD_AFTER_WAIT = ("push", "keep")
#: How long a tap mark is kept (longer than any token lives).
MARK_TTL = 3600
#: A chat whose held answers the guard kept is looked at again after this.
HELD_RECHECK = 60
#: One upkeep pass per this many seconds across all workers.
UPKEEP_EVERY = 0.9
UPKEEP_MARK = key("tap", "upkeep")


def _text(value):
    if not isinstance(value, str) or not value.strip() or len(value) > 5000:
        raise ValueError("must be text of 1 to 5000 characters")
    return value


def _held_choice(value):
    if value not in HELD_AFTER_WAIT:
        raise ValueError(f"must be one of {list(HELD_AFTER_WAIT)}, got {value!r}")
    return value


register_setting(
    "tap_lead_seconds",
    10,
    integer(0, 55),
    "While a user waits for an agent, spend their last reply token this many "
    "seconds before it lapses on a 'get the answer' button (0: never).",
)
register_setting(
    "tap_text",
    TAP_TEXT,
    _text,
    "The short message that carries the 'get the answer' button.",
)
register_setting(
    "held_max_minutes",
    30,
    integer(1, 7 * 24 * 60),
    "Answers held this long are handled by `held_after_wait`.",
)
register_setting(
    "held_after_wait",
    "push",
    _held_choice,
    "What becomes of answers held too long: one bundled push (free-only and "
    "the budget guard still apply), or keep holding.",
)


def with_button(messages: list[dict]) -> list[dict]:
    """A copy of `messages` whose last one offers the 'get the answer' button.

    LINE shows only the last message's quick reply; a full set of 13 items
    loses its last one, and the button is never added twice.
    """
    messages = copy.deepcopy(messages)
    items = messages[-1].setdefault("quickReply", {}).setdefault("items", [])
    if any((item.get("action") or {}).get("data") == TAP_DATA for item in items):
        return messages
    del items[MAX_QUICK_REPLY_ITEMS - 1 :]
    items.append(copy.deepcopy(TAP_BUTTON))
    return messages


def is_tap(event: dict) -> bool:
    """True when `event` is the user tapping the button."""
    return (
        event.get("type") == "postback"
        and (event.get("postback") or {}).get("data") == TAP_DATA
    )


def awaiting(runtime) -> list[dict]:
    """Open conversations whose user waits for an agent's answer."""
    conversations = Conversations(runtime.redis, runtime.delivery.clock)
    found = []
    for status in (QUEUED, ASSIGNED):
        for conversation in conversations.many(
            conversations.ids(status, limit=100_000)
        ):
            if conversation["first_unanswered_at"] is not None:
                found.append(conversation)
    return found


def offer_taps(runtime) -> int:
    """Spend lapsing tokens of waiting users on the button; returns how many.

    Outside business hours a conversation still in the queue is skipped:
    nobody is preparing its answer, and the user was told when people are
    back. One an agent has taken is offered the button at any hour.
    """
    redis = runtime.redis
    lead = get_setting(redis, "tap_lead_seconds")
    if not lead:
        return 0
    delivery = runtime.delivery
    now = delivery.clock()
    desk_open = hours.is_open(get_setting(redis, "business_hours"), now)
    offered = 0
    for conversation in awaiting(runtime):
        if not desk_open and conversation["status"] == QUEUED:
            continue
        chat_id = conversation["chat_id"]
        free_until = delivery.tokens.free_until(chat_id)
        if free_until is None or free_until - now > lead:
            continue
        if redis.exists(key("handoff", "ack", chat_id)):
            # A deferred hand-off acknowledgement (handoff/routing.py) will
            # spend this token before it lapses, and carries the same button.
            continue
        lapse = int(free_until * 1000)
        mark = key("tap", chat_id, lapse)
        if not redis.set(mark, "1", nx=True, ex=MARK_TTL):
            continue
        messages = with_button(
            [{"type": "text", "text": get_setting(redis, "tap_text")}]
        )
        result = delivery.send(
            chat_id,
            messages,
            policy="refuse",
            send_id=f"tap:{chat_id}:{lapse}",
            origin="system",
            reason="tap_offer",
        )
        if result.delivery == "reply":
            offered += 1
            log.info("tap: %s offered the button before its token lapsed", chat_id)
    return offered


def release_overdue(runtime) -> int:
    """Apply `held_after_wait` to answers held too long; returns pushes made."""
    redis = runtime.redis
    if get_setting(redis, "held_after_wait") != "push":
        return 0
    delivery = runtime.delivery
    now = delivery.clock()
    overdue = delivery.held_chats(now - get_setting(redis, "held_max_minutes") * 60)
    pushed = 0
    for chat_id in overdue:
        if not redis.set(key("tap", "held", chat_id), "1", nx=True, ex=HELD_RECHECK):
            continue
        if not runtime.config.push_bot_answers and all(
            item["origin"] == "bot" for item in delivery.held(chat_id)
        ):
            # Only the bot's answers wait, and the bot does not push: they
            # stay for the user's next token. Beside an agent's answer they
            # ride in the same push, which LINE bills once per request.
            continue
        try:
            result = delivery.release_held(chat_id, reason="held_expired")
        except Exception:
            log.warning(
                "tap: pushing held answers of %s failed", chat_id, exc_info=True
            )
            continue
        if result is not None:
            pushed += 1
            redis.delete(key("tap", "held", chat_id))
    return pushed


def upkeep(runtime) -> dict:
    """The sweeper's pass: offer the button, then push answers held too long.

    Every worker's sweeper calls it each second; one pass per `UPKEEP_EVERY`
    of the desk's clock is enough, so the others return at once. Two passes
    meeting are harmless (the tap marks and the chat lock decide).
    """
    redis = runtime.redis
    now = runtime.delivery.clock()
    last = redis.get(UPKEEP_MARK)
    if last is not None and 0 <= now - float(last) < UPKEEP_EVERY:
        return {"offered": 0, "released": 0}
    redis.set(UPKEEP_MARK, f"{now:.3f}", ex=3600)
    return {"offered": offer_taps(runtime), "released": release_overdue(runtime)}
