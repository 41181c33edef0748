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
"""

import logging
from urllib.parse import parse_qs

from bot.answers import Answer
from bot.history import summarize_event
from handoff import hours, settings
from handoff.conversations import BOT, Conversations
from handoff.profiles import Profiles
from store import key

log = logging.getLogger(__name__)

#: Events that end the chat's conversation (the user blocked us, we left).
ENDING_EVENTS = ("unfollow", "leave")
#: Events that are the user speaking (and so count as unread / waiting).
SPEAKING_EVENTS = ("message", "postback")


def wants_person(event: dict, answer) -> str | None:
    """Why the event asks for a person (`rule` or `postback`), or None."""
    if answer is not None and answer.handoff:
        return "rule"
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

    user_id = (event.get("source") or {}).get("userId")
    conversation = conversations.ensure_open(
        chat_id, user_id, history_after=_entry_before_last(runtime, chat_id)
    )
    if kind in SPEAKING_EVENTS:
        summary_kind, text, _media = summarize_event(event)
        conversation = conversations.record_inbound(conversation, summary_kind, text)
    _apply_tags(conversations, user_id, answer)
    _ask_for_profile(runtime, user_id)

    if conversation["status"] != BOT:
        log.info(
            "routing: %s is %s; the bot stays silent",
            conversation["id"],
            conversation["status"],
        )
        return None
    reason = wants_person(event, answer)
    if reason is None:
        return answer
    conversations.handoff(conversation["id"], reason)
    messages = acknowledgement(runtime, answer, runtime.delivery.clock())
    return Answer(
        messages=messages,
        rule_id=answer.rule_id if answer else None,
        handoff=True,
        tags=list(answer.tags) if answer else [],
    )


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
