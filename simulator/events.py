"""What a simulated user does, turned into the webhook events LINE would send.

Each function records the action in the user's chat (so the phone page shows
it), issues a reply token where LINE gives one, and queues the signed webhook.
They return the event as sent.
"""

import logging

from simulator.state import (
    USER_ID,
    LineRefusal,
    Simulator,
    message_id,
    new_event_id,
)

log = logging.getLogger(__name__)


class UnknownUser(LookupError):
    """No simulated user has this id."""


class NotFriend(Exception):
    """The user has not followed the bot (or blocked it): LINE delivers nothing."""


def _base(sim: Simulator, user_id: str, kind: str, *, token: bool) -> dict:
    now = sim.clock()
    event_id = new_event_id()
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": int(now * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
    }
    if token:
        event["replyToken"] = sim.issue_token(user_id, now, event_id)
    return event


def _dispatch(sim: Simulator, event: dict) -> dict:
    if sim.webhooks is not None:
        sim.webhooks.send([event])
    return event


def _friend(sim: Simulator, user_id: str) -> dict:
    user = sim.user(user_id)
    if user is None:
        raise UnknownUser(user_id)
    if not user["following"]:
        raise NotFriend(f"user {user_id} is not following the bot")
    return user


def follow(sim: Simulator, user_id: str) -> dict:
    """The user adds the bot as a friend (or unblocks it)."""
    user = sim.user(user_id)
    if user is None:
        raise UnknownUser(user_id)
    if user["following"]:
        raise ValueError(f"user {user_id} already follows the bot")
    unblocked = any(
        e.get("kind") == "unfollow" for e in sim.chat(user_id) if e["from"] == "user"
    )
    sim.set_following(user_id, True)
    event = _base(sim, user_id, "follow", token=True)
    event["follow"] = {"isUnblocked": unblocked}
    sim.record_user_entry(
        user_id, {"kind": "follow", "webhookEventId": event["webhookEventId"]}
    )
    return _dispatch(sim, event)


def unfollow(sim: Simulator, user_id: str) -> dict:
    """The user blocks the bot: no reply token, and nothing reaches them after."""
    _friend(sim, user_id)
    sim.set_following(user_id, False)
    event = _base(sim, user_id, "unfollow", token=False)
    sim.record_user_entry(
        user_id, {"kind": "unfollow", "webhookEventId": event["webhookEventId"]}
    )
    return _dispatch(sim, event)


def _message(sim: Simulator, user_id: str, message: dict) -> dict:
    _friend(sim, user_id)
    event = _base(sim, user_id, "message", token=True)
    message = {
        "id": message.pop("id", None) or message_id(),
        **message,
        "quoteToken": new_event_id(),
        "markAsReadToken": sim.read_token_for(user_id),
    }
    event["message"] = message
    sim.record_user_entry(
        user_id,
        {
            "kind": "message",
            "message": message,
            "webhookEventId": event["webhookEventId"],
        },
    )
    return _dispatch(sim, event)


def text(sim: Simulator, user_id: str, body: str) -> dict:
    """The user sends a text message."""
    if not isinstance(body, str) or not body.strip():
        raise ValueError("text must be a non-empty string")
    if len(body) > 5000:
        raise ValueError("text may be at most 5000 characters long")
    return _message(sim, user_id, {"type": "text", "text": body})


def sticker(sim: Simulator, user_id: str, package_id: str, sticker_id: str) -> dict:
    """The user sends a sticker (LINE's ids; the phone draws its own)."""
    if not str(package_id).isdigit() or not str(sticker_id).isdigit():
        raise ValueError("packageId and stickerId must be numbers")
    return _message(
        sim,
        user_id,
        {
            "type": "sticker",
            "packageId": str(package_id),
            "stickerId": str(sticker_id),
            "stickerResourceType": "STATIC",
        },
    )


def location(
    sim: Simulator,
    user_id: str,
    *,
    title: str,
    address: str,
    latitude: float,
    longitude: float,
) -> dict:
    """The user shares a location."""
    for name, value, low, high in (
        ("latitude", latitude, -90, 90),
        ("longitude", longitude, -180, 180),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be from {low} to {high}, got {value!r}")
    message = {"type": "location", "latitude": latitude, "longitude": longitude}
    if title:
        message["title"] = str(title)[:100]
    if address:
        message["address"] = str(address)[:100]
    return _message(sim, user_id, message)


def image(sim: Simulator, user_id: str, data: bytes, content_type: str) -> dict:
    """The user sends a photo; its bytes are served by the content endpoint."""
    _friend(sim, user_id)
    mid = sim.store_content(data, content_type)
    return _message(
        sim,
        user_id,
        {"id": mid, "type": "image", "contentProvider": {"type": "line"}},
    )


def postback(
    sim: Simulator,
    user_id: str,
    data: str,
    *,
    display_text: str | None = None,
    params: dict | None = None,
) -> dict:
    """The user taps a postback action; `display_text` shows as their bubble."""
    _friend(sim, user_id)
    if not isinstance(data, str) or not data:
        raise ValueError("data must be a non-empty string")
    event = _base(sim, user_id, "postback", token=True)
    event["postback"] = {"data": data}
    if params:
        event["postback"]["params"] = params
    sim.record_user_entry(
        user_id,
        {
            "kind": "postback",
            "postback": event["postback"],
            "displayText": display_text or "",
            "webhookEventId": event["webhookEventId"],
        },
    )
    return _dispatch(sim, event)


def inject(sim: Simulator, events: list[dict], destination: str | None = None):
    """Send `events` as they are (tests use this for shapes the phone lacks).

    Reply tokens they carry become tokens LINE would honour, so the desk can
    answer them, and an unknown user they come from becomes a friend (LINE
    only sends events of users who exist); nothing is added to any chat.
    """
    now = sim.clock()
    for event in events:
        token = event.get("replyToken")
        user_id = (event.get("source") or {}).get("userId", "")
        if USER_ID.match(user_id or "") and sim.user(user_id) is None:
            try:
                sim.create_user(f"User {user_id[1:7]}", user_id=user_id)
                sim.set_following(user_id, True)
            except ValueError:
                pass  # created meanwhile by another request
        if token:
            when = event.get("timestamp", now * 1000) / 1000.0
            sim.adopt_token(token, user_id, when, event.get("webhookEventId"))
    if sim.webhooks is None:
        raise LineRefusal(503, "the simulator has no webhook sender")
    sim.webhooks.send(events, destination)
