"""The hand-off's keys in the desk's settings document (`/api/v1/settings`).

Registered on import by every module that reads them, so the worker (which
never imports the API) knows them as well as the web process does.
"""

import logging

from api.settings import get_setting, integer, register_setting
from handoff.hours import DEFAULT_HOURS, validate_hours

log = logging.getLogger(__name__)

IF_EXPIRED = ("push", "hold", "ask")
TEXT_MAX = 5000

ACK_TEXT = (
    "担当者におつなぎします。少々お待ちください。\n"
    "We are connecting you with a person. Please wait a moment."
)
CLOSED_TEXT = (
    "ただいま営業時間外です。{reopen} から担当者が対応します。\n"
    "We are closed now. A person will answer from {reopen}."
)


def _choice(options):
    def validate(value):
        if value not in options:
            raise ValueError(f"must be one of {list(options)}, got {value!r}")
        return value

    return validate


def _text(value):
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
        raise ValueError(f"must be text of 1 to {TEXT_MAX} characters")
    return value


register_setting(
    "business_hours",
    DEFAULT_HOURS,
    validate_hours,
    "When people answer: per weekday ranges, time zone, holidays.",
)
register_setting(
    "handoff_if_expired",
    "ask",
    _choice(IF_EXPIRED),
    "What an agent's answer does when the free window has shut: push, hold, ask.",
)
register_setting(
    "handoff_auto_close_minutes",
    30,
    integer(0, 7 * 24 * 60),
    "Close a conversation after this many minutes of user silence (0: never).",
)
register_setting(
    "handoff_agent_idle_minutes",
    15,
    integer(0, 24 * 60),
    "Return a conversation to the queue when its agent is away this long (0: never).",
)
register_setting(
    "handoff_agent_wait_seconds",
    20,
    integer(0, 45),
    "On hand-off with agents online, wait this long for an agent's first answer "
    "(it then goes by the user's free reply token) before telling the user a "
    "person will answer (0: tell at once).",
)
register_setting(
    "handoff_ack_text",
    ACK_TEXT,
    _text,
    "Told to the user on hand-off when the hand-off rule has no words of its own.",
)
register_setting(
    "handoff_closed_text",
    CLOSED_TEXT,
    _text,
    "Told to the user on hand-off outside business hours; {reopen} is the time.",
)


def setting(redis, name: str):
    return get_setting(redis, name)
