"""Helpers shared by the tests: signing webhooks, building LINE events."""

import base64
import hashlib
import hmac
import json
import time

from ulid import ULID


def sign(secret: str, body: bytes | str) -> str:
    """The `x-line-signature` LINE would send for `body`."""
    if isinstance(body, str):
        body = body.encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def text_event(
    user_id="U" + "1" * 32,
    text="hello",
    *,
    reply_token=None,
    timestamp=None,
    event_id=None,
    redelivery=False,
    mode="active",
):
    """A one-to-one text message event, shaped as LINE sends it."""
    return {
        "type": "message",
        "mode": mode,
        "timestamp": timestamp or int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or str(ULID()),
        "deliveryContext": {"isRedelivery": redelivery},
        "replyToken": reply_token or ("rt-" + str(ULID())),
        "message": {
            "id": str(ULID()),
            "type": "text",
            "text": text,
            "quoteToken": "q-" + str(ULID()),
        },
    }


def follow_event(user_id="U" + "1" * 32, **kwargs):
    event = text_event(user_id, **kwargs)
    event["type"] = "follow"
    event.pop("message")
    event["follow"] = {"isUnblocked": False}
    return event


def body_of(*events, destination="U" + "0" * 32) -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}).encode()
