"""Where the bot's answer meets the people side.

`route` sees every event the bot is about to answer (after `bot.answers.decide`)
and keeps the chat's conversation up to date. It may change or silence the
answer:

- while a conversation is `queued` or `assigned` the bot says nothing, so the
  user's reply tokens stay in the pool for the agent's answer;
- a hand-off (a rule with `handoff: true`, or the "talk to a person" postback
  `action=handoff`) moves the conversation to the queue, and the answer becomes
  the acknowledgement: the rule's own words, else the set text; outside
  business hours, the text that says when people are back.

When agents are online, the acknowledgement may wait (`handoff_agent_wait_seconds`)
while LINE's loading animation shows: an agent who answers within the wait
answers through the user's free reply token, and the acknowledgement is
dropped. Otherwise it goes out (`send_due_acks`, run by the worker's sweeper
every second) well before the token lapses.
"""

import json
import logging
import math
from urllib.parse import parse_qs

from bot.answers import Answer, forget_fallbacks
from bot.delivery import DeliveryError
from bot.history import summarize_event
from bot.ledger import TOKEN_EXPIRED
from handoff import hours, queue, settings, tap
from handoff.conversations import BOT, CLOSED, Conversations
from handoff.profiles import Profiles
from store import key

log = logging.getLogger(__name__)

#: Events that end the chat's conversation (the user blocked us, we left).
ENDING_EVENTS = ("unfollow", "leave")
#: Events that are the user speaking (and so count as unread / waiting).
SPEAKING_EVENTS = ("message", "postback")
#: A deferred acknowledgement goes out at least this long before its token lapses.
ACK_MARGIN = 10.0
#: Chats whose acknowledgement waits, scored by when it is due.
DUE_ACKS = key("handoff", "acks")


def wants_person(event: dict, answer) -> str | None:
    """Why the event asks for a person (`rule`, `fallbacks` or `postback`),
    or None."""
    if answer is not None and answer.handoff:
        return answer.handoff_reason
    if event.get("type") == "postback":
        data = parse_qs((event.get("postback") or {}).get("data", ""))
        if "handoff" in data.get("action", []):
            return "postback"
    return None


def acknowledgement(runtime, answer, now: float) -> list[dict]:
    """What the user is told on hand-off, by the business hours at `now`."""
    business_hours = settings.setting(runtime.redis, "business_hours")
    if hours.is_open(business_hours, now):
        if answer is not None and answer.messages:
            return answer.messages
        return [_text(settings.setting(runtime.redis, "handoff_ack_text"))]
    reopen = hours.describe(hours.next_open(business_hours, now))
    closed = settings.setting(runtime.redis, "handoff_closed_text")
    return [_text(closed.replace("{reopen}", reopen or "-"))]


def route(runtime, chat_id: str, event: dict, answer):
    """The answer to send for `event` (possibly changed), or None for silence."""
    conversations = Conversations(runtime.redis, runtime.delivery.clock)
    kind = event.get("type")
    if kind in ENDING_EVENTS:
        conversations.close_open(chat_id, kind)
        return answer

    source = event.get("source") or {}
    if not (source.get("userId") or source.get("groupId") or source.get("roomId")):
        # Module events and the like: nobody to talk with.
        return answer
    user_id = source.get("userId")
    conversation = conversations.ensure_open(
        chat_id, user_id, history_after=_entry_before_last(runtime, chat_id)
    )
    # A tap on "get the answer" fetches what is held; it asks nothing new.
    if kind in SPEAKING_EVENTS and not tap.is_tap(event):
        summary_kind, text, _media = summarize_event(event)
        conversation = conversations.record_inbound(
            conversation, summary_kind, text, event.get("webhookEventId") or ""
        )
    _apply_tags(conversations, user_id, answer)
    _ask_for_profile(runtime, user_id)

    event_id = event.get("webhookEventId") or ""
    # An event handled again (its worker died) that had already handed off:
    # its acknowledgement may not have gone out (the send itself is idempotent).
    retried = bool(event_id) and conversation["handoff_event"] == event_id
    if conversation["status"] != BOT and not retried:
        forget_fallbacks(runtime.redis, chat_id)
        log.info(
            "routing: %s is %s; the bot stays silent",
            conversation["id"],
            conversation["status"],
        )
        return None
    reason = wants_person(event, answer)
    if reason is None:
        return answer
    if not retried:
        conversations.handoff(conversation["id"], reason, event_id)
    now = runtime.delivery.clock()
    # The button lets the user fetch the agent's answer free (handoff/tap.py).
    messages = tap.with_button(acknowledgement(runtime, answer, now))
    if _defer(runtime, conversation["id"], chat_id, messages, now):
        return None
    return Answer(
        messages=messages,
        rule_id=answer.rule_id if answer else None,
        handoff=True,
        tags=list(answer.tags) if answer else [],
    )


def send_due_acks(runtime) -> int:
    """Send the acknowledgements whose wait is over; returns how many went out.

    An acknowledgement is dropped when an agent answered during the wait, or
    the conversation was closed. Sending is idempotent per conversation, so
    two sweepers meeting here cannot tell the user twice.
    """
    redis = runtime.redis
    now = runtime.delivery.clock()
    conversations = Conversations(redis, runtime.delivery.clock)
    sent = 0
    for chat_id in redis.zrangebyscore(DUE_ACKS, "-inf", now):
        raw = redis.get(key("handoff", "ack", chat_id))
        pending = json.loads(raw) if raw else None
        conversation = (
            conversations.get(pending["conversation_id"]) if pending else None
        )
        answered = (
            conversation
            and (conversation["last_agent_at"] or 0) >= (pending["deferred_at"])
        )
        if conversation and conversation["status"] != CLOSED and not answered:
            policy = "push" if runtime.config.push_bot_answers else "refuse"
            try:
                result = runtime.delivery.send(
                    chat_id,
                    pending["messages"],
                    policy=policy,
                    send_id=f"ack:{conversation['id']}",
                    origin="bot",
                    reason=TOKEN_EXPIRED,
                )
            except DeliveryError as err:
                # Trying again cannot help, and must not hold up the others.
                log.warning(
                    "routing: LINE refused the acknowledgement of %s (%s)",
                    chat_id,
                    err.error.kind,
                )
            else:
                sent += 1
                log.info("routing: %s acknowledged by %s", chat_id, result.delivery)
        pipe = redis.pipeline()
        pipe.zrem(DUE_ACKS, chat_id)
        pipe.delete(key("handoff", "ack", chat_id))
        pipe.execute()
    return sent


def _defer(runtime, conversation_id, chat_id, messages, now) -> bool:
    """Hold the acknowledgement back for a quick agent, if one is online.

    Only inside business hours, with a live token that outlasts the wait.
    """
    business_hours = settings.setting(runtime.redis, "business_hours")
    wait = settings.setting(runtime.redis, "handoff_agent_wait_seconds")
    if not wait or not hours.is_open(business_hours, now):
        return False
    if not queue.online(runtime.redis, now):
        return False
    free_until = runtime.delivery.tokens.free_until(chat_id)
    if free_until is None or runtime.delivery.held(chat_id):
        # Held answers go now, with the acknowledgement in the same reply.
        return False
    due = min(now + wait, free_until - ACK_MARGIN)
    if due <= now:
        return False
    pending = {
        "conversation_id": conversation_id,
        "messages": messages,
        "deferred_at": now,
    }
    pipe = runtime.redis.pipeline()
    pipe.set(
        key("handoff", "ack", chat_id),
        json.dumps(pending, ensure_ascii=False),
        ex=int(free_until - now) + 600,
    )
    pipe.zadd(DUE_ACKS, {chat_id: due})
    pipe.execute()
    _show_loading(runtime, chat_id, due - now)
    log.info("routing: %s waits up to %.0fs for an agent", chat_id, due - now)
    return True


def _show_loading(runtime, chat_id, seconds) -> None:
    """LINE's typing indicator while the user waits (one-to-one chats only)."""
    if not chat_id.startswith("U"):
        return
    seconds = min(60, max(5, 5 * math.ceil(seconds / 5)))
    try:
        runtime.line.show_loading_animation(chat_id, seconds)
    except Exception:
        # Cosmetic: the wait and the acknowledgement do not depend on it.
        log.warning("routing: loading animation for %s failed", chat_id, exc_info=True)


def _text(body: str) -> dict:
    return {"type": "text", "text": body}


def _entry_before_last(runtime, chat_id) -> str:
    """The history entry before the newest (the event being handled), or "-"."""
    rows = runtime.redis.xrevrange(key("history", chat_id), count=2)
    return rows[1][0] if len(rows) == 2 else "-"


def _apply_tags(conversations, user_id, answer) -> None:
    if not user_id or answer is None or not answer.tags:
        return
    try:
        conversations.change_tags(user_id, add=answer.tags)
    except ValueError:
        log.warning("routing: rule %s has tags that are refused", answer.rule_id)


def _ask_for_profile(runtime, user_id) -> None:
    """Queue a profile fetch; any failure is logged, never in the answer's way."""
    try:
        profiles = Profiles(runtime.redis, runtime.line, runtime.delivery.clock)
        profiles.request_refresh(runtime.queue, user_id)
    except Exception:
        log.warning("routing: profile request for %s failed", user_id, exc_info=True)
