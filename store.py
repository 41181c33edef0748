"""Redis connections: a real server when REDIS_URL is set, else one in-process.

All state lives in Redis under the `tsunagi:` prefix (see `key`). The embedded
default shares one fakeredis server per process, so the web routes and the
in-process worker threads see the same data, exactly as separate processes
would through a real server.
"""

import logging
import threading

import fakeredis
import redis

log = logging.getLogger(__name__)

PREFIX = "tsunagi:"

#: Short time-outs on the web side, so an unreachable Redis turns into a 5xx
#: well inside LINE's 2-second webhook deadline.
WEB_SOCKET_TIMEOUT = 0.5
WEB_CONNECT_TIMEOUT = 0.5

_embedded_server = None
_embedded_lock = threading.Lock()


def key(*parts) -> str:
    """The Redis key for `parts`, e.g. key("tokens", user_id)."""
    return PREFIX + ":".join(str(p) for p in parts)


def embedded_server() -> fakeredis.FakeServer:
    """The process-wide in-process Redis server of the embedded default."""
    global _embedded_server
    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
            log.info("store: using an in-process Redis (REDIS_URL is not set)")
        return _embedded_server


def connect(
    redis_url: str, *, decode: bool = True, web: bool = False, server=None
) -> redis.Redis:
    """A client for the app's data (`decode=True`) or for RQ (`decode=False`).

    `server` overrides the embedded server (tests give each test its own).
    """
    if not redis_url:
        return fakeredis.FakeRedis(
            server=server or embedded_server(), decode_responses=decode
        )
    options = {"decode_responses": decode, "health_check_interval": 15}
    if web:
        options |= {
            "socket_timeout": WEB_SOCKET_TIMEOUT,
            "socket_connect_timeout": WEB_CONNECT_TIMEOUT,
        }
    else:
        options |= {"socket_connect_timeout": 2.0, "socket_keepalive": True}
    return redis.Redis.from_url(redis_url, **options)
