"""Routes of /api/v1/agents: the admin's management of accounts."""

import logging

from flask import current_app, jsonify

import store
from api import bp
from api.audit import audit
from api.auth import agents, current_account, require_role
from api.auth_routes import ACCOUNT
from api.errors import ApiError, json_object
from api.openapi import doc
from handoff.agents import (
    AccountExists,
    InvalidAccount,
    UnknownAccount,
    check_password,
)

log = logging.getLogger(__name__)

NEW_ACCOUNT = {
    "type": "object",
    "required": ["username", "password", "role", "display_name"],
    "properties": {
        "username": {"type": "string", "pattern": "^[a-z0-9._-]{3,32}$"},
        "password": {"type": "string", "minLength": 10},
        "role": {"type": "string", "enum": ["agent", "admin"]},
        "display_name": {"type": "string"},
        "language": {"type": "string", "enum": ["ja", "en"], "default": "ja"},
    },
}
CHANGES = {
    "type": "object",
    "properties": {
        "display_name": {"type": "string"},
        "role": {"type": "string", "enum": ["agent", "admin"]},
        "language": {"type": "string", "enum": ["ja", "en"]},
        "active": {"type": "boolean"},
        "password": {"type": "string", "minLength": 10},
    },
}
ACCOUNTS = {
    "type": "object",
    "properties": {"agents": {"type": "array", "items": ACCOUNT}},
}
_FIELDS = ("display_name", "role", "language", "active")


def _invalid(exc: InvalidAccount) -> ApiError:
    return ApiError(422, "invalid", exc.message, exc.field)


def _refuse_unknown_fields(body: dict, allowed) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(422, "invalid", f"unknown field {unknown[0]!r}", unknown[0])


def _account_or_404(username: str) -> dict:
    account = agents().get(username)
    if account is None:
        raise ApiError(404, "not_found", f"no account named {username!r}")
    return account


def _admins_locked():
    """Serialise changes that could remove an admin, so that two admins
    disabling each other at once cannot leave the desk with none."""
    return current_app.extensions["tsunagi"].redis.lock(
        store.key("lock", "admins"), timeout=10, blocking_timeout=10
    )


def _keep_an_admin(account: dict, role, active) -> None:
    """Refuse to demote or disable the desk's last active admin (409)."""
    # An unknown role is no demotion: `update` refuses it with a 422 naming it.
    losing = role == "agent" or active is False
    if account["role"] != "admin" or not account["active"] or not losing:
        return
    if agents().active_admins() == [account["username"]]:
        raise ApiError(
            409, "last_admin", "the desk must keep at least one active admin"
        )


@bp.get("/agents")
@doc("List every account", responses={200: ("the accounts", ACCOUNTS)})
@require_role("admin")
def list_agents():
    """Agents and admins, active or not, sorted by username."""
    return jsonify(agents=agents().list())


@bp.post("/agents")
@doc(
    "Create an agent or admin account",
    request=NEW_ACCOUNT,
    responses={201: ("the new account", ACCOUNT), 409: "the username is taken"},
)
@require_role("admin")
def create_agent():
    """The password must be at least 10 characters (422 naming `password`)."""
    body = json_object()
    _refuse_unknown_fields(body, NEW_ACCOUNT["properties"])
    for name in NEW_ACCOUNT["required"]:
        if name not in body:
            raise ApiError(422, "invalid", f"{name} is required", name)
    try:
        account = agents().create(
            body["username"],
            body["password"],
            body["role"],
            body["display_name"],
            body.get("language", "ja"),
        )
    except InvalidAccount as exc:
        raise _invalid(exc) from None
    except AccountExists:
        raise ApiError(
            409, "conflict", f"an account named {body['username']!r} exists", "username"
        ) from None
    audit(
        current_account()["username"],
        "agent.create",
        account["username"],
        after={k: account[k] for k in _FIELDS},
    )
    return jsonify(account), 201


@bp.get("/agents/<username>")
@doc("One account", responses={200: ("the account", ACCOUNT), 404: "no such account"})
@require_role("admin")
def get_agent(username):
    """The account named `username`."""
    return jsonify(_account_or_404(username))


@bp.patch("/agents/<username>")
@doc(
    "Change an account's name, role, language, active flag or password",
    request=CHANGES,
    responses={
        200: ("the account", ACCOUNT),
        404: "no such account",
        409: "the change would leave the desk without an active admin",
    },
)
@require_role("admin")
def update_agent(username):
    """A new password or `active: false` ends the account's sessions and tokens."""
    body = json_object()
    _refuse_unknown_fields(body, CHANGES["properties"])
    store = agents()
    try:
        if "password" in body:
            check_password(body["password"])
        with _admins_locked():
            before = _account_or_404(username)
            _keep_an_admin(before, body.get("role"), body.get("active"))
            account = store.update(username, **{k: body.get(k) for k in _FIELDS})
        if "password" in body:
            account = store.set_password(username, body["password"])
    except InvalidAccount as exc:
        raise _invalid(exc) from None
    except UnknownAccount:
        raise ApiError(404, "not_found", f"no account named {username!r}") from None

    actor = current_account()["username"]
    changed = [k for k in _FIELDS if before[k] != account[k]]
    if changed:
        audit(
            actor,
            "agent.update",
            username,
            before={k: before[k] for k in changed},
            after={k: account[k] for k in changed},
        )
    if "password" in body:
        audit(actor, "agent.password", username)
    return jsonify(account)


@bp.delete("/agents/<username>")
@doc(
    "Disable an account",
    responses={
        204: "disabled (its sessions and tokens end)",
        404: "no such account",
        409: "it is the last active admin",
    },
)
@require_role("admin")
def disable_agent(username):
    """Accounts are disabled, not erased, so the audit log and the history
    still name who did what."""
    with _admins_locked():
        account = _account_or_404(username)
        _keep_an_admin(account, None, False)
        if account["active"]:
            agents().disable(username)
    if account["active"]:
        audit(
            current_account()["username"],
            "agent.disable",
            username,
            before={"active": True},
            after={"active": False},
        )
    return "", 204
