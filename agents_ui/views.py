"""The panel's pages: login, logout, the inbox and the admin console.

Pages use the same accounts and session as the API (`api.auth`). Every
page except /login and the language switch needs a login (anonymous visitors
are sent to /login); admin pages need the admin role; every form post must
carry the session's CSRF token. Pages are shells: their scripts fill them
from /api/v1 with the same session (and the CSRF header), so the panel does
nothing the API would refuse.

Words come from Flask-Babel catalogues (`agents_ui/translations`) in the
account's language, else the one chosen on the login page, else the
browser's Accept-Language, else Japanese.
"""

import logging
import re
from datetime import datetime
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from redis.exceptions import RedisError

from agents_ui import quota, words
from api import auth
from api.audit import audit
from api.errors import ApiError
from bot.stickers import STICKERS
from handoff.uploads import public_base

log = logging.getLogger(__name__)

bp = Blueprint("panel", __name__)

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
#: Remembers the language chosen on the login page (before there is an account).
LANGUAGE_COOKIE = "tsunagi_lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: `POST /api/v1/conversations/{id}/typing`, used when the API has it.
TYPING_PREFIX, TYPING_SUFFIX = "/api/v1/conversations/<", ">/typing"
#: A ledger entry's id (a Redis stream id), the quota page's `before` cursor.
LEDGER_ID = re.compile(r"\d{1,20}-\d{1,20}")


def choose_language() -> str:
    """The account's language, else the cookie's, else the browser's, else ja."""
    account = _account() if request else None
    if account and account.get("language") in LANGUAGES:
        return account["language"]
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


@bp.record_once
def _setup(state) -> None:
    """Flask-Babel for the whole app, once, when the panel is registered."""
    app = state.app
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=choose_language)


@bp.app_template_filter("panel_time")
def _panel_time(epoch) -> str:
    """Epoch seconds as the desk's local date and time (Asia/Tokyo by default)."""
    zone = current_app.extensions["tsunagi"].delivery.ledger.zone
    return datetime.fromtimestamp(float(epoch), zone).strftime("%Y-%m-%d %H:%M")


def _typing_enabled() -> bool:
    """True when the API can start LINE's loading animation for an agent."""
    return any(
        rule.rule.startswith(TYPING_PREFIX) and rule.rule.endswith(TYPING_SUFFIX)
        for rule in current_app.url_map.iter_rules()
    )


def _upload_enabled() -> bool:
    """True when agents can upload photos: LINE fetches them from PUBLIC_URL,
    which must be https (handoff/uploads.py)."""
    return public_base(current_app.extensions["tsunagi"].config) is not None


@bp.app_context_processor
def _template_globals():
    return {
        "csrf_token": auth.csrf_token,
        "current_account": _account,
        "lang": str(get_locale() or DEFAULT_LANGUAGE),
        "panel_words": words.for_script,
        "stickers": list(STICKERS),
        "typing_enabled": _typing_enabled,
        "upload_enabled": _upload_enabled,
        "server_now": lambda: current_app.extensions["tsunagi"].delivery.clock(),
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
        if status == 429:
            wait = exc.headers.get("Retry-After", "")
            error = _(
                "Too many failed logins. Try again in %(wait)s seconds.", wait=wait
            )
        else:
            error = _("Wrong username or password.")
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


@bp.post("/language")
@auth.public
def set_language():
    """Switch the panel's language: for the account when logged in (as
    `PATCH /api/v1/auth/me` would), and in a cookie for the login page."""
    chosen = request.form.get("language")
    if chosen not in LANGUAGES:
        abort(400, "language must be ja or en")
    account = _account()
    if account and account["language"] != chosen:
        auth.agents().update(account["username"], language=chosen)
        audit(
            account["username"],
            "agent.update",
            account["username"],
            before={"language": account["language"]},
            after={"language": chosen},
        )
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=request.is_secure,
    )
    return response


@bp.get("/")
@login_required()
def inbox():
    """The inbox: tabs, the open conversation, its profile and the composer
    (all filled in by `static/js/inbox.js` from the API and the event stream)."""
    return render_template("inbox.html", conversation_id="", colleagues=_colleagues())


@bp.get("/conversations/<conversation_id>")
@login_required()
def conversation(conversation_id):
    """The inbox with one conversation open (a link an agent can share)."""
    return render_template(
        "inbox.html", conversation_id=conversation_id, colleagues=_colleagues()
    )


def _colleagues() -> list[dict]:
    """Active accounts an agent may transfer a conversation to."""
    return [
        {"username": a["username"], "display_name": a["display_name"]}
        for a in auth.agents().list()
        if a["active"]
    ]


# -- the admin console ----------------------------------------------------------


@bp.get("/admin/")
@login_required("admin")
def admin_home():
    return redirect(url_for("panel.admin_rules"))


@bp.get("/admin/rules")
@login_required("admin")
def admin_rules():
    """Rules with search, enable toggle and priority, and the live tester."""
    return render_template("admin/rules.html", section="rules")


@bp.get("/admin/rules/new")
@login_required("admin")
def admin_rule_new():
    return render_template("admin/rule_edit.html", section="rules", rule_id="")


@bp.get("/admin/rules/<rule_id>")
@login_required("admin")
def admin_rule_edit(rule_id):
    """The edit form: match, schedule and replies, a JSON editor and a preview."""
    return render_template("admin/rule_edit.html", section="rules", rule_id=rule_id)


@bp.get("/admin/agents")
@login_required("admin")
def admin_agents():
    return render_template("admin/agents.html", section="agents")


@bp.get("/admin/canned")
@login_required("admin")
def admin_canned():
    return render_template("admin/canned.html", section="canned")


@bp.get("/admin/settings")
@login_required("admin")
def admin_settings():
    """Business hours, delivery policy, budget and every other setting."""
    return render_template("admin/settings.html", section="settings")


@bp.get("/admin/audit")
@login_required("admin")
def admin_audit():
    return render_template("admin/audit.html", section="audit")


@bp.get("/admin/quota")
@login_required("admin")
def admin_quota():
    """This month per day (an inline SVG chart), the forecast and the ledger.

    Drawn on the server from the ledger's counters, so it needs no script.
    """
    runtime = current_app.extensions["tsunagi"]
    reason = request.args.get("reason") or None
    before = request.args.get("before") or None
    if before and not LEDGER_ID.fullmatch(before):
        abort(400, "before must be the id of a ledger entry (the Older link's).")
    report = quota.report(runtime, reason=reason, before=before)
    return render_template("admin/quota.html", section="quota", report=report)


@bp.get("/admin/failed-events")
@login_required("admin")
def admin_failed_events():
    """Dead letters: events every retry failed on, with Retry and Discard."""
    return render_template("admin/failed_events.html", section="failed")


@bp.app_template_global("failed_events")
def _failed_events() -> int:
    """How many dead letters wait for an admin (the nav link's badge).

    A failure to count (Redis down, or an older desk's `deadletter` list not
    yet adopted by a worker's sweeper) shows no badge rather than failing
    every admin page.
    """
    try:
        return current_app.extensions["tsunagi"].inbox.deadletters.count()
    except RedisError:
        log.warning("views: dead letters could not be counted", exc_info=True)
        return 0
