"""The webhook receiver: LINE's order — signature, body, parse, store, 200.

The route never calls LINE and does no answering: it files the events in the
inbox and queues a drain, and answers 200 only once all of them are safe in
Redis. Anything less is a 4xx (LINE's fault, not resent) or a 5xx (ours, so
LINE's redelivery sends it again).
"""

import json
import logging

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
        data = json.loads(text)
    except ValueError:
        abort(400, "body is not JSON")
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        abort(400, "body has no list of events")
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


@bp.get("/healthz")
def healthz():
    """200 when Redis answers, 503 when it does not."""
    try:
        _runtime().web_redis.ping()
    except RedisError:
        return jsonify(status="unavailable", redis=False), 503
    return jsonify(status="ok", redis=True)
