"""Routes of /api/v1/settings: the desk's one settings document."""

import logging

from flask import jsonify

from api import bp
from api.audit import audit
from api.auth import current_account, require_role
from api.errors import ApiError, json_object
from api.openapi import doc
from api.settings import InvalidSetting, get_settings, registered, update_settings

log = logging.getLogger(__name__)

DOCUMENT = {
    "type": "object",
    "description": "every registered key with its value; see GET for the keys",
    "additionalProperties": True,
}


def _redis():
    from flask import current_app

    return current_app.extensions["tsunagi"].redis


@bp.get("/settings")
@doc("The desk's settings", responses={200: ("the settings document", DOCUMENT)})
@require_role("agent")
def read_settings():
    """Every registered key with its current value."""
    return jsonify(get_settings(_redis()))


@bp.get("/settings/keys")
@doc(
    "What each setting means and its default",
    responses={200: ("key → {default, description}", {"type": "object"})},
)
@require_role("agent")
def setting_keys():
    """For forms: each key's default and description."""
    return jsonify(
        {
            name: {"default": s.default, "description": s.description}
            for name, s in sorted(registered().items())
        }
    )


@bp.put("/settings")
@doc(
    "Change settings",
    request=DOCUMENT,
    responses={200: ("the whole document after the change", DOCUMENT)},
)
@require_role("admin")
def write_settings():
    """Keys given are set (null returns a key to its default); keys left out
    keep their value. Every key is checked first: an unknown key or a bad
    value is a 422 naming it, and nothing is changed."""
    body = json_object()
    try:
        before, after = update_settings(_redis(), body)
    except InvalidSetting as exc:
        raise ApiError(
            422, "invalid", f"{exc.field}: {exc.message}", exc.field
        ) from None
    if after:
        audit(
            current_account()["username"],
            "settings.update",
            "settings",
            before=before,
            after=after,
        )
        log.info("settings: %s changed", ", ".join(sorted(after)))
    return jsonify(get_settings(_redis()))
