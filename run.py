"""`make run`: serve the whole desk on $PORT with gunicorn.

Embedded (no REDIS_URL): one gunicorn process, so the in-process Redis and the
worker threads are shared by every request. With REDIS_URL set, this serves
the web side only; run the Procfile's `worker` beside it. With no LINE
credentials (development) the simulator stands in for LINE, in one process,
and the demo rules and an admin are seeded so a browser is all it takes.
"""

import logging
import os
import secrets

from gunicorn.app.base import BaseApplication

from config import Config

log = logging.getLogger(__name__)

DEMO_ADMIN = "admin"


class Server(BaseApplication):
    """Gunicorn, configured from code rather than a command line."""

    def __init__(self, config: Config):
        self.desk_config = config
        super().__init__()

    def load_config(self):
        # The simulator keeps LINE's state in its process: one process only.
        single = self.desk_config.embedded or self.desk_config.simulator
        workers = 1 if single else int(os.environ.get("WEB_CONCURRENCY", "2"))
        self.cfg.set("bind", f"{_host()}:{self.desk_config.port}")
        self.cfg.set("workers", workers)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", int(os.environ.get("WEB_THREADS", "32")))
        self.cfg.set("timeout", 60)
        self.cfg.set("accesslog", None)

    def load(self):
        from app import create_app

        app = create_app(self.desk_config)
        if self.desk_config.simulator:
            print(banner(self.desk_config, seed_demo(app)), flush=True)
        return app


def _host() -> str:
    return os.environ.get("HOST", "127.0.0.1")


def seed_demo(app) -> bool:
    """Seed the demo rules and admin in this worker's Redis.

    Seeding happens here, in the worker, because the embedded Redis lives in
    the worker process. Returns True when the configured admin password works
    (False: an admin from an earlier start keeps its own password).
    """
    config = app.config["TSUNAGI"]
    redis = app.extensions["tsunagi"].redis
    from bot.rules import seed_defaults
    from handoff.agents import Agents, ensure_admin

    seed_defaults(redis)
    ensure_admin(redis, config.admin_username, config.admin_password)
    account = Agents(redis).authenticate(config.admin_username, config.admin_password)
    return account is not None


def _base(config: Config) -> str:
    host = _host()
    # A wildcard bind is shown as the loopback address a browser can open.
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{host}:{config.port}"


def banner(config: Config, admin_ready: bool) -> str:
    """The one block `make run` prints: where to go and how to log in.

    Only a password made for this start is shown; one the operator set in
    ADMIN_PASSWORD is theirs to know.
    """
    base = _base(config)
    if admin_ready and config.extra.get("demo_password"):
        login = f"{config.admin_username} / {config.admin_password}"
    elif admin_ready:
        login = f"{config.admin_username} (password from ADMIN_PASSWORD)"
    else:
        login = (
            f"{config.admin_username} (an earlier admin exists; its password stands)"
        )
    return (
        "\n"
        "  Tsunagi is running with the LINE simulator (no LINE account needed)\n"
        f"    phone:  {base}/simulator\n"
        f"    panel:  {base}/\n"
        f"    admin:  {login}\n"
    )


def main() -> None:
    config = Config.from_env()
    if config.simulator and not (config.admin_username and config.admin_password):
        # A demo desk gets a fresh admin password each start, printed once.
        config.admin_username = config.admin_username or DEMO_ADMIN
        config.admin_password = secrets.token_urlsafe(12)
        config.extra["demo_password"] = True
    if not config.simulator:
        # Printed by the master, once, whatever the number of workers.
        print(
            f"\n  Tsunagi is running ({config.env})\n"
            f"    panel:    {_base(config)}/\n"
            f"    webhook:  {_base(config)}/callback (set it in LINE's console)\n",
            flush=True,
        )
    Server(config).run()


if __name__ == "__main__":
    main()
