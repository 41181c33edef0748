"""Live changes for the panel: published on Redis pub/sub, streamed as SSE.

`publish(redis, kind, data)` is how every area announces a change (a
conversation queued, claimed, a new message, a note). `GET /api/v1/events`
streams them to logged-in agents as Server-Sent Events, one JSON `data` line
per event with the `kind` as the SSE `event` name.

A stream holds one pub/sub connection while its client is there. It sends a
heartbeat comment every `HEARTBEAT` seconds, which is also how a vanished
client is noticed (the write fails and the connection is released), and it
ends after `MAX_AGE` seconds so that no stream lives forever; browsers'
`EventSource` reconnects by itself after `retry` milliseconds. Each stream
takes a web thread, so a process serves at most `MAX_STREAMS` at once and
answers 503 (with Retry-After) beyond that.
"""

import json
import logging
import threading
import time

from flask import Response, current_app
from redis.exceptions import RedisError

from api import bp
from api.auth import current_account, require_role, revalidator
from api.errors import ApiError
from api.openapi import doc
from store import key

log = logging.getLogger(__name__)

CHANNEL = key("events")
HEARTBEAT = 15.0
MAX_AGE = 300.0
RETRY_MS = 3000
#: How long one wait for a message lasts; bounds how late a heartbeat is.
POLL = 1.0
#: Open streams per process (each holds a web thread); more get 503, so that
#: agents' tabs can never take every thread from LINE's webhook.
MAX_STREAMS = 8


class _Slots:
    """A count of open streams, released exactly once per stream."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = 0

    def take(self, limit: int) -> bool:
        with self.lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def releaser(self):
        released = threading.Event()

        def release():
            with self.lock:
                if not released.is_set():
                    released.set()
                    self.open -= 1

        return release


def publish(redis, kind: str, data: dict) -> None:
    """Announce a change to every open event stream.

    Nothing is kept for absent listeners: the panel reloads its lists when it
    (re)connects, and the stream only spares it from polling.
    """
    message = json.dumps(
        {"kind": kind, "data": data, "time": time.time()},
        ensure_ascii=False,
        default=str,
    )
    redis.publish(CHANNEL, message)


def _frame(kind: str, payload: str) -> str:
    return f"event: {kind}\ndata: {payload}\n\n"


def stream(
    redis, *, heartbeat=HEARTBEAT, max_age=MAX_AGE, clock=time.monotonic, on_beat=None
):
    """Yield SSE frames from the channel until `max_age`, the client leaves,
    or `on_beat` (called at each heartbeat) returns False.

    The pub/sub connection is closed in `finally`, which runs when the client
    disconnects (the WSGI server closes the generator) and when the stream ends.
    """
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(CHANNEL)
        started = last_beat = clock()
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while clock() - started < max_age:
            message = pubsub.get_message(timeout=min(POLL, heartbeat))
            if message and message.get("type") == "message":
                raw = message["data"]
                if isinstance(raw, bytes):
                    raw = raw.decode()
                try:
                    kind = json.loads(raw).get("kind", "message")
                except ValueError:
                    continue
                yield _frame(kind, raw)
            if clock() - last_beat >= heartbeat:
                last_beat = clock()
                if on_beat is not None and on_beat() is False:
                    break
                yield ": heartbeat\n\n"
        yield _frame("reconnect", json.dumps({"kind": "reconnect"}))
    except RedisError:
        log.warning("events: stream lost Redis", exc_info=True)
        yield _frame("reconnect", json.dumps({"kind": "reconnect"}))
    finally:
        try:
            pubsub.close()
        except RedisError:
            log.debug("events: closing the pub/sub connection failed", exc_info=True)


@bp.get("/events")
@doc(
    "Live changes as Server-Sent Events",
    responses={
        200: (
            "text/event-stream: `event: <kind>` and `data: {kind, data, time}`; "
            "heartbeat comments every 15 s",
            {"type": "string"},
        ),
        503: "too many streams open in this process; retry after Retry-After",
    },
)
@require_role("agent")
def events():
    """Stream every published change until the client leaves (or 5 minutes)."""
    from handoff.queue import touch

    runtime = current_app.extensions["tsunagi"]
    username = current_account()["username"]
    redis = runtime.redis
    settings = current_app.config
    still_valid = revalidator()

    def beat():
        # A logout, a revoked token or a disabled account ends the stream.
        try:
            if not still_valid():
                log.info("events: %s's login ended; stream closed", username)
                return False
            # An open stream means the agent is at the desk.
            touch(redis, username, runtime.delivery.clock())
        except RedisError:
            log.debug("events: presence of %s not recorded", username)
        return True

    slots = current_app.extensions.setdefault("tsunagi.event_streams", _Slots())
    if not slots.take(settings.get("TSUNAGI_SSE_MAX_STREAMS", MAX_STREAMS)):
        raise ApiError(
            503,
            "unavailable",
            "too many event streams are open; retry shortly",
            headers={"Retry-After": "10"},
        )
    beat()
    body = stream(
        redis,
        heartbeat=settings.get("TSUNAGI_SSE_HEARTBEAT", HEARTBEAT),
        max_age=settings.get("TSUNAGI_SSE_MAX_AGE", MAX_AGE),
        on_beat=beat,
    )
    # The generator needs no request context (it holds what it uses), and
    # keeping one alive across the stream's life would pin it per client.
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    # Called by the server when the response ends, even if never iterated.
    response.call_on_close(slots.releaser())
    return response
