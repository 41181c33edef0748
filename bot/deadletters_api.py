"""Routes for dead letters: events the desk failed to handle, for admins.

`GET /api/v1/deadletters` lists them (never the user's words), `POST
/api/v1/deadletters/{event_id}/retry` files one back into its chat's inbox
and starts a drain, `DELETE /api/v1/deadletters/{event_id}` discards it.
Retrying and discarding are audited (`deadletter.retry`, `deadletter.discard`).
"""

import logging

from flask import current_app

from api import bp
from api.audit import audit
from api.auth import current_account, require_role
from api.errors import ApiError
from api.openapi import doc

log = logging.getLogger(__name__)

DEADLETTER_SCHEMA = {
    "type": "object",
    "properties": {
        "event_id": {"type": "string", "description": "the webhookEventId"},
        "chat_id": {"type": "string"},
        "event_type": {"type": "string", "description": "e.g. message, postback"},
        "message_type": {"type": "string", "nullable": True},
        "attempts": {"type": "integer"},
        "first_failed": {"type": "number", "description": "epoch seconds"},
        "last_failed": {"type": "number", "description": "epoch seconds"},
        "died_at": {"type": "number", "description": "epoch seconds"},
        "error": {"type": "string", "description": "the exception's class name"},
    },
}
LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "deadletters": {"type": "array", "items": DEADLETTER_SCHEMA},
        "count": {"type": "integer"},
    },
}


def _runtime():
    return current_app.extensions["tsunagi"]


@bp.get("/deadletters")
@doc(
    "Events whose handling failed on every attempt, newest first",
    responses={200: ("the dead letters (the newest 1000 are kept)", LIST_SCHEMA)},
)
@require_role("admin")
def list_deadletters():
    """What failed and how often, without the message text the user wrote."""
    deadletters = _runtime().inbox.deadletters
    found = deadletters.list()
    return {"deadletters": found, "count": len(found)}


@bp.post("/deadletters/<event_id>/retry")
@doc(
    "File a dead letter back into its chat's inbox for one more attempt",
    responses={
        200: ("the dead letter as it was", DEADLETTER_SCHEMA),
        404: "no such dead letter",
    },
)
@require_role("admin")
def retry_deadletter(event_id):
    """Handled anew by a worker; failing again makes it a dead letter again.

    Its reply token has usually lapsed by now, so the bot's answer is held
    for the user's next message (or pushed when the desk pushes bot answers).
    """
    runtime = _runtime()
    retried = runtime.inbox.deadletters.retry(event_id)
    if retried is None:
        raise ApiError(404, "not_found", f"no dead letter {event_id!r}")
    runtime.inbox.kick([retried["chat_id"]])
    runtime.enqueue_drains([retried["chat_id"]])
    audit(
        current_account()["username"],
        "deadletter.retry",
        event_id,
        before=retried,
    )
    return retried


@bp.delete("/deadletters/<event_id>")
@doc(
    "Discard a dead letter for good",
    responses={204: "discarded", 404: "no such dead letter"},
)
@require_role("admin")
def discard_deadletter(event_id):
    """The event is not handled; the audit log keeps what it was (no text)."""
    discarded = _runtime().inbox.deadletters.discard(event_id)
    if discarded is None:
        raise ApiError(404, "not_found", f"no dead letter {event_id!r}")
    audit(
        current_account()["username"],
        "deadletter.discard",
        event_id,
        before=discarded,
    )
    return "", 204
