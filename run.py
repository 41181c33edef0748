"""`make run`: serve the whole desk on $PORT with gunicorn.

Embedded (no REDIS_URL): one gunicorn process, so the in-process Redis and the
worker threads are shared by every request. With REDIS_URL set, this serves
the web side only; run the Procfile's `worker` beside it.
"""

import logging
import os

from gunicorn.app.base import BaseApplication

from config import Config

log = logging.getLogger(__name__)


class Server(BaseApplication):
    """Gunicorn, configured from code rather than a command line."""

    def __init__(self, config: Config):
        self.desk_config = config
        super().__init__()

    def load_config(self):
        embedded = self.desk_config.embedded
        workers = 1 if embedded else int(os.environ.get("WEB_CONCURRENCY", "2"))
        self.cfg.set(
            "bind", f"{os.environ.get('HOST', '127.0.0.1')}:{self.desk_config.port}"
        )
        self.cfg.set("workers", workers)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", int(os.environ.get("WEB_THREADS", "32")))
        self.cfg.set("timeout", 60)
        self.cfg.set("accesslog", None)

    def load(self):
        from app import create_app

        return create_app(self.desk_config)


def main() -> None:
    config = Config.from_env()
    Server(config).run()


if __name__ == "__main__":
    main()
