"""Routes for money: the month's quota, pushing held answers, rule replay.

`GET /api/v1/quota` is for every agent (the panel shows what a push costs);
syncing with LINE, approving a push of held answers and replaying a rule draft
over past traffic are for admins.
"""

import logging

from flask import current_app

from api import bp
from api.audit import audit
from api.auth import current_account, require_role
from api.errors import ApiError, json_object
from api.openapi import doc
from bot import quota
from bot.delivery import DeliveryError
from handoff import tap  # noqa: F401  (registers the tap and held settings)

log = logging.getLogger(__name__)

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "limit": {"type": "integer", "nullable": True},
        "fee": {"type": "number", "nullable": True},
        "extra_price": {"type": "number", "nullable": True},
        "currency": {"type": "string"},
        "source": {"type": "string", "enum": ["settings", "line", "unknown"]},
    },
}
QUOTA_SCHEMA = {
    "type": "object",
    "required": [
        "plan",
        "limit",
        "billable_this_month",
        "free_this_month",
        "by_day",
        "forecast_month_end",
        "advice",
    ],
    "properties": {
        "plan": PLAN_SCHEMA,
        "limit": {"type": "integer", "nullable": True},
        "billable_this_month": {
            "type": "integer",
            "description": "messages LINE counts for the desk's own sends",
        },
        "free_this_month": {"type": "integer", "description": "replies (free)"},
        "held_this_month": {"type": "integer"},
        "used_this_month": {
            "type": "integer",
            "description": "LINE's count at the last sync plus the desk's since",
        },
        "line": {"type": "object"},
        "by_day": {"type": "array", "items": {"type": "object"}},
        "forecast_month_end": {"type": "integer"},
        "guard": {"type": "object"},
        "free_only": {"type": "boolean"},
        "advice": {"type": "object", "nullable": True},
    },
}


def _runtime():
    return current_app.extensions["tsunagi"]


def _report() -> dict:
    delivery = _runtime().delivery
    return quota.report(delivery.redis, delivery.ledger, delivery.budget)


@bp.get("/quota")
@doc(
    "The month's quota: plan, use, forecast and advice",
    responses={200: ("the quota", QUOTA_SCHEMA)},
)
@require_role("agent")
def read_quota():
    """Counts come from the ledger; LINE's own count from the last sync."""
    return _report()


@bp.post("/quota/sync")
@doc(
    "Ask LINE for the plan's limit and this month's consumption now",
    responses={200: ("the quota after the sync", QUOTA_SCHEMA)},
)
@require_role("admin")
def sync_quota():
    """The worker syncs every few minutes; this is for an admin who cannot wait."""
    runtime = _runtime()
    quota.sync(runtime.redis, runtime.line, runtime.delivery.ledger)
    return _report()


@bp.post("/conversations/<conversation_id>/held/push")
@doc(
    "Push the conversation's held answers now, as one bundle (an admin's approval)",
    responses={
        200: "how it went (`delivery` push, or held when free-only is on)",
        404: "no such conversation",
        409: "nothing is held",
        502: "LINE refused the messages",
    },
)
@require_role("admin")
def push_held(conversation_id):
    """Approval lifts the budget guard and the agents' daily cap, never free-only."""
    from handoff.conversations import Conversations

    runtime = _runtime()
    username = current_account()["username"]
    conversation = Conversations(runtime.redis).get(conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"no conversation {conversation_id!r}")
    chat_id = conversation["chat_id"]
    if not runtime.delivery.held(chat_id):
        raise ApiError(409, "nothing_held", "the conversation has no held answers")
    try:
        result = runtime.delivery.release_held(
            chat_id, actor=username, approved=True, reason="operator_choice"
        )
    except DeliveryError as exc:
        raise ApiError(
            502, "line_refused", f"LINE refused the messages: {exc.error.message}"
        ) from None
    if result is None:
        return {"delivery": "held", "billable": 0, "reason": "free_only"}
    audit(username, "held.push", conversation_id, billable=result.billable)
    return {
        "delivery": result.delivery,
        "billable": result.billable,
        "send_id": result.send_id,
    }


REPLAY_SCHEMA = {
    "type": "object",
    "required": ["rule"],
    "properties": {
        "rule": {"type": "object", "description": "a rule as POST /rules takes it"},
        "days": {"type": "integer", "minimum": 1, "maximum": 90, "default": 30},
    },
}
REPLAY_RESULT = {
    "type": "object",
    "properties": {
        "events": {"type": "integer", "description": "inbound events in the window"},
        "events_with_people": {
            "type": "integer",
            "description": "left out: the bot is silent while people answer",
        },
        "answered": {"type": "integer"},
        "newly_answered": {
            "type": "integer",
            "description": "answered by a fallback or not at all before",
        },
        "taken_from_rules": {"type": "integer"},
        "handoffs_avoided": {"type": "integer"},
        "handoffs_added": {"type": "integer"},
        "pushes_saved": {"type": "integer"},
        "pushes_caused": {
            "type": "number",
            "description": "an estimate: added hand-offs times pushes per hand-off",
        },
        "pushes_net": {"type": "number"},
        "examples": {"type": "array", "items": {"type": "object"}},
    },
}


@bp.post("/rules/replay")
@doc(
    "Replay a rule draft over the stored traffic of the last N days",
    request=REPLAY_SCHEMA,
    responses={200: ("what the draft would have done", REPLAY_RESULT), 422: "invalid"},
)
@require_role("admin")
def replay_rule():
    """Nothing is saved or sent; the draft competes with the live rules by
    priority, at each event's own time (schedules hold as they did then)."""
    from bot.replay import replay
    from bot.rules import validate_rule
    from bot.rules_api import RuleRefused

    body = json_object()
    days = body.get("days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
        raise ApiError(422, "invalid", "days must be from 1 to 90", field="days")
    if "rule" not in body:
        raise ApiError(422, "invalid", "rule is required (a rule draft)", "rule")
    draft, errors = validate_rule(body["rule"], field="rule")
    if errors:
        raise RuleRefused(errors)
    runtime = _runtime()
    return replay(runtime.redis, draft, days, runtime.delivery.clock())
