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


#: The shell's words in the panel's two languages (the panel issue moves
#: these to Flask-Babel catalogues with the rest of the panel).
WORDS = {
    "ja": {
        "log_in": "ログイン",
        "log_out": "ログアウト",
        "username": "ユーザー名",
        "password": "パスワード",
        "inbox": "受信箱",
        "inbox_empty": "対応待ちの会話はありません。",
        "agent": "担当者",
        "admin": "管理者",
        "invalid_credentials": "ユーザー名またはパスワードが違います。",
        "too_many_requests": (
            "ログインの失敗が続いています。{wait} 秒後にもう一度お試しください。"
        ),
    },
    "en": {
        "log_in": "Log in",
        "log_out": "Log out",
        "username": "Username",
        "password": "Password",
        "inbox": "Inbox",
        "inbox_empty": "No conversations are waiting.",
        "agent": "Agent",
        "admin": "Admin",
        "invalid_credentials": "Wrong username or password.",
        "too_many_requests": "Too many failed logins. Try again in {wait} seconds.",
    },
}


def language() -> str:
    """The account's language, else the browser's choice of ja/en, else ja."""
    account = _account()
    if account:
        return account["language"]
    return request.accept_languages.best_match(list(WORDS)) or "ja"


@bp.app_context_processor
def _template_globals():
    lang = language()
    return {
        "csrf_token": auth.csrf_token,
        "current_account": _account,
        "lang": lang,
        "t": lambda word, **values: WORDS[lang][word].format(**values),
    }


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
        words = WORDS[language()]
        wait = exc.headers.get("Retry-After", "")
        error = words.get(exc.code, words["invalid_credentials"]).format(wait=wait)
        return (
            render_template(
                "login.html", next=next_url, error=error, username=username
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
