"""Routes of /api/v1/rules: admins edit the reply rules, agents read and test them.

Every change is audited with the rule before and after. A refused rule is a
422 whose `field` names the first field at fault and whose `errors` lists
every one, so an editor can mark them all at once.
"""

import logging
from datetime import datetime

from flask import current_app, jsonify

from api import bp
from api.audit import audit
from api.auth import current_account, require_role
from api.errors import ApiError, json_object
from api.openapi import doc
from bot import answers
from bot.rules import (
    EVENT_NAMES,
    KINDS,
    RuleConflict,
    RuleInvalid,
    Rules,
    seed_defaults,
)

log = logging.getLogger(__name__)

MAX_TEST_TEXT = 5000
TEST_USER = "U" + "0" * 32

_MESSAGES = {
    "type": "array",
    "minItems": 1,
    "maxItems": 5,
    "items": {"type": "object", "description": "a LINE message object"},
}
RULE_BODY = {
    "type": "object",
    "required": ["name", "match", "reply"],
    "properties": {
        "id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9._-]{1,64}$",
            "description": "POST only, optional: a readable id (default a ULID)",
        },
        "name": {"type": "string", "maxLength": 100},
        "priority": {"type": "integer", "minimum": 0, "default": 100},
        "enabled": {"type": "boolean", "default": True},
        "match": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"type": "string", "enum": list(KINDS)},
                "patterns": {"type": "array", "items": {"type": "string"}},
                "prefix": {"type": "boolean", "description": "postback: prefix match"},
                "events": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(EVENT_NAMES)},
                },
            },
        },
        "reply": _MESSAGES,
        "handoff": {"type": "boolean", "default": False},
        "schedule": {
            "type": "object",
            "nullable": True,
            "properties": {
                "timezone": {"type": "string", "default": "Asia/Tokyo"},
                "weekdays": {"type": "array", "items": {"type": "string"}},
                "times": {
                    "type": "array",
                    "items": {"type": "string", "example": "18:00-09:00"},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "revision": {
            "type": "integer",
            "description": "PUT only: refuse (409) if the rule has moved on",
        },
    },
}
RULE = {
    "type": "object",
    "properties": {
        **RULE_BODY["properties"],
        "id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "updated_by": {"type": "string"},
    },
}
RULE_LIST = {
    "type": "object",
    "properties": {
        "rules": {"type": "array", "items": RULE},
        "version": {"type": "integer"},
    },
}
TEST_BODY = {
    "type": "object",
    "description": "exactly one of `text` and `event`",
    "properties": {
        "text": {"type": "string", "maxLength": MAX_TEST_TEXT},
        "event": {"type": "object", "description": "a LINE webhook event"},
        "at": {
            "type": "string",
            "format": "date-time",
            "description": "when to pretend the event arrives (default now)",
        },
    },
}
TEST_RESULT = {
    "type": "object",
    "properties": {
        "rule": {"type": "string", "nullable": True},
        "name": {"type": "string", "nullable": True},
        "handoff": {"type": "boolean"},
        "messages": _MESSAGES | {"minItems": 0},
    },
}
INVALID = (
    "a field is invalid; `errors` lists every field at fault",
    {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
)


class RuleRefused(ApiError):
    """422 naming the first field at fault and listing all of them."""

    def __init__(self, errors: list[dict]):
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(
            422, "invalid", f"{first['field']} {first['message']}{more}", first["field"]
        )
        self.errors = errors

    def response(self):
        resp = super().response()
        body = resp.get_json()
        body["errors"] = self.errors
        resp.set_data(current_app.json.dumps(body))
        return resp


def _redis():
    return current_app.extensions["tsunagi"].redis


def _rules() -> Rules:
    """The rule store, with the shipped defaults on a desk that never had rules."""
    redis_client = _redis()
    seed_defaults(redis_client)
    return Rules(redis_client)


def _actor() -> str:
    return current_account()["username"]


def _rule_or_404(rules: Rules, rule_id: str) -> dict:
    rule = rules.get(rule_id)
    if rule is None:
        raise ApiError(404, "not_found", f"no rule with id {rule_id!r}")
    return rule


@bp.get("/rules")
@doc("List the reply rules in matching order", responses={200: ("rules", RULE_LIST)})
@require_role("agent")
def list_rules():
    """Rules sorted as the matcher tries them: priority, kind, id."""
    rules = _rules()
    version, items = rules.snapshot()
    return jsonify(rules=items, version=version)


@bp.post("/rules")
@doc(
    "Create a reply rule",
    request=RULE_BODY,
    responses={201: ("the new rule", RULE), 409: "the id is taken", 422: INVALID},
)
@require_role("admin")
def create_rule():
    """Every process answers from the new rule within a second."""
    body = json_object()
    try:
        rule = _rules().create(body, actor=_actor())
    except RuleInvalid as exc:
        raise RuleRefused(exc.errors) from None
    except RuleConflict as exc:
        raise ApiError(409, "conflict", str(exc), "id") from None
    audit(_actor(), "rule.create", rule["id"], after=rule)
    return jsonify(rule), 201


@bp.get("/rules/<rule_id>")
@doc("One reply rule", responses={200: ("the rule", RULE), 404: "no such rule"})
@require_role("agent")
def get_rule(rule_id):
    return jsonify(_rule_or_404(_rules(), rule_id))


@bp.put("/rules/<rule_id>")
@doc(
    "Replace a reply rule",
    request=RULE_BODY,
    responses={
        200: ("the rule", RULE),
        404: "no such rule",
        409: "the rule changed since `revision`",
        422: INVALID,
    },
)
@require_role("admin")
def update_rule(rule_id):
    """The body is the whole rule; with `revision`, a stale edit is refused."""
    body = json_object()
    if "id" in body and body["id"] != rule_id:
        raise ApiError(422, "invalid", "id does not match the URL", "id")
    try:
        changed = _rules().update(rule_id, body, actor=_actor())
    except RuleInvalid as exc:
        raise RuleRefused(exc.errors) from None
    except RuleConflict as exc:
        raise ApiError(409, "conflict", str(exc), "revision") from None
    if changed is None:
        raise ApiError(404, "not_found", f"no rule with id {rule_id!r}")
    before, after = changed
    audit(_actor(), "rule.update", rule_id, before=before, after=after)
    return jsonify(after)


@bp.delete("/rules/<rule_id>")
@doc("Delete a reply rule", responses={204: "deleted", 404: "no such rule"})
@require_role("admin")
def delete_rule(rule_id):
    before = _rules().delete(rule_id, actor=_actor())
    if before is None:
        raise ApiError(404, "not_found", f"no rule with id {rule_id!r}")
    audit(_actor(), "rule.delete", rule_id, before=before)
    return "", 204


@bp.post("/rules/test")
@doc(
    "Which rule would answer a text or an event, and with what",
    request=TEST_BODY,
    responses={200: ("the rule and its messages; nothing is sent", TEST_RESULT)},
)
@require_role("agent")
def test_rules():
    """Nothing is sent, counted or recorded; `{display_name}` shows its fallback."""
    body = json_object()
    event = _test_event(body)
    when = _test_time(body.get("at"))
    rule, messages = answers.preview(current_app.extensions["tsunagi"], event, when)
    return jsonify(
        rule=rule and rule["id"],
        name=rule and rule["name"],
        handoff=bool(rule and rule.get("handoff")),
        messages=messages,
    )


def _test_event(body: dict) -> dict:
    unknown = sorted(set(body) - {"text", "event", "at"})
    if unknown:
        raise ApiError(422, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    if ("text" in body) == ("event" in body):
        raise ApiError(422, "invalid", "give exactly one of text and event", "text")
    if "text" in body:
        text = body["text"]
        if not isinstance(text, str) or not text:
            raise ApiError(422, "invalid", "text must be a non-empty string", "text")
        if len(text) > MAX_TEST_TEXT:
            raise ApiError(
                422,
                "invalid",
                f"text must be at most {MAX_TEST_TEXT} characters",
                "text",
            )
        return {
            "type": "message",
            "source": {"type": "user", "userId": TEST_USER},
            "message": {"id": "0", "type": "text", "text": text},
        }
    event = body["event"]
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ApiError(
            422,
            "invalid",
            "event must be a LINE webhook event with a type",
            "event.type",
        )
    for part, inner in (("source", None), ("message", "text"), ("postback", "data")):
        value = event.get(part)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ApiError(422, "invalid", "must be an object", f"event.{part}")
        if inner in value and not isinstance(value[inner], str):
            field = f"event.{part}.{inner}"
            raise ApiError(422, "invalid", f"{field} must be a string", field)
    return {"source": {"type": "user", "userId": TEST_USER}, **event}


def _test_time(value):
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ApiError(
            422,
            "invalid",
            "at must be an ISO 8601 time with its offset, e.g. 2026-12-07T19:00+09:00",
            "at",
        )
    return when
