"""The control API the phone page and tests drive: users, actions, waiting
for messages, settings, reset, and the phone page itself."""

import io
import threading

import pytest

from simulator import events
from tests.simulator.conftest import AUTH, make_user, text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def test_created_user_follows_and_has_a_line_shaped_id(client, receiver):
    response = client.post("/simulator/api/users", json={"displayName": "Aiko"})

    user = response.json
    assert response.status_code == 201
    assert user["userId"].startswith("U") and len(user["userId"]) == 33
    assert user["following"] is True
    assert receiver.wait_for(1)[0]["body"]["events"][0]["type"] == "follow"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "displayName"),
        ({"displayName": "   "}, "displayName"),
        ({"displayName": "x" * 21}, "displayName"),
        ({"displayName": "A", "userId": "U123"}, "userId"),
        ({"displayName": "A", "language": 5}, "language"),
    ],
)
def test_bad_user_is_refused_with_the_field(client, body, field):
    response = client.post("/simulator/api/users", json=body)
    assert response.status_code == 400
    assert response.json["field"] == field
    assert client.get("/simulator/api/users").json["users"] == []


def test_user_id_can_be_chosen_once(client):
    chosen = "U" + "a" * 32
    first = client.post(
        "/simulator/api/users", json={"displayName": "A", "userId": chosen}
    )
    again = client.post(
        "/simulator/api/users", json={"displayName": "B", "userId": chosen}
    )
    assert first.status_code == 201
    assert again.status_code == 400


def test_blocked_user_cannot_send(client):
    user = make_user(client, follow=False)
    response = client.post(f"/simulator/api/users/{user}/text", json={"text": "hi"})
    assert response.status_code == 409
    assert response.json["error"] == "not_following"


def test_actions_on_an_unknown_user_are_404(client):
    response = client.post(
        "/simulator/api/users/U" + "0" * 32 + "/text", json={"text": "hi"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path, body",
    [
        ("text", {"text": ""}),
        ("text", {"text": "x" * 5001}),
        ("sticker", {"packageId": "abc", "stickerId": "1"}),
        ("postback", {"data": ""}),
        ("postback", {"data": "a", "params": "x"}),
        ("location", {"latitude": 100, "longitude": 0}),
    ],
)
def test_bad_actions_are_refused_and_send_nothing(client, receiver, path, body):
    user = make_user(client)
    response = client.post(f"/simulator/api/users/{user}/{path}", json=body)
    assert response.status_code == 400
    assert len(client.get(f"/simulator/api/users/{user}/chat").json["entries"]) == 1


def test_image_must_be_an_image(client):
    user = make_user(client)
    response = client.post(
        f"/simulator/api/users/{user}/image",
        data={"image": (io.BytesIO(b"MZ\x90\x00"), "x.exe")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.json["field"] == "image"


def test_uploaded_image_is_served_to_the_phone(client):
    user = make_user(client)
    sent = client.post(
        f"/simulator/api/users/{user}/image",
        data={"image": (io.BytesIO(PNG), "p.png")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 202
    shown = client.get(f"/simulator/api/content/{sent.json['message']['id']}")
    assert shown.data == PNG


def test_postback_display_text_shows_in_the_chat(client, sim):
    user = make_user(client)
    client.post(
        f"/simulator/api/users/{user}/postback",
        json={"data": "d=1", "displayText": "Yes", "params": {"date": "2026-12-24"}},
    )
    entry = sim.chat(user)[-1]
    assert entry["kind"] == "postback"
    assert entry["displayText"] == "Yes"
    assert entry["postback"] == {"data": "d=1", "params": {"date": "2026-12-24"}}


def test_messages_wait_returns_once_enough_arrived(client, sim):
    user = make_user(client)
    token = events.text(sim, user, "hi")["replyToken"]

    def answer_later():
        sim.wait(lambda: False, 0.05)
        client.post(
            "/simulator/line/v2/bot/message/reply",
            json={"replyToken": token, "messages": [text("later")]},
            headers=AUTH,
        )

    threading.Thread(target=answer_later).start()
    response = client.get(f"/simulator/api/users/{user}/messages?wait=10&min=1")

    assert response.json["count"] == 1
    assert response.json["messages"][0]["messages"] == [text("later")]
    assert response.json["messages"][0]["method"] == "reply"


def test_chat_after_returns_only_newer_entries(client, sim):
    user = make_user(client)
    first = client.get(f"/simulator/api/users/{user}/chat").json
    events.text(sim, user, "one")

    later = client.get(f"/simulator/api/users/{user}/chat?after={first['seq']}").json

    assert [e["message"]["text"] for e in later["entries"]] == ["one"]
    assert later["stats"]["totalUsage"] == 0


@pytest.mark.parametrize("query", ["wait=abc", "min=x", "after=1.5"])
def test_bad_query_numbers_are_refused(client, query):
    user = make_user(client)
    path = "messages" if "min" in query or "wait" in query else "chat"
    response = client.get(f"/simulator/api/users/{user}/{path}?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"plan": "gold"},
        {"plan": -1},
        {"plan": True},
        {"replyTokenTtl": 0},
        {"webhookUrl": "ftp://x"},
        {"redelivery": "yes"},
        {"redeliveryDelays": [1, -2]},
    ],
)
def test_bad_settings_change_nothing(client, body):
    before = client.get("/simulator/api/settings").json
    response = client.patch("/simulator/api/settings", json=body)
    assert response.status_code == 400
    assert client.get("/simulator/api/settings").json == before


def test_plan_names_and_numbers_set_the_limit(client):
    assert (
        client.patch("/simulator/api/settings", json={"plan": "Standard"}).json["limit"]
        == 30000
    )
    assert (
        client.patch("/simulator/api/settings", json={"plan": 42}).json["limit"] == 42
    )


def test_reset_forgets_everything_but_settings(client, sim):
    client.patch("/simulator/api/settings", json={"plan": "light"})
    make_user(client)
    client.post("/simulator/api/faults", json={"path": "*", "status": 500})

    client.post("/simulator/api/reset")

    stats = client.get("/simulator/api/stats").json
    assert (stats["users"], stats["totalUsage"], stats["plan"]) == (0, 0, "light")
    assert client.get("/simulator/api/faults").json["faults"] == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_another_sites_page_cannot_change_the_simulator(client, headers):
    user = make_user(client)

    reset = client.post("/simulator/api/reset", headers=headers)
    unfollow = client.post(f"/simulator/api/users/{user}/unfollow", headers=headers)
    image = client.post(
        f"/simulator/api/users/{user}/image",
        data={"image": (io.BytesIO(PNG), "a.png")},
        headers=headers,
    )

    assert [r.status_code for r in (reset, unfollow, image)] == [403, 403, 403]
    assert reset.json["error"] == "cross_site"
    assert client.get(f"/simulator/api/users/{user}").json["following"] is True
    assert client.get("/simulator/api/stats").json["users"] == 1
    # Reading stays open to any page (the phone page's own polls included).
    assert client.get("/simulator/api/stats", headers=headers).status_code == 200


def test_the_phone_pages_own_requests_and_scripts_are_let_through(client):
    same_site = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    user = make_user(client)

    from_page = client.post(f"/simulator/api/users/{user}/unfollow", headers=same_site)
    from_script = client.post(f"/simulator/api/users/{user}/follow")

    assert (from_page.status_code, from_script.status_code) == (202, 202)
    assert client.get(f"/simulator/api/users/{user}").json["following"] is True


def test_phone_page_is_served_with_a_strict_policy(client):
    page = client.get("/simulator")
    assert page.status_code == 200
    assert b"phone.js" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/simulator/static/phone.js").status_code == 200


def test_avatar_escapes_the_display_name(client):
    user = client.post(
        "/simulator/api/users", json={"displayName": "<script>", "follow": False}
    ).json
    svg = client.get(f"/simulator/avatars/{user['userId']}.svg").data
    assert b"<script" not in svg
    assert b"&lt;" in svg


def test_avatar_must_be_one_the_phone_offers(client):
    response = client.post(
        "/simulator/api/users", json={"displayName": "A", "avatar": "unicorn"}
    )
    assert response.status_code == 400
    assert response.json["field"] == "avatar"


def test_picked_avatar_is_drawn_instead_of_the_initial(client):
    user = client.post(
        "/simulator/api/users",
        json={"displayName": "Zed", "avatar": "cat", "follow": False},
    ).json
    svg = client.get(f"/simulator/avatars/{user['userId']}.svg").data.decode()
    assert "\U0001f431" in svg
    assert ">Z<" not in svg


def test_plan_given_as_a_number_in_a_string_is_a_number(client):
    settings = client.patch("/simulator/api/settings", json={"plan": "1200"}).json
    assert (settings["plan"], settings["limit"]) == (1200, 1200)
    assert client.get("/simulator/api/stats").json["plan"] == "custom"
