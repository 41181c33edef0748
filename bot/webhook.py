"""The webhook receiver: LINE's order — signature, body, parse, store, 200.

The route never calls LINE and does no answering: it files the events in the
inbox, queues a drain job unless one is queued already, and answers 200 only
once all of them are safe in Redis. Anything less is a 4xx (LINE's fault, not
resent) or a 5xx (ours, so LINE's redelivery sends it again).
"""

import logging
import math

import orjson
from flask import Blueprint, abort, current_app, jsonify, request
from linebot.v3.webhook import SignatureValidator
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)


def _runtime():
    return current_app.extensions["tsunagi"]


@bp.post("/callback")
def callback():
    """Receive a webhook delivery from LINE."""
    signature = request.headers.get("X-Line-Signature", "")
    body = request.get_data(cache=False)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, "body is not UTF-8")
    secret = _runtime().config.line_channel_secret
    if not signature or not SignatureValidator(secret).validate(text, signature):
        log.warning("webhook: refused a delivery with a missing or wrong signature")
        abort(400, "invalid signature")

    try:
        # orjson: the webhook's cost per request bounds a campaign's burst.
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        abort(400, "body is not JSON")
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        abort(400, "body has no list of events")
    if any(_malformed(event) for event in events):
        abort(400, "an event has fields of the wrong type")
    if not events:
        return "OK"

    runtime = _runtime()
    try:
        chats = runtime.intake(events, str(data.get("destination", "")))
    except RedisError:
        log.exception(
            "webhook: Redis unreachable; %d events left to redelivery",
            len(events),
        )
        abort(503, "storage unavailable")
    log.info("webhook: %d events, %d chats with new events", len(events), len(chats))
    return "OK"


def _malformed(event: dict) -> bool:
    """True when a field the desk reads has a type LINE never sends.

    Refused here with a 400 rather than failing later: the inbox orders by
    `timestamp` and reads `source`, the handler reads `deliveryContext`.
    """
    timestamp = event.get("timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int | float)
        or not math.isfinite(timestamp)
    ):
        return True
    if not isinstance(event.get("replyToken", ""), str):
        return True
    return any(
        event.get(name) is not None and not isinstance(event.get(name), dict)
        for name in ("source", "deliveryContext")
    )


@bp.get("/healthz")
def healthz():
    """200 when Redis answers, 503 when it does not."""
    try:
        _runtime().web_redis.ping()
    except RedisError:
        return jsonify(status="unavailable", redis=False), 503
    return jsonify(status="ok", redis=True)
