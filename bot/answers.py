"""What the bot says: the answer the admin-edited rules give to an event.

`decide` is the single seam between handling an event and choosing words: it
returns an `Answer` (message objects plus what else the chosen rule asks for),
or None to stay silent. The rules themselves are in bot/rules.py, the index
that picks one in bot/matcher.py; the shipped texts are bot/default_rules.yml.
"""

import copy
import logging
from dataclasses import dataclass, field

import redis

from api.settings import get_setting, integer, register_setting
from bot.matcher import rulebook
from bot.schedule import now_utc
from handoff.profiles import Profiles
from store import key

log = logging.getLogger(__name__)

FALLBACKS_SETTING = "fallbacks_before_offer"
register_setting(
    FALLBACKS_SETTING,
    2,
    integer(0, 100),
    "Fallback answers in a row after which the bot offers a person (0: never).",
)
HANDOFF_FALLBACKS_SETTING = "fallbacks_before_handoff"
register_setting(
    HANDOFF_FALLBACKS_SETTING,
    3,
    integer(0, 100),
    "Fallback answers in a row at which the bot gives up and hands the user to "
    "a person instead (0: never; one-to-one chats only).",
)

#: The quick reply that offers a person; its postback is answered by the
#: shipped hand-off rule. A quick reply label holds at most 20 characters.
HANDOFF_DATA = "action=handoff"
OFFER_PERSON = {
    "type": "action",
    "action": {
        "type": "postback",
        "label": "担当者と話す / Talk to us",
        "data": HANDOFF_DATA,
        "displayText": "担当者と話す / Talk to a person",
    },
}
MAX_QUICK_REPLY_ITEMS = 13

#: Stands in for `{display_name}` when the profile is unknown (a group
#: member, a blocked profile, LINE unreachable): never the literal braces.
DISPLAY_NAME_FALLBACK = "お客様"
PLACEHOLDER = "{display_name}"
#: LINE's limit on a text message's length.
MAX_TEXT = 5000
FALLBACK_STREAK_TTL = 7 * 24 * 3600


@dataclass
class Answer:
    """The bot's decision for one event.

    `handoff` asks for a person, for `handoff_reason` (`rule`, or
    `fallbacks` when the bot gave up); `rule_id` names the rule that matched
    (None for built-in answers); `tags` are added to the user.
    """

    messages: list = field(default_factory=list)
    rule_id: str | None = None
    handoff: bool = False
    tags: list = field(default_factory=list)
    handoff_reason: str = "rule"


def decide(runtime, event: dict, chat_id: str):
    """The bot's answer to `event`, or None to stay silent.

    In groups and rooms only rules that match speak: a fallback there would
    answer every remark people make to each other.
    """
    one_to_one = (event.get("source") or {}).get("type") == "user"
    matcher = rulebook(runtime.redis).matcher()
    rule = matcher.match(event, now_utc(), fallback=one_to_one)
    streak = 0
    if event.get("type") in ("message", "postback"):
        event_id = event.get("webhookEventId")
        streak = _count_fallbacks(runtime.redis, chat_id, rule, event_id)
    if rule is None:
        return None

    if rule["match"]["kind"] == "fallback":
        give_up = get_setting(runtime.redis, HANDOFF_FALLBACKS_SETTING)
        if give_up and streak >= give_up:
            # The bot has not understood this many times in a row: another
            # "sorry" helps nobody. The hand-off's acknowledgement answers.
            log.info("answers: %d fallbacks in a row; handing off", streak)
            return Answer([], rule["id"], True, rule["tags"], "fallbacks")
    messages = render(rule["reply"], lambda: display_name(runtime, event))
    if rule["match"]["kind"] == "fallback":
        threshold = get_setting(runtime.redis, FALLBACKS_SETTING)
        if threshold and streak >= threshold:
            messages = offer_person(messages)
    log.info("answers: rule %s answers %s", rule["id"], event.get("type"))
    return Answer(messages, rule["id"], rule.get("handoff", False), rule["tags"])


def preview(runtime, event: dict, now=None) -> tuple[dict | None, list]:
    """`(rule, messages)` that `event` would get at `now` (default: now).

    For the rules console's test box: nothing is sent, counted or recorded,
    and placeholders show their fallback.
    """
    one_to_one = (event.get("source") or {}).get("type", "user") == "user"
    matcher = rulebook(runtime.redis).matcher()
    rule = matcher.match(event, now or now_utc(), fallback=one_to_one)
    if rule is None:
        return None, []
    return rule, render(rule["reply"], lambda: DISPLAY_NAME_FALLBACK)


def _count_fallbacks(redis_client, chat_id: str, rule, event_id) -> int:
    """The chat's run of fallback answers, this one included (0 when broken).

    An event handled again (a worker died after deciding, or a failed event
    retried after the user wrote more) is not counted twice: the ids of the
    events counted in the run are kept beside the count.
    """
    streak_key = key("fallbacks", chat_id)
    if rule is None or rule["match"]["kind"] != "fallback":
        forget_fallbacks(redis_client, chat_id)
        return 0
    pipe = redis_client.pipeline()
    if event_id:
        counted_key = key("fallbacks", chat_id, "events")
        pipe.sadd(counted_key, event_id)
        pipe.expire(counted_key, FALLBACK_STREAK_TTL)
        pipe.get(streak_key)
        added, _, streak = pipe.execute()
        if not added:
            return int(streak or 0)
    pipe.incr(streak_key)
    pipe.expire(streak_key, FALLBACK_STREAK_TTL)
    return pipe.execute()[0]


def forget_fallbacks(redis_client, chat_id: str) -> None:
    """End the chat's run of fallback answers.

    While people have the chat the bot's answers are not sent, so they are
    no run the user saw: the hand-off routing calls this then, and the first
    fallback after the conversation closes starts a new run.
    """
    redis_client.delete(key("fallbacks", chat_id), key("fallbacks", chat_id, "events"))


def offer_person(messages: list) -> list:
    """`messages` with the "talk to a person" quick reply on the last one.

    LINE shows only the last message's quick reply. An item already offering
    a person is not repeated; a full set of 13 items loses its last one.
    """
    messages = copy.deepcopy(messages)
    last = messages[-1]
    items = last.setdefault("quickReply", {}).setdefault("items", [])
    if any((item.get("action") or {}).get("data") == HANDOFF_DATA for item in items):
        return messages
    del items[MAX_QUICK_REPLY_ITEMS - 1 :]
    items.append(copy.deepcopy(OFFER_PERSON))
    return messages


def render(reply: list, name_of) -> list:
    """A copy of `reply` with `{display_name}` filled in text messages.

    `name_of` is called only when a placeholder is present, so rules without
    one never cost a profile look-up. The positions of LINE emojis (`$` at
    `emojis[].index`) after a placeholder move with the name's length, or LINE
    would refuse the reply; a name that would take the text past LINE's 5,000
    characters is cut short.
    """
    messages = copy.deepcopy(reply)
    name = None
    for message in messages:
        text = message.get("text")
        if message.get("type") != "text" or PLACEHOLDER not in text:
            continue
        if name is None:
            name = name_of() or DISPLAY_NAME_FALLBACK
        count = text.count(PLACEHOLDER)
        room = MAX_TEXT - len(text) + count * len(PLACEHOLDER)
        fitted = name[: max(0, room // count)]
        message["text"] = text.replace(PLACEHOLDER, fitted)
        grow = len(fitted) - len(PLACEHOLDER)
        for emoji in message.get("emojis") or []:
            before = text.count(PLACEHOLDER, 0, emoji.get("index", 0))
            emoji["index"] = emoji.get("index", 0) + before * grow
    return messages


def display_name(runtime, event: dict) -> str | None:
    """The LINE display name of the user behind `event`, or None.

    Read from the hand-off's profile cache; a user not cached yet (a follow is
    usually a user's first event) is fetched once, here, and cached for
    everyone. Only rules whose text has a placeholder get here, and a failure
    gives None (the neutral fallback), never a lost answer. Group members are
    not looked up: their profile needs the group's own endpoint.
    """
    source = event.get("source") or {}
    user_id = source.get("userId")
    if source.get("type") != "user" or not user_id:
        return None
    profiles = Profiles(runtime.redis, runtime.line)
    try:
        profile = profiles.get(user_id)
        if profile is None and hasattr(runtime.line, "get_profile"):
            profile = profiles.refresh(user_id)
    except redis.RedisError:
        log.warning("answers: profile cache unavailable for %s", user_id)
        return None
    return (profile or {}).get("display_name") or None
