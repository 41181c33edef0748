"""The panel's pages: login, logout and the inbox shell.

Pages use the same accounts and session as the API (`api.auth`). Every
page except /login needs a login (anonymous visitors are sent to /login);
every form post must carry the session's CSRF token.
"""

import logging
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from api import auth
from api.audit import audit
from api.errors import ApiError

log = logging.getLogger(__name__)

bp = Blueprint("panel", __name__)


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": auth.csrf_token, "current_account": auth.current_account}


def _account() -> dict | None:
    try:
        return auth.authenticated()
    except ApiError:
        return None


def _to_login():
    return redirect(url_for("panel.login", next=request.full_path.rstrip("?")))


@bp.before_request
def _guard():
    """Fail closed: every panel page needs a login unless marked `@public`, and
    every state-changing request needs the session's CSRF token."""
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "public", False) and _account() is None:
        return _to_login()
    if request.method not in auth.SAFE_METHODS and not auth.csrf_valid():
        log.warning("panel: CSRF token missing or wrong on %s", request.path)
        abort(403, "The form has expired; reload the page and try again.")
    return None


def login_required(role: str = "agent"):
    """Decorator for pages: anonymous visitors go to /login, others need `role`."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            account = _account()
            if account is None:
                return _to_login()
            if auth.ROLE_RANK[account["role"]] < auth.ROLE_RANK[role]:
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorate


def _safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else the inbox (no open redirect)."""
    if not target:
        return url_for("panel.inbox")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return url_for("panel.inbox")
    if target.startswith("//") or "\\" in target:
        return url_for("panel.inbox")
    return target.rstrip("?") or url_for("panel.inbox")


@bp.route("/login", methods=["GET", "POST"])
@auth.public
def login():
    """The login form (fields `username`, `password`)."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if _account():
            return redirect(next_url)
        return render_template("login.html", next=next_url)

    username = request.form.get("username", "")
    try:
        account = auth.login(username, request.form.get("password", ""))
    except ApiError as exc:
        status = 429 if exc.status == 429 else 401
        return (
            render_template(
                "login.html", next=next_url, error=exc.message, username=username
            ),
            status,
            exc.headers,
        )
    auth.login_session(account)
    audit(
        account["username"],
        "auth.login",
        account["username"],
        method="session",
        address=request.remote_addr,
    )
    return redirect(next_url)


@bp.post("/logout")
@login_required()
def logout():
    """End the session and go back to the login page."""
    account = auth.current_account()
    auth.logout_session()
    audit(account["username"], "auth.logout", account["username"], method="session")
    return redirect(url_for("panel.login"))


@bp.get("/")
@login_required()
def inbox():
    """The inbox (its conversations are filled in by the panel's script)."""
    return render_template("inbox.html")
