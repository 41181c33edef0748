"""Route of /api/v1/audit: the audit log for admins."""

import re

from flask import current_app, jsonify, request

from api import bp
from api.audit import entries
from api.auth import require_role
from api.errors import ApiError
from api.openapi import doc

MAX_LIMIT = 200
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")

ENTRY = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "actor": {"type": "string"},
        "action": {"type": "string"},
        "target": {"type": "string", "nullable": True},
        "before": {"nullable": True},
        "after": {"nullable": True},
        "detail": {"type": "object"},
    },
}
PAGE = {
    "type": "object",
    "properties": {
        "entries": {"type": "array", "items": ENTRY},
        "next": {"type": "string", "nullable": True},
    },
}


@bp.get("/audit")
@doc(
    "Read the audit log, newest first",
    params={
        "limit": (f"entries per page, 1–{MAX_LIMIT} (50)", {"type": "integer"}),
        "before": "the `next` cursor of the previous page",
        "actor": "only entries by this username",
        "action": "only this action, or every action starting so if it ends in '.'",
        "target": "only entries about this target",
    },
    responses={200: ("a page of entries", PAGE)},
)
@require_role("admin")
def read_audit():
    """Page through with `before=<next>` until `next` is null."""
    args = request.args
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        raise ApiError(422, "invalid", "limit must be a number", "limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, "invalid", f"limit must be 1 to {MAX_LIMIT}", "limit")
    before = args.get("before") or None
    if before and not _STREAM_ID.fullmatch(before):
        raise ApiError(422, "invalid", "before must be a `next` cursor", "before")

    found, cursor = entries(
        current_app.extensions["tsunagi"].redis,
        limit=limit,
        before=before,
        actor=args.get("actor") or None,
        action=args.get("action") or None,
        target=args.get("target") or None,
    )
    return jsonify(entries=found, next=cursor)
