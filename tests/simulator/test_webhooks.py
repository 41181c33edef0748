"""Webhooks the simulator sends: signed as LINE signs them, shaped as LINE
shapes them, and redelivered when the desk does not answer 2xx."""

import json

import pytest
from linebot.v3.webhook import WebhookParser
from ulid import ULID

from simulator.webhooks import signature
from tests.helpers import sign, text_event
from tests.simulator.conftest import AUTH, SECRET, make_user, text


def test_signature_matches_lines_known_vector():
    expected = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    assert signature("channel_secret", b"bodybodybodybody") == expected


def test_message_webhook_is_signed_and_shaped_as_line_sends_it(client, receiver, sim):
    user = make_user(client)
    client.post(f"/simulator/api/users/{user}/text", json={"text": "こんにちは"})

    delivery = receiver.wait_for(2)[1]
    body = delivery["body"]
    event = body["events"][0]

    assert delivery["signature"] == sign(SECRET, delivery["raw"])
    assert body["destination"] == sim.settings.bot_user_id
    assert event["type"] == "message"
    assert event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": user}
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert str(ULID.from_str(event["webhookEventId"])) == event["webhookEventId"]
    assert event["message"]["text"] == "こんにちは"
    assert event["message"]["quoteToken"] and event["message"]["markAsReadToken"]
    assert event["replyToken"]
    assert isinstance(event["timestamp"], int)


def test_sdk_parser_accepts_the_simulators_webhooks(client, receiver):
    user = make_user(client)
    client.post(
        f"/simulator/api/users/{user}/postback",
        json={"data": "action=buy&item=1", "displayText": "Buy"},
    )
    client.post(
        f"/simulator/api/users/{user}/sticker",
        json={"packageId": "11537", "stickerId": "52002734"},
    )
    client.post(f"/simulator/api/users/{user}/unfollow")

    parser = WebhookParser(SECRET)
    kinds = []
    for delivery in receiver.wait_for(4):
        raw = delivery["raw"].decode()
        kinds += [type(e).__name__ for e in parser.parse(raw, delivery["signature"])]
    assert kinds == ["FollowEvent", "PostbackEvent", "MessageEvent", "UnfollowEvent"]


def test_unfollow_carries_no_reply_token(client, receiver):
    user = make_user(client)
    client.post(f"/simulator/api/users/{user}/unfollow")
    event = receiver.wait_for(2)[1]["body"]["events"][0]
    assert event["type"] == "unfollow"
    assert "replyToken" not in event


def test_refollow_is_an_unblock(client, receiver):
    user = make_user(client)
    client.post(f"/simulator/api/users/{user}/unfollow")
    client.post(f"/simulator/api/users/{user}/follow")
    events = [d["body"]["events"][0] for d in receiver.wait_for(3)]
    assert [e.get("follow") for e in events] == [
        {"isUnblocked": False},
        None,
        {"isUnblocked": True},
    ]


def test_failed_delivery_is_redelivered_with_the_same_event_id(client, receiver, sim):
    receiver.statuses = [500, 503]
    user = make_user(client)

    deliveries = receiver.wait_for(3)

    events = [d["body"]["events"][0] for d in deliveries]
    assert len({e["webhookEventId"] for e in events}) == 1
    assert [e["deliveryContext"]["isRedelivery"] for e in events] == [
        False,
        True,
        True,
    ]
    assert len({e["replyToken"] for e in events}) == 1
    assert all(d["signature"] == sign(SECRET, d["raw"]) for d in deliveries)
    sim.wait(lambda: len(sim.webhook_deliveries()) >= 3, 5)
    log = client.get("/simulator/api/webhooks").json["deliveries"]
    assert [(d["attempt"], d["status"]) for d in log] == [(1, 500), (2, 503), (3, 200)]
    assert sim.user(user)["following"]


def test_redelivery_gives_up_after_the_configured_tries(client, receiver, sim):
    receiver.statuses = [500] * 10
    make_user(client)

    sim.wait(lambda: sim.webhooks.given_up, 10)

    assert len(receiver.deliveries) == 4  # the first try and three redeliveries
    assert client.get("/simulator/api/webhooks").json["givenUp"] == 1


def test_no_redelivery_when_switched_off(client, receiver, sim):
    client.patch("/simulator/api/settings", json={"redelivery": False})
    receiver.statuses = [500]
    user = make_user(client)
    client.post(f"/simulator/api/users/{user}/text", json={"text": "next"})

    deliveries = receiver.wait_for(2)

    assert [d["body"]["events"][0]["type"] for d in deliveries] == [
        "follow",
        "message",
    ]


def test_redelivered_token_can_still_be_used(client, receiver):
    receiver.statuses = [500]
    user = make_user(client)
    token = receiver.wait_for(2)[1]["body"]["events"][0]["replyToken"]

    response = client.post(
        "/simulator/line/v2/bot/message/reply",
        json={"replyToken": token, "messages": [text()]},
        headers=AUTH,
    )

    assert response.status_code == 200
    assert client.get(f"/simulator/api/users/{user}/messages").json["count"] == 1


def test_injected_events_are_sent_as_they_are_and_their_tokens_work(
    client, receiver, sim
):
    user = make_user(client, follow=False)
    event = text_event(user, "raw", reply_token="injected-token")

    response = client.post(
        "/simulator/api/webhook", json={"events": [event], "destination": "Uabc"}
    )
    delivered = receiver.wait_for(1)[0]

    assert response.status_code == 202
    assert delivered["body"] == {"destination": "Uabc", "events": [event]}
    assert sim.token("injected-token")["userId"] == user


def test_webhook_body_is_compact_utf8_json(client, receiver):
    user = make_user(client)
    client.post(f"/simulator/api/users/{user}/text", json={"text": "絵文字 😀"})
    raw = receiver.wait_for(2)[1]["raw"]
    assert "絵文字 😀".encode() in raw
    assert json.loads(raw)["events"][0]["message"]["text"] == "絵文字 😀"


def test_one_users_webhooks_arrive_in_the_order_sent(client, receiver):
    users = [make_user(client, f"u{n}") for n in range(3)]
    for n in range(12):
        for user in users:
            client.post(f"/simulator/api/users/{user}/text", json={"text": f"m{n}"})

    deliveries = receiver.wait_for(3 + 36)

    for user in users:
        texts = [
            e["message"]["text"]
            for d in deliveries
            for e in d["body"]["events"]
            if e["source"]["userId"] == user and e["type"] == "message"
        ]
        assert texts == [f"m{n}" for n in range(12)]


def test_injected_event_from_an_unknown_user_makes_them_a_friend(client, sim):
    stranger = "U" + "7" * 32
    event = text_event(stranger, "hi", reply_token="stranger-token")

    client.post("/simulator/api/webhook", json={"events": [event]})
    response = client.post(
        "/simulator/line/v2/bot/message/reply",
        json={"replyToken": "stranger-token", "messages": [text()]},
        headers=AUTH,
    )

    assert response.status_code == 200
    assert sim.user(stranger)["following"]
    assert [m["method"] for m in sim.received(stranger)] == ["reply"]


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": "yesterday"},
        {"source": "U" + "7" * 32},
        {"source": {"type": "user", "userId": 7}},
        {"replyToken": ["not", "a", "string"]},
    ],
)
def test_injected_event_of_a_wrong_shape_is_a_400(client, sim, change):
    event = text_event("U" + "7" * 32, "hi", reply_token="shape-token") | change

    response = client.post("/simulator/api/webhook", json={"events": [event]})

    assert response.status_code == 400
    assert response.json["error"] == "invalid_events"
