"""The stand-in API's surface: LINE's error shapes, auth, request ids, faults,
and the official SDK (through the desk's LineClient) working against it."""

import time
import uuid

import pytest
from linebot.v3.messaging import ApiClient, Configuration, MessagingApiBlob

from bot.line_api import (
    INVALID_REPLY_TOKEN,
    MONTHLY_LIMIT,
    RATE_LIMITED,
    SERVER_ERROR,
    LineClient,
    LineError,
)
from simulator import events
from tests.simulator.conftest import AUTH, TOKEN, make_user, text

PUSH = "/simulator/line/v2/bot/message/push"
REPLY = "/simulator/line/v2/bot/message/reply"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def line(live):
    return LineClient(TOKEN, live.url + "/simulator/line", timeout=5)


# -- error shapes and auth ----------------------------------------------------


def test_missing_text_is_reported_in_lines_error_shape(client):
    user = make_user(client)
    response = client.post(
        PUSH, json={"to": user, "messages": [{"type": "text"}]}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "is required", "property": "messages[0].text"}],
    }


def test_six_message_objects_are_refused(client, sim):
    user = make_user(client)
    response = client.post(
        PUSH, json={"to": user, "messages": [text()] * 6}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json["details"][0]["property"] == "messages"
    assert sim.total_usage() == 0


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            {
                "type": "image",
                "originalContentUrl": "http://example.com/a.jpg",
                "previewImageUrl": "https://example.com/a.jpg",
            },
            "messages[0].originalContentUrl",
        ),
        (
            {
                "type": "video",
                "originalContentUrl": "https://example.com/a.mp4",
                "previewImageUrl": "http://example.com/a.jpg",
            },
            "messages[0].previewImageUrl",
        ),
        (
            {
                "type": "audio",
                "originalContentUrl": "http://example.com/a.m4a",
                "duration": 1000,
            },
            "messages[0].originalContentUrl",
        ),
    ],
)
def test_media_addresses_must_be_https_as_line_requires(client, sim, message, field):
    user = make_user(client)
    response = client.post(PUSH, json={"to": user, "messages": [message]}, headers=AUTH)
    assert response.status_code == 400
    assert response.json["details"][0]["property"] == field
    assert sim.total_usage() == 0


def test_media_over_https_is_sent(client, sim):
    user = make_user(client)
    image = {
        "type": "image",
        "originalContentUrl": "https://example.com/a.jpg",
        "previewImageUrl": "https://example.com/a.jpg",
    }
    response = client.post(PUSH, json={"to": user, "messages": [image]}, headers=AUTH)
    assert response.status_code == 200


def test_empty_messages_are_refused(client):
    response = client.post(
        REPLY, json={"replyToken": "x", "messages": []}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json["details"][0]["property"] == "messages"


def test_unknown_message_type_names_the_field(client):
    user = make_user(client)
    response = client.post(
        PUSH, json={"to": user, "messages": [{"type": "hologram"}]}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json["details"][0]["property"] == "messages[0].type"


def test_body_that_is_not_json_is_refused(client):
    response = client.post(
        PUSH, data="not json", headers=AUTH | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["message"] == "The request body has 1 error(s)"


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer{TOKEN}"]
)
def test_calls_without_the_channel_token_get_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/simulator/line/v2/bot/info", headers=headers)
    assert response.status_code == 401
    assert response.json["message"].startswith("Authentication failed")


def test_every_answer_has_a_request_id(client):
    ok = client.get("/simulator/line/v2/bot/info", headers=AUTH)
    refused = client.get("/simulator/line/v2/bot/info")
    invalid = client.post(REPLY, json={}, headers=AUTH)
    ids = [r.headers["x-line-request-id"] for r in (ok, refused, invalid)]
    assert all(ids) and len(set(ids)) == 3


def test_refused_calls_are_counted_in_stats(client):
    client.get("/simulator/line/v2/bot/info")
    client.post(REPLY, json={"replyToken": "nope", "messages": [text()]}, headers=AUTH)
    stats = client.get("/simulator/api/stats").json
    assert stats["refused"] == 2


# -- the other endpoints --------------------------------------------------------


def test_loading_animation_is_accepted_with_202(client, sim):
    user = make_user(client)
    response = client.post(
        "/simulator/line/v2/bot/chat/loading/start",
        json={"chatId": user, "loadingSeconds": 10},
        headers=AUTH,
    )
    assert response.status_code == 202
    assert sim.loading_until(user) is not None


@pytest.mark.parametrize("seconds", [3, 7, 65])
def test_loading_seconds_must_be_a_step_of_five(client, seconds):
    user = make_user(client)
    response = client.post(
        "/simulator/line/v2/bot/chat/loading/start",
        json={"chatId": user, "loadingSeconds": seconds},
        headers=AUTH,
    )
    assert response.status_code == 400


def test_loading_indicator_ends_when_a_message_arrives(client, sim):
    user = make_user(client)
    sim.show_loading(user, 30)
    token = events.text(sim, user, "hi")["replyToken"]
    client.post(REPLY, json={"replyToken": token, "messages": [text()]}, headers=AUTH)
    assert sim.loading_until(user) is None


def test_mark_as_read_by_token_marks_the_users_messages(client, sim):
    user = make_user(client)
    event = events.text(sim, user, "hi")
    response = client.post(
        "/simulator/line/v2/bot/chat/markAsRead",
        json={"markAsReadToken": event["message"]["markAsReadToken"]},
        headers=AUTH,
    )
    assert response.status_code == 200
    assert sim.read_up_to(user) > 0

    again = client.post(
        "/simulator/line/v2/bot/chat/markAsRead",
        json={"markAsReadToken": "made-up"},
        headers=AUTH,
    )
    assert again.status_code == 400


def test_mark_as_read_by_user_id(client, sim):
    user = make_user(client)
    events.text(sim, user, "hi")
    response = client.post(
        "/simulator/line/v2/bot/message/markAsRead",
        json={"chat": {"userId": user}},
        headers=AUTH,
    )
    assert response.status_code == 200
    assert all(e["read"] for e in sim.chat(user) if e["from"] == "user")


def test_profile_of_a_friend_and_404_for_others(client, sim):
    user = make_user(client, "Aiko")
    stranger = make_user(client, "Ben", follow=False)

    found = client.get(f"/simulator/line/v2/bot/profile/{user}", headers=AUTH)
    missing = client.get(f"/simulator/line/v2/bot/profile/{stranger}", headers=AUTH)

    assert found.json["displayName"] == "Aiko"
    assert found.json["pictureUrl"].endswith(f"/simulator/avatars/{user}.svg")
    assert missing.status_code == 404


def test_quota_without_a_limit_says_none(client):
    client.patch("/simulator/api/settings", json={"plan": "unlimited"})
    quota = client.get("/simulator/line/v2/bot/message/quota", headers=AUTH)
    assert quota.json == {"type": "none"}


def test_content_of_an_image_the_user_sent(client, sim):
    user = make_user(client)
    sent = client.post(
        f"/simulator/api/users/{user}/image",
        data=PNG,
        headers={"Content-Type": "application/octet-stream"},
    )
    message_id = sent.json["message"]["id"]

    response = client.get(
        f"/simulator/line/v2/bot/message/{message_id}/content", headers=AUTH
    )

    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    missing = client.get("/simulator/line/v2/bot/message/123/content", headers=AUTH)
    assert missing.status_code == 404


# -- faults ---------------------------------------------------------------------


def test_injected_5xx_fails_the_next_calls_then_clears(client, sim):
    user = make_user(client)
    client.post(
        "/simulator/api/faults",
        json={"path": "/v2/bot/message/push", "status": 503, "count": 2},
    )
    statuses = [
        client.post(
            PUSH, json={"to": user, "messages": [text()]}, headers=AUTH
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    assert sim.total_usage() == 1


def test_fault_after_the_call_loses_the_answer_but_delivers(client, sim):
    user = make_user(client)
    key = str(uuid.uuid4())
    client.post(
        "/simulator/api/faults",
        json={"path": "/v2/bot/message/push", "status": 500, "stage": "after"},
    )
    headers = AUTH | {"X-Line-Retry-Key": key}
    lost = client.post(PUSH, json={"to": user, "messages": [text()]}, headers=headers)
    retried = client.post(
        PUSH, json={"to": user, "messages": [text()]}, headers=headers
    )

    assert lost.status_code == 500
    assert retried.status_code == 409
    assert len(sim.received(user)) == 1
    assert sim.total_usage() == 1


def test_latency_after_the_call_delays_the_answer_of_a_done_call(client, sim):
    user = make_user(client)
    client.post(
        "/simulator/api/faults",
        json={
            "path": "/v2/bot/message/push",
            "latency": 0.3,
            "stage": "after",
            "count": 1,
        },
    )

    started = time.monotonic()
    response = client.post(PUSH, json={"to": user, "messages": [text()]}, headers=AUTH)
    took = time.monotonic() - started

    assert response.status_code == 200
    assert took >= 0.3
    assert sim.total_usage() == 1
    assert client.get("/simulator/api/faults").json["faults"] == []


def test_fault_on_one_path_leaves_others_alone(client):
    client.post(
        "/simulator/api/faults", json={"path": "/v2/bot/message/push", "status": 429}
    )
    assert client.get("/simulator/line/v2/bot/info", headers=AUTH).status_code == 200
    assert client.get("/simulator/api/faults").json["faults"][0]["count"] == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"path": "/v2/bot/message/push", "status": 404},
        {"path": "push", "status": 500},
        {"path": "/v2/bot/message/push"},
        {"path": "*", "status": 500, "count": 0},
        {"path": "*", "latency": -1},
        {"path": "*", "status": 500, "stage": "during"},
    ],
)
def test_bad_fault_specs_are_refused(client, spec):
    response = client.post("/simulator/api/faults", json=spec)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_fault"
    assert client.get("/simulator/api/faults").json["faults"] == []


# -- the SDK, through the desk's own client ----------------------------------------


def test_sdk_reply_then_reuse_is_classified_invalid(line, sim, client):
    user = make_user(client)
    token = events.text(sim, user, "hi")["replyToken"]

    headers = line.reply(token, [text("welcome")])
    with pytest.raises(LineError) as caught:
        line.reply(token, [text("again")])

    assert headers["x-line-request-id"]
    assert caught.value.kind == INVALID_REPLY_TOKEN
    assert sim.received(user)[-1]["messages"] == [text("welcome")]


def test_sdk_push_retried_with_the_same_key_sends_once(line, sim, client):
    user = make_user(client)
    key = str(uuid.uuid4())

    first = line.push(user, [text("news")], key)
    second = line.push(user, [text("news")], key)

    assert second["x-line-request-id"] == first["x-line-request-id"]
    assert second["retried"] == "1"
    assert sim.total_usage() == 1


def test_sdk_sees_the_monthly_limit(line, client):
    client.patch("/simulator/api/settings", json={"plan": 0})
    user = make_user(client)
    with pytest.raises(LineError) as caught:
        line.push(user, [text()], str(uuid.uuid4()))
    assert caught.value.kind == MONTHLY_LIMIT
    assert line.get_quota() == {"type": "limited", "value": 0}


def test_sdk_classifies_injected_faults(line, client):
    user = make_user(client)
    client.post("/simulator/api/faults", json={"path": "*", "status": 429})
    with pytest.raises(LineError) as rate:
        line.push(user, [text()], str(uuid.uuid4()))
    client.post("/simulator/api/faults", json={"path": "*", "status": 502})
    with pytest.raises(LineError) as down:
        line.push(user, [text()], str(uuid.uuid4()))
    assert (rate.value.kind, down.value.kind) == (RATE_LIMITED, SERVER_ERROR)


def test_sdk_profile_quota_and_loading(line, client, sim):
    user = make_user(client, "Aiko")
    line.push(user, [text()], str(uuid.uuid4()))

    assert line.get_profile(user)["displayName"] == "Aiko"
    assert line.get_quota_consumption() == 1
    line.show_loading_animation(user, 5)
    assert sim.loading_until(user) is not None


def test_sdk_downloads_message_content_from_the_data_host(live, client):
    user = make_user(client)
    message_id = client.post(f"/simulator/api/users/{user}/image", data=PNG).json[
        "message"
    ]["id"]
    configuration = Configuration(access_token=TOKEN, host=live.url + "/simulator/line")
    with ApiClient(configuration) as api_client:
        data = MessagingApiBlob(api_client).get_message_content(message_id)
    assert data == PNG


def test_api_path_the_simulator_lacks_gets_lines_json_404(client):
    response = client.post("/simulator/line/v2/bot/message/broadcast", headers=AUTH)
    assert response.status_code == 404
    assert response.json == {"message": "Not found"}
    assert response.headers["x-line-request-id"]
