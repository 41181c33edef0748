"""The Flask app factory: `create_app()` for tests, `app` for `gunicorn app:app`."""

import logging
import os

from flask import Flask

import api
from agents_ui import views as panel
from bot import rules_cli, webhook
from bot.runtime import Runtime, set_runtime
from config import Config
from handoff import cli as agents_cli
from handoff.agents import ensure_admin

log = logging.getLogger(__name__)

#: Webhook and API bodies larger than this get 413.
MAX_BODY = 1024 * 1024


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
    runtime = runtime or Runtime(config)
    set_runtime(runtime)
    app.extensions["tsunagi"] = runtime
    app.register_blueprint(webhook.bp)
    if config.simulator:
        import simulator

        simulator.init_app(app, config)
    api.register(app)
    app.register_blueprint(panel.bp)
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
