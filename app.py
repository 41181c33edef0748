"""The Flask app factory: `create_app()` for tests, `app` for `gunicorn app:app`."""

import logging
import os
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

import api
from agents_ui import views as panel
from bot import rules_cli, webhook
from bot.runtime import Runtime, set_runtime
from config import Config
from handoff import cli as agents_cli
from handoff.agents import ensure_admin
from handoff.uploads import media_bp

log = logging.getLogger(__name__)

#: Webhook and API bodies larger than this get 413.
MAX_BODY = 1024 * 1024

#: The Content-Security-Policy of the panel's and console's pages. Scripts and
#: styles come only from the desk's own files (no inline code, no `style=`
#: attributes, no `on…=` handlers), so markup a LINE user or agent managed to
#: slip into a page could run nothing. Pictures may be any https address
#: (LINE's profile pictures, the images and Flex heroes of messages and rules)
#: or the desk's own; `data:` is the empty favicon. fetch and EventSource go
#: to the desk's own /api/v1 only. Video and audio play only from the desk
#: itself (what users send, through /api/v1/conversations/…/content/…).
PANEL_CSP = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' https: data:",
    "media-src": "'self'",
    "connect-src": "'self'",
    "font-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
}
#: Everything that is not a panel page (the JSON API, the webhook, static
#: files) loads and runs nothing when opened as a document.
NON_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'"


def create_app(
    config: Config | None = None,
    *,
    runtime: Runtime | None = None,
    start_workers: bool | None = None,
) -> Flask:
    """Build the app.

    With no REDIS_URL the desk is embedded: Redis and `EMBEDDED_WORKERS`
    worker threads run inside this process (`start_workers=False` skips them,
    as unit tests do to run jobs themselves).
    """
    config = config or Config.from_env()
    _setup_logging()
    app = Flask(
        __name__,
        template_folder="agents_ui/templates",
        static_folder="agents_ui/static",
    )
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY,
        TSUNAGI=config,
    )
    if config.trusted_proxies:
        _trust_proxies(app, config.trusted_proxies)
    app.after_request(_content_security_policy(panel_csp(config)))
    runtime = runtime or Runtime(config)
    set_runtime(runtime)
    app.extensions["tsunagi"] = runtime
    app.register_blueprint(webhook.bp)
    if config.simulator:
        import simulator

        simulator.init_app(app, config)
    api.register(app)
    app.register_blueprint(panel.bp)
    app.register_blueprint(media_bp)
    agents_cli.init_app(app)
    rules_cli.init_app(app)
    if config.admin_username and config.admin_password:
        ensure_admin(runtime.redis, config.admin_username, config.admin_password)

    if start_workers is None:
        start_workers = config.embedded
    if start_workers:
        from bot.worker import start_embedded

        start_embedded(runtime, config.embedded_workers)
        log.info("app: %d in-process workers started", config.embedded_workers)
    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Read the client's address and scheme from the `hops` proxies in front.

    Each proxy appends the address it was reached from to X-Forwarded-For;
    ProxyFix takes the `hops`-th from the right, the one the outermost trusted
    proxy saw, so what a client writes into the header itself is ignored. The
    login throttle and the audit then see each client, not the proxy, and
    `request.is_secure` (the session cookie's Secure flag) follows the
    client's scheme (X-Forwarded-Proto). The Host header is used as the proxy
    passes it: X-Forwarded-Host is not read, because a proxy that does not
    set it would let any client choose it.
    """
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)
    log.info("app: trusting X-Forwarded-For/-Proto from %d proxies", hops)


def panel_csp(config: Config) -> str:
    """The panel pages' Content-Security-Policy for this desk.

    A LINE stand-in reached over plain http (the simulator in tests and
    `make run`) serves the profile pictures it hands out, so its origin joins
    `img-src`; LINE itself is https and needs nothing added.
    """
    policy = dict(PANEL_CSP)
    stand_ins = set()
    for host in (config.line_api_host, config.line_data_api_host):
        parts = urlsplit(host)
        if parts.scheme == "http" and parts.netloc:
            stand_ins.add(f"http://{parts.netloc}")
    if stand_ins:
        policy["img-src"] += " " + " ".join(sorted(stand_ins))
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def _content_security_policy(page_policy: str):
    """An `after_request` hook: HTML pages get `page_policy`, everything else
    (and anything under /api/) `NON_PAGE_CSP`. A response that set its own
    policy keeps it; the simulator (a development tool with its own phone
    page policy) is left alone."""

    def add(response):
        path = request.path
        if path.startswith("/simulator"):
            return response
        page = response.mimetype == "text/html" and not path.startswith("/api/")
        response.headers.setdefault(
            "Content-Security-Policy", page_policy if page else NON_PAGE_CSP
        )
        return response

    return add


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def __getattr__(name):
    # `gunicorn app:app` builds the app on first access, not at import, so
    # that tests can import `create_app` without a production environment.
    if name == "app":
        globals()["app"] = application = create_app()
        return application
    raise AttributeError(name)
