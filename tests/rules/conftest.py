"""Helpers for the rules tests: rule bodies and events in LINE's shapes."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import (  # noqa: F401  (logged-in callers for API tests)
    accounts,
    admin,
    agent,
    cheap_hashing,
    clock,
)
from tests.helpers import follow_event, text_event

TOKYO = ZoneInfo("Asia/Tokyo")


def rule(name="rule", kind="contains", patterns=("りんご",), **extra):
    """A valid rule body; `extra` overrides or adds fields."""
    match = {"kind": kind}
    if kind in ("exact", "contains", "regex", "postback"):
        match["patterns"] = list(patterns)
    if kind == "event":
        match["events"] = list(patterns)
    body = {
        "name": name,
        "priority": 100,
        "match": match,
        "reply": [{"type": "text", "text": f"reply of {name}"}],
    }
    body.update(extra)
    return body


def stored(rule_id, **kwargs):
    """A rule as the store returns it (with an id), for building matchers."""
    from bot.rules import validate_rule

    cleaned, errors = validate_rule(rule(**kwargs))
    assert errors == []
    return {"id": rule_id, **cleaned}


def postback_event(data, user_id="U" + "1" * 32):
    event = follow_event(user_id)
    event["type"] = "postback"
    event.pop("follow")
    event["postback"] = {"data": data}
    return event


def message_event(message_type, user_id="U" + "1" * 32):
    event = text_event(user_id)
    event["message"] = {"id": "1", "type": message_type}
    return event


def group_text_event(text):
    event = text_event(text=text)
    event["source"] = {"type": "group", "groupId": "C" + "2" * 32, "userId": "U1"}
    return event


def tokyo(*args):
    """An aware datetime in Tokyo: tokyo(2026, 12, 7, 9, 0) is a Monday 09:00."""
    return datetime(*args, tzinfo=TOKYO)


@pytest.fixture
def now():
    return tokyo(2026, 12, 7, 12, 0)  # a Monday noon


__all__ = [
    "rule",
    "stored",
    "postback_event",
    "message_event",
    "group_text_event",
    "tokyo",
    "text_event",
    "follow_event",
]
