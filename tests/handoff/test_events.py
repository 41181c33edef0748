"""The live stream: changes arrive as Server-Sent Events, for logged-in agents only."""

import json

from api.events import CHANNEL, stream
from tests.handoff.conftest import USER


def _frames(response):
    """The stream's chunks as they come (the test client does not buffer)."""
    return iter(response.response)


def _next_event(chunks):
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if text.startswith("event:"):
            lines = dict(line.split(": ", 1) for line in text.strip().split("\n"))
            return lines["event"], json.loads(lines["data"])
    raise AssertionError("the stream ended")


def test_event_stream_needs_a_login(desk):
    response = desk.client.get("/api/v1/events")

    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"


def test_a_claim_reaches_the_stream_as_an_event(desk):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    response = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    chunks = _frames(response)
    assert next(chunks).decode().startswith("retry: ")

    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")

    kind, payload = _next_event(chunks)
    assert kind == "conversation.assigned"
    assert payload["data"]["id"] == conversation_id
    assert payload["data"]["assignee"] == "aiko"
    response.close()


def test_new_user_messages_and_notes_are_streamed(desk):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    response = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )
    chunks = _frames(response)
    next(chunks)

    desk.say("anyone?")
    desk.api(
        "post", f"/conversations/{conversation_id}/notes", "ben", json={"text": "x"}
    )

    kind, payload = _next_event(chunks)
    assert kind == "conversation.message"
    assert payload["data"]["last_message"]["text"] == "anyone?"
    assert payload["data"]["user_id"] == USER
    assert _next_event(chunks)[0] == "conversation.note"
    response.close()


def test_heartbeats_keep_the_agent_present(desk, app):
    from handoff.queue import last_seen

    app.config["TSUNAGI_SSE_HEARTBEAT"] = 0.0
    response = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )
    chunks = _frames(response)
    next(chunks)

    assert next(chunks) == b": heartbeat\n\n"
    assert last_seen(desk.runtime.redis, "ben") is not None
    response.close()


def test_a_closed_stream_releases_its_redis_subscription(desk):
    redis = desk.runtime.redis
    response = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )
    chunks = _frames(response)
    next(chunks)
    assert dict(redis.pubsub_numsub(CHANNEL))[CHANNEL] == 1

    response.close()

    assert dict(redis.pubsub_numsub(CHANNEL))[CHANNEL] == 0


def test_a_stream_ends_after_its_maximum_age_asking_to_reconnect(runtime):
    ticks = iter(range(0, 1000, 10))
    frames = list(stream(runtime.redis, max_age=25, clock=lambda: next(ticks)))

    assert frames[0].startswith("retry: ")
    assert frames[-1].startswith("event: reconnect")
    assert dict(runtime.redis.pubsub_numsub(CHANNEL))[CHANNEL] == 0


def test_streams_beyond_the_limit_get_503_until_one_closes(desk, app):
    app.config["TSUNAGI_SSE_MAX_STREAMS"] = 1
    first = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )

    refused = desk.client.get("/api/v1/events", headers=desk.headers["aiko"])
    first.close()
    again = desk.client.get(
        "/api/v1/events", headers=desk.headers["aiko"], buffered=False
    )

    assert first.status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "10"
    assert again.status_code == 200
    again.close()


def _ends(chunks, limit=50):
    """True when the stream ends (or asks to reconnect) within `limit` chunks."""
    for _ in range(limit):
        try:
            chunk = next(chunks)
        except StopIteration:
            return True
        if chunk.startswith(b"event: reconnect"):
            return True
    return False


def test_a_stream_ends_at_the_next_heartbeat_once_the_account_is_disabled(desk, app):
    from handoff.agents import Agents

    app.config["TSUNAGI_SSE_HEARTBEAT"] = 0.0
    response = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )
    chunks = _frames(response)
    next(chunks)
    assert next(chunks) == b": heartbeat\n\n"

    Agents(desk.runtime.redis).disable("ben")

    assert _ends(chunks)
    response.close()


def test_a_stream_ends_once_its_token_is_revoked(desk, app):
    app.config["TSUNAGI_SSE_HEARTBEAT"] = 0.0
    response = desk.client.get(
        "/api/v1/events", headers=desk.headers["ben"], buffered=False
    )
    chunks = _frames(response)
    next(chunks)

    desk.client.delete("/api/v1/auth/token", headers=desk.headers["ben"])

    assert _ends(chunks)
    response.close()
