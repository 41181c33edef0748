"""Configuration read from the environment (and a `.env` file when present).

Every process — web, worker, tests — builds one `Config`; nothing else reads
`os.environ`, so what the desk does is decided in one place.
"""

import logging
import os
import secrets
from dataclasses import dataclass, field, fields

from dotenv import load_dotenv

log = logging.getLogger(__name__)

LINE_API_HOST = "https://api.line.me"
LINE_DATA_API_HOST = "https://api-data.line.me"
#: Where the simulator serves LINE's API paths inside this app.
SIMULATOR_LINE_PATH = "/simulator/line"

#: Variables a production start cannot do without.
REQUIRED_IN_PRODUCTION = (
    "LINE_CHANNEL_SECRET",
    "LINE_CHANNEL_ACCESS_TOKEN",
    "SECRET_KEY",
    "REDIS_URL",
)


class ConfigError(SystemExit):
    """A start-up setting is missing or wrong; the message names the variable."""


@dataclass
class Config:
    """The desk's settings for one process.

    `env` is `production` unless `TSUNAGI_ENV=development` (what `make run`
    sets): a deployment that forgets a secret must stop, not run half-open.
    """

    env: str = "production"
    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_host: str = LINE_API_HOST
    line_data_api_host: str = LINE_DATA_API_HOST
    redis_url: str = ""
    secret_key: str = ""
    port: int = 8000
    line_reply_token_ttl: float = 50.0
    history_retention_days: int = 90
    timezone: str = "Asia/Tokyo"
    line_request_timeout: float = 10.0
    line_max_connections: int = 64
    #: Largest photo, video, audio or file the panel fetches from LINE.
    content_max_bytes: int = 20 * 1024 * 1024
    #: Redis memory for recently viewed content (0: fetch from LINE every time).
    content_cache_bytes: int = 64 * 1024 * 1024
    #: The https address where LINE reaches this desk; uploading photos is
    #: off without it (LINE fetches an image message's pictures from there).
    public_url: str = ""
    #: Redis memory for photos agents uploaded (full: new uploads are refused).
    upload_store_bytes: int = 256 * 1024 * 1024
    worker_concurrency: int = 32
    embedded_workers: int = 2
    push_bot_answers: bool = False
    simulator: bool = False
    admin_username: str = ""
    admin_password: str = ""
    trusted_proxies: int = 0
    testing: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when Redis and the worker run inside this process (no REDIS_URL)."""
        return not self.redis_url

    @classmethod
    def from_env(cls, environ=None, *, dotenv=True) -> "Config":
        """Build the configuration from environment variables.

        Raises `ConfigError` naming the variable when a production start lacks a
        secret or a number does not parse.
        """
        if environ is None:
            if dotenv:
                load_dotenv(override=False)
            environ = os.environ
        get = environ.get
        cfg = cls(
            env=get("TSUNAGI_ENV", "production").strip().lower() or "production",
            line_channel_secret=get("LINE_CHANNEL_SECRET", ""),
            line_channel_access_token=get("LINE_CHANNEL_ACCESS_TOKEN", ""),
            line_api_host=get("LINE_API_HOST", "").rstrip("/") or LINE_API_HOST,
            line_data_api_host=(
                get("LINE_DATA_API_HOST", "").rstrip("/") or LINE_DATA_API_HOST
            ),
            redis_url=get("REDIS_URL", ""),
            secret_key=get("SECRET_KEY", ""),
            port=_number(environ, "PORT", 8000, int),
            line_reply_token_ttl=_number(environ, "LINE_REPLY_TOKEN_TTL", 50.0, float),
            history_retention_days=_number(environ, "HISTORY_RETENTION_DAYS", 90, int),
            timezone=get("TSUNAGI_TIMEZONE", "Asia/Tokyo"),
            line_request_timeout=_number(environ, "LINE_REQUEST_TIMEOUT", 10.0, float),
            content_max_bytes=_number(
                environ, "CONTENT_MAX_BYTES", 20 * 1024 * 1024, int
            ),
            content_cache_bytes=_number(
                environ, "CONTENT_CACHE_BYTES", 64 * 1024 * 1024, int
            ),
            public_url=get("PUBLIC_URL", "").strip().rstrip("/"),
            upload_store_bytes=_number(
                environ, "UPLOAD_STORE_BYTES", 256 * 1024 * 1024, int
            ),
            worker_concurrency=_number(environ, "WORKER_CONCURRENCY", 32, int),
            embedded_workers=_number(environ, "EMBEDDED_WORKERS", 2, int),
            push_bot_answers=_flag(environ, "PUSH_BOT_ANSWERS"),
            admin_username=get("ADMIN_USERNAME", ""),
            admin_password=get("ADMIN_PASSWORD", ""),
            trusted_proxies=_number(environ, "TRUSTED_PROXIES", 0, int),
        )
        cfg.check()
        return cfg

    def check(self) -> None:
        """Refuse settings a desk cannot run with; fill development defaults."""
        if self.env not in ("production", "development"):
            raise ConfigError(
                f"TSUNAGI_ENV must be 'production' or 'development', got {self.env!r}"
            )
        if self.line_reply_token_ttl <= 0 or self.line_reply_token_ttl > 60:
            raise ConfigError(
                "LINE_REPLY_TOKEN_TTL must be more than 0 and at most 60 seconds, "
                f"got {self.line_reply_token_ttl!r}"
            )
        if self.trusted_proxies < 0:
            raise ConfigError(
                "TRUSTED_PROXIES must be the number of proxies in front of the "
                f"desk (0 for none), got {self.trusted_proxies!r}"
            )
        if self.content_max_bytes < 1 or self.content_cache_bytes < 0:
            raise ConfigError(
                "CONTENT_MAX_BYTES must be at least 1 and CONTENT_CACHE_BYTES at "
                f"least 0, got {self.content_max_bytes!r} and "
                f"{self.content_cache_bytes!r}"
            )
        if self.upload_store_bytes < 0:
            raise ConfigError(
                "UPLOAD_STORE_BYTES must be at least 0 (0: no uploads), got "
                f"{self.upload_store_bytes!r}"
            )
        if self.public_url and not self.public_url.startswith("https://"):
            log.warning(
                "config: PUBLIC_URL is not https (%s); uploading photos is off",
                self.public_url,
            )
        if self.env == "production":
            self.simulator = False
            for name in REQUIRED_IN_PRODUCTION:
                if not getattr(self, name.lower()):
                    raise ConfigError(
                        f"{name} is not set: a production start needs it "
                        "(set TSUNAGI_ENV=development to run the embedded default)"
                    )
            return
        if not self.line_channel_secret and not self.line_channel_access_token:
            # No LINE account: the simulator (mounted in this app) stands in
            # for the platform, with a channel secret and token of its own.
            self.simulator = True
            self.line_channel_secret = secrets.token_hex(16)
            self.line_channel_access_token = secrets.token_hex(24)
            base = f"http://127.0.0.1:{self.port}{SIMULATOR_LINE_PATH}"
            if self.line_api_host == LINE_API_HOST:
                self.line_api_host = base
            if self.line_data_api_host == LINE_DATA_API_HOST:
                self.line_data_api_host = base
        for name, other in (
            ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"),
            ("LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET"),
        ):
            if not getattr(self, name.lower()):
                # Half a LINE account: an empty secret would let anyone sign
                # webhooks that the bot answers through the real channel.
                raise ConfigError(
                    f"{name} is not set while {other} is: set both for a LINE "
                    "channel, or neither to run on the simulator"
                )
        if not self.secret_key:
            self.secret_key = secrets.token_hex(32)

    def public_dict(self) -> dict:
        """Settings safe to show or log: secrets are masked."""
        hidden = {"line_channel_secret", "line_channel_access_token", "secret_key"}
        hidden |= {"admin_password"}
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if f.name in hidden and value else value
        return out


def _number(environ, name, default, kind):
    raw = environ.get(name, "")
    if raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _flag(environ, name) -> bool:
    return environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
