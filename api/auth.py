"""Who is calling and what they may do.

Two ways in, one account model: the API takes `Authorization: Bearer
<token>` (tokens from `POST /api/v1/auth/token`); the panel's browser carries
Flask's signed session cookie, and then every state-changing request must
also carry the session's CSRF token (header `X-CSRF-Token`, or the form field
`csrf_token`), because a browser sends cookies on requests other sites make.

Roles rank `agent` < `admin`: `require_role("agent")` admits both.
"""

import functools
import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta

from flask import current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

import store
from api import bp
from api.audit import audit
from api.errors import ApiError
from api.settings import get_settings, integer, register_setting
from api.throttle import Throttle
from api.tokens import Tokens
from handoff.agents import Agents

log = logging.getLogger(__name__)

ROLE_RANK = {"agent": 1, "admin": 2}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "tsunagi_session"
#: The browser keeps the cookie at most this long; `session_ttl_hours` ends
#: the session sooner on the server.
SESSION_COOKIE_LIFETIME = timedelta(days=30)

#: What a 401 tells the client to send (RFC 6750).
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tsunagi"'}
#: Sent with every page and API answer: no framing (clickjacking), no MIME
#: sniffing, no full URLs leaking to other sites.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

#: Endpoints open to anyone besides views marked `@public`: LINE's webhook,
#: the health check and static files. The simulator's endpoints (development
#: only) are open too, see `is_public_endpoint`.
PUBLIC_ENDPOINTS = frozenset({"static", "webhook.callback", "webhook.healthz"})

register_setting(
    "api_token_ttl_hours", 12, integer(1, 720), "Lifetime of an API token, in hours."
)
register_setting(
    "session_ttl_hours", 12, integer(1, 720), "Lifetime of a panel login, in hours."
)
register_setting(
    "login_slow_after",
    5,
    integer(1, 100),
    "Failed logins (per username or address) after which each attempt must wait.",
)
register_setting(
    "login_max_failures",
    10,
    integer(2, 1000),
    "Failed logins after which the username or address is locked.",
)
register_setting(
    "login_lock_minutes",
    15,
    integer(1, 1440),
    "Window in which failures count, and how long a lock lasts, in minutes.",
)


def public(view):
    """Mark `view` as open to anonymous callers (the URL-map test reads this)."""
    view.public = True
    return view


def is_public_endpoint(app, endpoint: str) -> bool:
    """True when `endpoint` needs no login."""
    if endpoint in PUBLIC_ENDPOINTS or endpoint.split(".")[0] == "simulator":
        return True
    return bool(getattr(app.view_functions.get(endpoint), "public", False))


def clock() -> float:
    """Now, in Unix seconds (tests set `app.config["TSUNAGI_CLOCK"]`)."""
    return (current_app.config.get("TSUNAGI_CLOCK") or time.time)()


def _redis():
    return current_app.extensions["tsunagi"].redis


def agents() -> Agents:
    """The accounts of this app's desk."""
    return Agents(_redis(), clock=clock)


def tokens() -> Tokens:
    """The API tokens of this app's desk."""
    return Tokens(_redis(), clock)


def throttle() -> Throttle:
    """The login throttle with the current settings."""
    settings = get_settings(_redis())
    return Throttle(
        _redis(),
        clock,
        slow_after=settings["login_slow_after"],
        max_failures=settings["login_max_failures"],
        window_minutes=settings["login_lock_minutes"],
    )


def login(username, password) -> dict:
    """The account for these credentials, or ApiError 401 / 429.

    One message for an unknown username and a wrong password, so the answer
    does not tell which usernames exist.
    """
    if isinstance(username, str):
        username = username.strip().lower()
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    address = request.remote_addr
    guard = throttle()
    wait = guard.wait(username, address)
    if wait:
        log.warning(
            "auth: login for user digest %s throttled for %ds", _digest(username), wait
        )
        raise ApiError(
            429,
            "too_many_requests",
            f"too many failed logins; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )

    marks = guard.begin(username, address)
    account = agents().authenticate(username, password)
    if account is None:
        guard.fail(marks)
        # A name no account has may be a password typed in the wrong field:
        # admins read the audit log, so it is kept only as a digest.
        known = agents().get(username) is not None
        actor = username[:64] if known else f"unknown:{_digest(username)}"
        audit(actor, "auth.login_failed", address=address)
        # The name typed may be a password in the wrong field: log a digest.
        log.info("auth: failed login for user digest %s", _digest(username))
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    guard.succeed(username, marks)
    return account


def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "the Authorization header must be 'Bearer <token>'",
            headers=CHALLENGE,
        )
    return token.strip()


def _from_token(token: str) -> dict:
    record = tokens().lookup(token)
    accounts = agents()
    if record is not None:
        username = record["username"]
        if accounts.epoch(username) == record.get("epoch"):
            account = accounts.get(username)
            if account and account["active"]:
                return account
    raise ApiError(
        401,
        "invalid_token",
        "the token is invalid, expired or revoked",
        headers=CHALLENGE,
    )


def _from_session() -> dict | None:
    username = session.get("account")
    if not username:
        return None
    accounts = agents()
    account = accounts.get(username)
    ttl = get_settings(_redis())["session_ttl_hours"] * 3600
    live = (
        account is not None
        and account["active"]
        and accounts.epoch(username) == session.get("epoch")
        and clock() - float(session.get("issued", 0)) < ttl
        and _redis().exists(_session_key(session.get("sid", "")))
    )
    if not live:
        logout_session()
        return None
    return account


def authenticated() -> dict | None:
    """The calling account (cached for the request), or None when anonymous.

    A bearer token that is wrong raises ApiError 401 at once rather than
    falling back to the cookie: a client that sent a token meant to use it.
    """
    if "account" in g:
        return g.account
    token = _bearer()
    if token is not None:
        g.account, g.auth, g.token = _from_token(token), "token", token
    else:
        g.account, g.auth, g.token = _from_session(), "session", None
    return g.account


def _still_live(redis, username: str, epoch) -> bool:
    accounts = Agents(redis)
    account = accounts.get(username)
    return bool(account and account["active"]) and accounts.epoch(username) == epoch


def revalidator():
    """A check, usable after this request's context is gone, that its caller's
    login still holds: the token or panel session not ended, the account
    neither disabled nor given a new password. For long responses (the event
    stream), which must not outlive a logout or a disabled account."""
    redis = _redis()
    username = g.account["username"]
    if g.auth == "token":
        token, now = g.token, current_app.config.get("TSUNAGI_CLOCK") or time.time

        def valid() -> bool:
            record = Tokens(redis, now).lookup(token)
            return record is not None and _still_live(
                redis, username, record.get("epoch")
            )

        return valid
    sid, epoch = session.get("sid", ""), session.get("epoch")

    def valid() -> bool:
        return bool(redis.exists(_session_key(sid))) and _still_live(
            redis, username, epoch
        )

    return valid


def current_account() -> dict | None:
    """The account making this request (`username`, `display_name`, `role`,
    `language`, `active`), or None outside a logged-in request."""
    if not has_request_context():
        return None
    return authenticated()


def admit(role: str) -> dict:
    """The caller's account if it holds `role`; ApiError 401/403 otherwise.

    Cookie callers must also show the CSRF token on state-changing requests.
    """
    account = authenticated()
    if account is None:
        raise ApiError(
            401, "unauthorized", "log in or send a bearer token", headers=CHALLENGE
        )
    if g.auth == "session" and request.method not in SAFE_METHODS:
        check_csrf()
    if ROLE_RANK[account["role"]] < ROLE_RANK[role]:
        raise ApiError(403, "forbidden", f"this needs the {role} role")
    return account


def require_role(role: str):
    """Decorator: the view needs an account with `role` (`agent` or `admin`)."""
    if role not in ROLE_RANK:
        raise ValueError(f"role must be one of {sorted(ROLE_RANK)}, got {role!r}")

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            admit(role)
            return view(*args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorate


def guard_blueprint() -> None:
    """`before_request` of the API: fail closed for views that forgot a role.

    A view with neither `@public` nor `@require_role` still needs a login.
    """
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "public", False):
        return
    admit(getattr(view, "required_role", "agent"))


bp.before_request(guard_blueprint)


# The panel's browser session -------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def csrf_valid() -> bool:
    """True when the request carries the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500).
    return bool(expected) and hmac.compare_digest(
        expected.encode(), given.encode(errors="backslashreplace")
    )


def check_csrf() -> None:
    """ApiError 403 unless the request carries the session's CSRF token."""
    if not csrf_valid():
        log.warning("auth: CSRF token missing or wrong on %s", request.path)
        raise ApiError(403, "csrf_failed", "missing or wrong CSRF token")


def _session_key(sid: str) -> str:
    return store.key("session", sid)


def login_session(account: dict) -> None:
    """Start a panel session for `account` (a fresh session and CSRF token).

    The cookie is signed but lives in the browser, so a copy would outlive a
    logout; the session's id in Redis (`session:{sid}`) is what logout
    deletes, and without it the cookie opens nothing.
    """
    logout_session()
    sid = secrets.token_urlsafe(32)
    ttl = get_settings(_redis())["session_ttl_hours"] * 3600
    _redis().set(_session_key(sid), account["username"], ex=ttl)
    session.permanent = True
    session["sid"] = sid
    session["account"] = account["username"]
    session["epoch"] = agents().epoch(account["username"])
    session["issued"] = clock()
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def logout_session() -> None:
    """End the panel session, here and in Redis."""
    sid = session.get("sid")
    if sid:
        _redis().delete(_session_key(sid))
    session.clear()
    g.pop("account", None)


#: Routes that LINE and load balancers call: they never read a session, and
#: the webhook's cost per request is what a campaign's burst is measured in.
SESSIONLESS_PATHS = frozenset({"/callback", "/healthz"})


class PanelSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, `Secure` whenever the desk is reached over HTTPS.

    The webhook and health check get Flask's null session: no cookie is
    decoded or set on them.
    """

    def open_session(self, app, request):
        if request.path in SESSIONLESS_PATHS:
            return None  # Flask substitutes its null session
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        if app.config.get("PREFERRED_URL_SCHEME") == "https":
            return True
        return has_request_context() and request.is_secure


def init_app(app) -> None:
    """Session cookie settings for the panel."""
    app.session_interface = PanelSessionInterface()
    app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_COOKIE_LIFETIME
    app.after_request(_security_headers)


def _security_headers(response):
    # The simulator's phone page is a development tool; leave it be.
    if not request.path.startswith("/simulator"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
        # Tokens, accounts and conversations must not sit in shared caches.
        response.headers["Cache-Control"] = "no-store"
    return response


def _digest(text: str) -> str:
    """A short, stable stand-in for `text` in logs (never the text itself)."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]
