"""Routes of /api/v1/auth: API tokens and the caller's own account."""

import logging

from flask import g, jsonify, request

from api import bp
from api.audit import audit
from api.auth import (
    agents,
    csrf_token,
    login,
    login_session,
    public,
    require_role,
    tokens,
)
from api.errors import ApiError, json_object
from api.openapi import doc
from api.settings import get_setting
from handoff.agents import InvalidAccount, check_password

log = logging.getLogger(__name__)

CREDENTIALS = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}
TOKEN = {
    "type": "object",
    "required": ["token", "expires_at"],
    "properties": {
        "token": {"type": "string"},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}
ACCOUNT = {
    "type": "object",
    "properties": {
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "role": {"type": "string", "enum": ["agent", "admin"]},
        "language": {"type": "string", "enum": ["ja", "en"]},
        "active": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
OWN_CHANGES = {
    "type": "object",
    "properties": {
        "display_name": {"type": "string"},
        "language": {"type": "string", "enum": ["ja", "en"]},
        "password": {"type": "string", "minLength": 10},
        "current_password": {
            "type": "string",
            "description": "required to change the password",
        },
    },
}


@bp.post("/auth/token")
@public
@doc(
    "Exchange a username and password for an API token",
    request=CREDENTIALS,
    responses={
        200: ("a new token", TOKEN),
        401: "wrong username or password",
        429: "too many failed logins; see Retry-After",
    },
)
def issue_token():
    """Wrong credentials get one answer whether the username exists or not."""
    body = json_object()
    account = login(body.get("username"), body.get("password"))
    ttl = get_setting(agents().redis, "api_token_ttl_hours") * 3600
    epoch = agents().epoch(account["username"])
    issued = tokens().issue(account["username"], epoch, ttl)
    audit(
        account["username"],
        "auth.login",
        account["username"],
        method="token",
        address=request.remote_addr,
    )
    return jsonify(issued)


@bp.delete("/auth/token")
@doc(
    "Revoke the bearer token this request is made with",
    responses={204: "revoked", 400: "the request was not made with a token"},
)
@require_role("agent")
def revoke_token():
    """Log out an API client; its token stops working at once."""
    if g.auth != "token":
        raise ApiError(
            400, "bad_request", "send the token to revoke as 'Authorization: Bearer'"
        )
    tokens().revoke(g.token)
    audit(g.account["username"], "auth.logout", g.account["username"], method="token")
    return "", 204


@bp.get("/auth/me")
@doc("The calling account", responses={200: ("the account", ACCOUNT)})
@require_role("agent")
def me():
    """Who the caller is logged in as."""
    return jsonify(g.account)


def _check_current_password(username: str, password) -> None:
    """422 unless `password` is the caller's; counted by the login throttle,
    so a borrowed session cannot be used to guess the password."""
    try:
        login(username, password)
    except ApiError as exc:
        if exc.status == 429:
            raise
        raise ApiError(
            422, "invalid", "current_password is wrong", "current_password"
        ) from None


@bp.patch("/auth/me")
@doc(
    "Change the caller's display name, language or password",
    request=OWN_CHANGES,
    responses={200: ("the account", ACCOUNT)},
)
@require_role("agent")
def update_me():
    """A new password needs `current_password` and ends every other session."""
    body = json_object()
    unknown = sorted(set(body) - set(OWN_CHANGES["properties"]))
    if unknown:
        raise ApiError(422, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    username = g.account["username"]
    store = agents()
    before = store.get(username)
    password = body.get("password")
    try:
        if "password" in body:
            check_password(password)
            _check_current_password(username, body.get("current_password"))
        account = store.update(
            username,
            display_name=body.get("display_name"),
            language=body.get("language"),
        )
    except InvalidAccount as exc:
        raise ApiError(422, "invalid", exc.message, exc.field) from None

    changed = [k for k in ("display_name", "language") if before[k] != account[k]]
    if changed:
        audit(
            username,
            "agent.update",
            username,
            before={k: before[k] for k in changed},
            after={k: account[k] for k in changed},
        )
    if "password" not in body:
        return jsonify(account)

    store.set_password(username, password)
    audit(username, "agent.password", username)
    if g.auth == "session":
        # The new session has a new CSRF token; the page needs it to go on.
        login_session(account)
        resp = jsonify(account)
        resp.headers["X-CSRF-Token"] = csrf_token()
        return resp
    # Every token died with the old password; the client that made the
    # change gets a fresh one so that it stays logged in.
    ttl = get_setting(store.redis, "api_token_ttl_hours") * 3600
    fresh = tokens().issue(username, store.epoch(username), ttl)
    return jsonify(dict(account, token=fresh))
