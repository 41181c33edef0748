"""Handling one webhook event: record it, keep its token, answer it.

Called by the inbox for each event, in LINE's order per chat. Each step is
safe to run again: a worker that died mid-event leaves it to be handled anew,
and the event is recorded once and answered at most once.
"""

import logging

from bot import answers
from bot.inbox import event_id_of
from bot.tokens import token_deadline
from handoff import routing
from store import key

log = logging.getLogger(__name__)

#: How long the "recorded" mark of an event is kept (as long as its dedupe).
STAGE_TTL = 48 * 3600


def handle(runtime, payload: dict) -> None:
    """Handle one stored event (`payload` as the inbox keeps it)."""
    event = payload["event"]
    chat_id = payload["chat_id"]
    event_id = payload.get("event_id") or event_id_of(event)
    kind = event.get("type", "unknown")
    _record(runtime, chat_id, event, event_id, payload["arrival"])
    if kind == "unfollow":
        # Blocked: what is held for the user is dropped (recorded), and
        # nothing is pushed or held for them until they follow again. In
        # standby mode too: the block is the user's, whichever channel is
        # active.
        runtime.delivery.unfollowed(chat_id)
    elif kind == "follow":
        runtime.delivery.followed(chat_id)

    if event.get("mode") == "standby":
        log.info("events: %s %s in standby mode, not answered", kind, event_id)
        return
    delivery = runtime.delivery
    answer = answers.decide(runtime, event, chat_id)
    answer = routing.route(runtime, chat_id, event, answer)
    send_id = f"auto:{event_id}"
    if answer is None or not answer.messages:
        if event.get("replyToken"):
            delivery.flush_held(chat_id)
        log.info("events: %s %s for %s needs no answer", kind, event_id, chat_id)
        return
    messages = answer.messages
    if event.get("replyToken"):
        # Answers held for this user go first, and this one with them in the
        # same reply when it fits (then the send below has nothing to do).
        then = {"messages": messages, "send_id": send_id, "origin": "bot", "actor": ""}
        delivery.flush_held(chat_id, then=then)
    # An answer whose token lapsed before it could go (a backlog after an
    # outage, a retry of a failed event) is held for the user's next token,
    # free, rather than lost; pushed only when the desk may push the bot.
    # Held past `bot_answer_hold_minutes` it is dropped (recorded) instead,
    # so a stale automatic answer never arrives ahead of a new one.
    policy = "push" if runtime.config.push_bot_answers else "hold"
    result = delivery.send(
        chat_id,
        messages,
        policy=policy,
        send_id=send_id,
        origin="bot",
        reason="token_expired",
    )
    log.info("events: %s %s answered by %s", kind, event_id, result.delivery)


def _record(runtime, chat_id, event, event_id, arrival) -> None:
    """Write the event to history and its token to the pool, once."""
    stage_key = key("stage", event_id)
    if runtime.redis.get(stage_key):
        return
    reply_token = event.get("replyToken")
    if reply_token and event.get("mode") != "standby":
        deadline = token_deadline(event, arrival, runtime.config.line_reply_token_ttl)
        if not runtime.delivery.tokens.add(chat_id, reply_token, deadline):
            log.info("events: %s arrived with a lapsed token", event_id)
    pipe = runtime.redis.pipeline()
    runtime.delivery.history.record_event(pipe, chat_id, event, when=arrival)
    pipe.set(stage_key, "recorded", ex=STAGE_TTL)
    pipe.execute()
