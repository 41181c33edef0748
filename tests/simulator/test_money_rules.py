"""The rules that cost money: reply tokens, counting per recipient, the plan
limit and retry keys, as LINE keeps them."""

import uuid

import pytest

from simulator import events
from simulator.state import TOKEN_SWEEP_EVERY
from tests.simulator.conftest import AUTH, make_user, text

REPLY = "/simulator/line/v2/bot/message/reply"
PUSH = "/simulator/line/v2/bot/message/push"
MULTICAST = "/simulator/line/v2/bot/message/multicast"


def token_for(sim, user_id, body="hello"):
    return events.text(sim, user_id, body)["replyToken"]


def reply(client, token, messages=None):
    return client.post(
        REPLY,
        json={"replyToken": token, "messages": messages or [text()]},
        headers=AUTH,
    )


def push(client, to, messages=None, retry_key=None):
    headers = dict(AUTH)
    if retry_key:
        headers["X-Line-Retry-Key"] = retry_key
    return client.post(
        PUSH, json={"to": to, "messages": messages or [text()]}, headers=headers
    )


def test_reply_token_works_once(client, sim):
    user = make_user(client)
    token = token_for(sim, user)

    first = reply(client, token)
    second = reply(client, token)

    assert first.status_code == 200
    assert len(first.json["sentMessages"]) == 1
    assert second.status_code == 400
    assert second.json == {"message": "Invalid reply token"}
    assert [m["method"] for m in sim.received(user)] == ["reply"]


def test_reply_token_expires_after_its_lifetime(client, sim, clock):
    user = make_user(client)
    token = token_for(sim, user)

    clock.advance(60.5)

    response = reply(client, token)
    assert response.status_code == 400
    assert response.json["message"] == "Invalid reply token"


def test_reply_token_works_until_its_lifetime_ends(client, sim, clock):
    user = make_user(client)
    token = token_for(sim, user)

    clock.advance(59.5)

    assert reply(client, token).status_code == 200


def test_configured_token_lifetime_is_kept(client, sim, clock):
    client.patch("/simulator/api/settings", json={"replyTokenTtl": 10})
    user = make_user(client)
    token = token_for(sim, user)

    clock.advance(11)

    assert reply(client, token).status_code == 400


def test_unknown_reply_token_is_invalid(client):
    assert reply(client, "never-issued").json == {"message": "Invalid reply token"}


def test_reply_is_free_and_push_is_billed(client, sim):
    user = make_user(client)
    reply(client, token_for(sim, user))
    push(client, user)

    received = sim.received(user)
    assert [(m["method"], m["billable"]) for m in received] == [
        ("reply", 0),
        ("push", 1),
    ]
    stats = client.get("/simulator/api/stats").json
    assert stats["totalUsage"] == 1
    assert (stats["replies"], stats["pushes"]) == (1, 1)


def test_push_of_five_objects_counts_once_per_recipient(client, sim):
    user = make_user(client)

    response = push(client, user, [text(str(i)) for i in range(5)])

    assert response.status_code == 200
    assert len(response.json["sentMessages"]) == 5
    assert sim.total_usage() == 1


def test_five_separate_pushes_count_five(client, sim):
    user = make_user(client)
    for i in range(5):
        push(client, user, [text(str(i))])
    assert sim.total_usage() == 5


def test_multicast_counts_each_friend_once(client, sim):
    friends = [make_user(client, f"u{i}") for i in range(3)]
    blocked = make_user(client, "gone")
    events.unfollow(sim, blocked)

    response = client.post(
        MULTICAST,
        json={"to": [*friends, friends[0], blocked], "messages": [text(), text()]},
        headers=AUTH,
    )

    assert response.status_code == 200
    assert sim.total_usage() == 3
    assert sim.received(blocked) == []
    assert [m["method"] for m in sim.received(friends[0])] == ["multicast"]


def test_push_to_a_user_who_blocked_the_bot_is_not_counted(client, sim):
    user = make_user(client)
    events.unfollow(sim, user)

    assert push(client, user).status_code == 200
    assert sim.total_usage() == 0
    assert sim.received(user) == []


def test_push_to_an_unknown_user_is_refused(client):
    response = push(client, "U" + "f" * 32)
    assert response.status_code == 400
    assert response.json["message"] == "Failed to send messages"


def test_push_at_the_plan_limit_gets_429(client, sim):
    client.patch("/simulator/api/settings", json={"plan": 2})
    user = make_user(client)
    assert push(client, user).status_code == 200
    assert push(client, user).status_code == 200

    refused = push(client, user)

    assert refused.status_code == 429
    assert refused.json == {"message": "You have reached your monthly limit."}
    assert sim.total_usage() == 2
    assert len(sim.received(user)) == 2
    assert reply(client, token_for(sim, user)).status_code == 200


def test_multicast_beyond_the_remaining_quota_is_refused_whole(client, sim):
    client.patch("/simulator/api/settings", json={"plan": 2})
    users = [make_user(client, f"u{i}") for i in range(3)]

    response = client.post(
        MULTICAST, json={"to": users, "messages": [text()]}, headers=AUTH
    )

    assert response.status_code == 429
    assert sim.total_usage() == 0


def test_upgrading_the_plan_lifts_the_limit_at_once(client, sim):
    client.patch("/simulator/api/settings", json={"plan": 1})
    user = make_user(client)
    push(client, user)
    assert push(client, user).status_code == 429

    client.patch("/simulator/api/settings", json={"plan": "light"})

    assert push(client, user).status_code == 200
    quota = client.get("/simulator/line/v2/bot/message/quota", headers=AUTH).json
    assert quota == {"type": "limited", "value": 5000}


def test_usage_starts_again_next_month(client, sim, clock):
    client.patch("/simulator/api/settings", json={"plan": 1})
    user = make_user(client)
    push(client, user)

    clock.advance(32 * 24 * 3600)

    assert push(client, user).status_code == 200
    used = client.get("/simulator/line/v2/bot/message/quota/consumption", headers=AUTH)
    assert used.json == {"totalUsage": 1}


def test_repeated_retry_key_gets_409_with_the_accepted_request_id(client, sim):
    user = make_user(client)
    key = str(uuid.uuid4())

    first = push(client, user, retry_key=key)
    again = push(client, user, retry_key=key)

    assert first.status_code == 200
    assert again.status_code == 409
    assert again.json["message"] == "The retry key is already accepted"
    assert (
        again.headers["x-line-accepted-request-id"]
        == first.headers["x-line-request-id"]
    )
    assert sim.total_usage() == 1
    assert len(sim.received(user)) == 1


def test_retry_key_refused_at_the_limit_can_be_used_later(client, sim):
    client.patch("/simulator/api/settings", json={"plan": 0})
    user = make_user(client)
    key = str(uuid.uuid4())
    assert push(client, user, retry_key=key).status_code == 429

    client.patch("/simulator/api/settings", json={"plan": "communication"})

    assert push(client, user, retry_key=key).status_code == 200


@pytest.mark.parametrize("key", ["not-a-uuid", "", "1234"])
def test_retry_key_must_be_a_uuid(client, key):
    user = make_user(client)
    headers = AUTH | {"X-Line-Retry-Key": key}
    response = client.post(
        PUSH, json={"to": user, "messages": [text()]}, headers=headers
    )
    assert response.status_code == 400


def test_retry_key_is_refused_on_reply(client, sim):
    user = make_user(client)
    token = token_for(sim, user)

    response = client.post(
        REPLY,
        json={"replyToken": token, "messages": [text()]},
        headers=AUTH | {"X-Line-Retry-Key": str(uuid.uuid4())},
    )

    assert response.status_code == 400
    assert reply(client, token).status_code == 200


def test_redelivered_token_lives_a_minute_from_redelivery(sim, clock, client):
    user = make_user(client)
    token = token_for(sim, user)
    clock.advance(50)

    sim.renew_token(token)
    clock.advance(50)

    assert reply(client, token).status_code == 200


def test_redelivered_token_never_outlives_twenty_minutes(sim, clock, client):
    user = make_user(client)
    token = token_for(sim, user)
    clock.advance(19 * 60 + 30)

    sim.renew_token(token)
    clock.advance(40)

    assert reply(client, token).status_code == 400


def test_used_token_stays_used_after_redelivery(sim, client):
    user = make_user(client)
    token = token_for(sim, user)
    reply(client, token)

    sim.renew_token(token)

    assert reply(client, token).status_code == 400


def test_tokens_past_any_redelivery_are_forgotten(sim, clock, client):
    user = make_user(client)
    old = token_for(sim, user)
    clock.advance(21 * 60 + 61)

    for n in range(TOKEN_SWEEP_EVERY):
        latest = sim.issue_token(user, clock(), f"event-{n}")

    assert sim.token(old) is None
    assert reply(client, latest).status_code == 200
