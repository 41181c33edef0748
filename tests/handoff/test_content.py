"""Agents see what users send: GET /api/v1/conversations/{id}/content/{message_id}.

The desk runs on fakeredis with its real code; LINE's data host is the
simulator served over HTTP, reached by the real `LineClient` (the SDK's blob
client), so content is uploaded, fetched, forgotten and refused as LINE does.
"""

import base64

import pytest

from bot.line_api import TRANSPORT, LineClient, LineError
from handoff.content import ContentCache, safe_name
from simulator.__main__ import create_app as create_simulator
from simulator.state import Settings
from store import key
from tests.simulator.conftest import Served

SIM_SECRET = "sim-channel-secret"
SIM_TOKEN = "sim-access-token"
# A 1x1 PNG, and the same with a different pixel (another photo).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG2 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def line_sim():
    """The simulator on a free port; it sends no webhooks (the test delivers)."""
    app = create_simulator(Settings(channel_secret=SIM_SECRET, access_token=SIM_TOKEN))
    served = Served(app)
    served.client = app.test_client()
    served.sim = app.extensions["simulator"]
    yield served
    served.close()
    served.sim.webhooks.stop()


@pytest.fixture
def media(desk, line_sim):
    """The desk with its LINE client pointed at the simulator's data host."""
    base = line_sim.url + "/simulator/line"
    desk.runtime.line = LineClient(SIM_TOKEN, base, base)
    desk.sim = line_sim
    return desk


def new_user(desk, name="Aiko"):
    response = desk.sim.client.post(
        "/simulator/api/users", json={"displayName": name, "follow": True}
    )
    assert response.status_code == 201, response.json
    return response.json["userId"]


def send_photo(desk, user, data=PNG):
    """The user sends a photo on the phone; the desk gets its webhook event."""
    response = desk.sim.client.post(f"/simulator/api/users/{user}/image", data=data)
    assert response.status_code == 202, response.json
    event = response.json
    event["timestamp"] = int(desk.clock() * 1000)
    desk.deliver(event)
    return event["message"]["id"]


def deliver_message(desk, user, message):
    """A message event of any kind from `user` (shapes the phone cannot make)."""
    from tests.helpers import text_event

    event = text_event(user, "")
    event["message"] = message
    event["timestamp"] = int(desk.clock() * 1000)
    desk.deliver(event)


def content_path(conversation_id, message_id):
    return f"/conversations/{conversation_id}/content/{message_id}"


def test_agent_and_admin_see_the_photo_the_user_sent(media):
    user = new_user(media)
    message_id = send_photo(media, user)
    conversation = media.conversation(user)

    for who in ("aiko", "boss"):
        response = media.api("get", content_path(conversation["id"], message_id), who)
        assert response.status_code == 200, response.json
        assert response.data == PNG
        assert response.mimetype == "image/png"
        assert response.headers["Content-Disposition"].startswith("inline")
        assert response.headers["Cache-Control"] == "private, max-age=3600"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_conversation_lists_the_photo_with_its_id(media):
    user = new_user(media)
    message_id = send_photo(media, user)
    conversation = media.conversation(user)

    shown = media.api("get", f"/conversations/{conversation['id']}", "aiko").json
    photo = next(m for m in shown["messages"] if m["direction"] == "in")
    assert photo["type"] == "image"
    assert photo["message"]["id"] == message_id
    assert photo["message"]["contentProvider"] == {"type": "line"}


def test_a_second_view_is_served_from_the_cache_not_line(media):
    user = new_user(media)
    message_id = send_photo(media, user)
    path = content_path(media.conversation(user)["id"], message_id)
    assert media.api("get", path, "aiko").status_code == 200

    # LINE forgets it now: only the desk's cache can still answer.
    assert (
        media.sim.client.delete(f"/simulator/api/content/{message_id}").status_code
        == 204
    )
    again = media.api("get", path, "ben")
    assert again.status_code == 200
    assert again.data == PNG


def test_content_line_no_longer_keeps_is_content_gone(media):
    user = new_user(media)
    message_id = send_photo(media, user)
    media.sim.client.delete(f"/simulator/api/content/{message_id}")

    response = media.api(
        "get", content_path(media.conversation(user)["id"], message_id), "aiko"
    )
    assert response.status_code == 404
    assert response.json["error"] == "content_gone"


def test_without_the_cache_every_view_asks_line(media):
    media.runtime.config.content_cache_bytes = 0
    user = new_user(media)
    message_id = send_photo(media, user)
    path = content_path(media.conversation(user)["id"], message_id)
    assert media.api("get", path, "aiko").status_code == 200
    media.sim.client.delete(f"/simulator/api/content/{message_id}")
    assert media.api("get", path, "aiko").json["error"] == "content_gone"


def test_a_message_of_another_conversation_is_not_served(media):
    aiko_user = new_user(media, "First")
    other_user = new_user(media, "Second")
    send_photo(media, aiko_user)
    theirs = send_photo(media, other_user, PNG2)
    mine = media.conversation(aiko_user)["id"]

    response = media.api("get", content_path(mine, theirs), "boss")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    # The other user's own conversation serves it.
    own = media.api(
        "get", content_path(media.conversation(other_user)["id"], theirs), "boss"
    )
    assert own.data == PNG2


def test_ids_that_are_not_a_media_message_here_are_not_served(media):
    user = new_user(media)
    send_photo(media, user)
    conversation = media.conversation(user)["id"]
    media.say("hello", user_id=user)
    shown = media.api("get", f"/conversations/{conversation}", "aiko").json
    text_id = [m for m in shown["messages"] if m["direction"] == "in"][-1]["message"][
        "id"
    ]

    for message_id in (text_id, "123456789", "..%2F..%2Fbot%2Finfo"):
        response = media.api("get", content_path(conversation, message_id), "aiko")
        assert response.status_code == 404, message_id
        assert response.json["error"] == "not_found"
    unknown = media.api("get", content_path("01NOSUCHCONVERSATION", "1"), "aiko")
    assert unknown.status_code == 404


def test_a_caller_without_a_session_or_token_is_refused(media):
    user = new_user(media)
    message_id = send_photo(media, user)
    path = content_path(media.conversation(user)["id"], message_id)

    response = media.client.get(f"/api/v1{path}")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert PNG not in response.data


def test_a_file_is_an_attachment_under_a_safe_name(media):
    user = new_user(media)
    # A file LINE keeps (the phone page sends only photos).
    stored = media.sim.sim.store_content(b"%PDF-1.4 quote", "application/pdf")
    deliver_message(
        media,
        user,
        {
            "id": stored,
            "type": "file",
            "fileName": '../../見積"書\r\n.pdf',
            "fileSize": len(PNG),
        },
    )
    conversation = media.conversation(user)["id"]

    response = media.api("get", content_path(conversation, stored), "aiko")
    assert response.status_code == 200
    assert response.data == b"%PDF-1.4 quote"
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "filename*=UTF-8''%E8%A6%8B%E7%A9%8D_%E6%9B%B8_.pdf" in disposition
    assert "/" not in disposition.split("filename")[1]
    assert "\r" not in disposition and "\n" not in disposition


def test_safe_name_keeps_words_and_extension_drops_paths():
    assert safe_name("../etc/passwd") == "etc_passwd"
    assert safe_name('a"b;c.pdf') == "a_b_c.pdf"
    assert safe_name(None) == ""
    long = safe_name("x" * 300 + ".xlsx")
    assert len(long) == 120 and long.endswith(".xlsx")


def test_external_content_is_not_fetched(media):
    user = new_user(media)
    deliver_message(
        media,
        user,
        {
            "id": "777000111",
            "type": "image",
            "contentProvider": {
                "type": "external",
                "originalContentUrl": "https://example.com/a.jpg",
                "previewImageUrl": "https://example.com/a-small.jpg",
            },
        },
    )
    conversation = media.conversation(user)["id"]
    response = media.api("get", content_path(conversation, "777000111"), "aiko")
    assert response.status_code == 409
    assert response.json["error"] == "external"


def test_content_over_the_cap_is_refused(media):
    media.runtime.config.content_max_bytes = len(PNG) - 1
    user = new_user(media)
    message_id = send_photo(media, user)

    response = media.api(
        "get", content_path(media.conversation(user)["id"], message_id), "aiko"
    )
    assert response.status_code == 413
    assert response.json["error"] == "content_too_large"


def test_a_line_server_error_is_line_unavailable(media):
    user = new_user(media)
    message_id = send_photo(media, user)
    fault = {"path": f"/v2/bot/message/{message_id}/content", "status": 500}
    assert media.sim.client.post("/simulator/api/faults", json=fault).status_code == 201

    path = content_path(media.conversation(user)["id"], message_id)
    response = media.api("get", path, "aiko")
    assert response.status_code == 502
    assert response.json["error"] == "line_unavailable"
    # The fault was for one call: the next view works.
    assert media.api("get", path, "aiko").data == PNG


def test_a_slow_line_is_given_up_on_at_the_read_timeout(line_sim):
    message_id = line_sim.sim.store_content(PNG, "image/png")
    fault = {"path": f"/v2/bot/message/{message_id}/content", "latency": 2}
    line_sim.client.post("/simulator/api/faults", json=fault)
    base = line_sim.url + "/simulator/line"

    with pytest.raises(LineError) as caught:
        LineClient(SIM_TOKEN, base, base).get_message_content(
            message_id, 1000, timeout=(1.0, 0.2)
        )
    assert caught.value.kind == TRANSPORT


def test_the_cache_evicts_the_oldest_to_stay_within_its_budget(runtime, line_sim):
    base = line_sim.url + "/simulator/line"
    redis = runtime.web_queue.connection
    cache = ContentCache(
        redis, LineClient(SIM_TOKEN, base, base), max_bytes=1000, budget=4 * len(PNG)
    )
    ids = [line_sim.sim.store_content(PNG, "image/png") for _ in range(5)]
    for message_id in ids:
        assert cache.get(message_id).data == PNG

    kept = [m for m in ids if redis.exists(key("content", m))]
    assert kept == ids[1:]
    assert sum(int(v) for v in redis.hvals(key("content", "sizes"))) <= 4 * len(PNG)


def test_photos_cached_in_one_millisecond_are_evicted_oldest_first(runtime, line_sim):
    """Web processes can cache several photos within one millisecond (or with
    clocks a little apart): the first cached is still the first evicted."""
    from tests.conftest import Clock

    base = line_sim.url + "/simulator/line"
    redis = runtime.web_queue.connection
    cache = ContentCache(
        redis,
        LineClient(SIM_TOKEN, base, base),
        max_bytes=1000,
        budget=4 * len(PNG),
        clock=Clock(1_800_000_000.0),  # never moves: every put in one ms
    )
    ids = [line_sim.sim.store_content(PNG, "image/png") for _ in range(8)]
    for message_id in ids:
        cache.get(message_id)

    kept = [m for m in ids if redis.exists(key("content", m))]
    assert kept == ids[4:]
    assert redis.zrange(key("content", "cached"), 0, -1) == [
        m.encode() for m in ids[4:]
    ]


def test_panel_pages_let_players_load_the_desks_own_content():
    from app import panel_csp
    from config import Config

    assert "media-src 'self';" in panel_csp(Config())
