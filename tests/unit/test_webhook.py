"""The webhook receiver: verify, store, enqueue, answer 200 — nothing more."""

import json
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot import jobs
from store import key
from tests.conftest import SECRET
from tests.helpers import body_of, sign, text_event

SAMPLES = Path(__file__).resolve().parents[1] / "data"


def post(client, body, signature=None, **headers):
    if signature is None:
        signature = sign(SECRET, body)
    return client.post(
        "/callback", data=body, headers={"X-Line-Signature": signature, **headers}
    )


def test_signature_vector_from_line_docs():
    assert sign("channel_secret", b"bodybodybodybody") == (
        "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    )


def test_signed_text_event_is_answered_by_reply(client, runtime, fake_line):
    event = text_event(reply_token=fake_line.issue("tok-1"))

    response = post(client, body_of(event))
    jobs.drain([event["source"]["userId"]])

    assert response.status_code == 200
    assert [(c[0], c[1]) for c in fake_line.calls] == [("reply", "tok-1")]
    assert fake_line.pushes() == []


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", None])
def test_missing_or_wrong_signature_is_refused_and_nothing_stored(
    client, runtime, signature
):
    body = body_of(text_event())
    headers = {} if signature is None else {"X-Line-Signature": signature}

    response = client.post("/callback", data=body, headers=headers)

    assert response.status_code == 400
    assert runtime.redis.keys("tsunagi:*") == []
    assert runtime.queue.count == 0


def test_signature_header_name_is_case_insensitive(client):
    body = body_of()
    response = client.post(
        "/callback", data=body, headers={"x-line-signature": sign(SECRET, body)}
    )
    assert response.status_code == 200


def test_signature_over_a_different_body_is_refused(client, runtime):
    signature = sign(SECRET, body_of(text_event(text="a")))
    response = post(client, body_of(text_event(text="b")), signature)
    assert response.status_code == 400
    assert runtime.redis.keys("tsunagi:*") == []


def test_verify_button_body_gets_200(client):
    assert post(client, b'{"destination": "U0", "events": []}').status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"events": {}}', b'{"events": [1, 2]}', b"[]", b"\xff\xfe"],
)
def test_signed_but_malformed_body_is_400(client, runtime, body):
    assert post(client, body).status_code == 400
    assert runtime.queue.count == 0


def test_body_over_one_mebibyte_is_413(client):
    body = b'{"events": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert post(client, body).status_code == 413


def test_redelivered_event_is_processed_once(client, runtime, fake_line):
    event = text_event(reply_token=fake_line.issue("tok-1"))
    again = json.loads(json.dumps(event))
    again["deliveryContext"]["isRedelivery"] = True

    assert post(client, body_of(event)).status_code == 200
    assert post(client, body_of(again)).status_code == 200
    assert post(client, body_of(event, event)).status_code == 200
    jobs.drain([event["source"]["userId"]])

    assert len(fake_line.calls) == 1
    assert runtime.inbox.pending(event["source"]["userId"]) == []


def test_every_sample_event_from_the_sdk_is_accepted(client, runtime):
    body = (SAMPLES / "webhook-events.json").read_bytes()

    response = post(client, body)
    chats = runtime.redis.smembers(key("inbox"))
    for chat_id in chats:
        jobs.drain([chat_id])

    assert response.status_code == 200
    assert chats
    assert all(runtime.inbox.pending(c) == [] for c in chats)
    assert_all_handled(runtime)


def assert_all_handled(runtime):
    """No event failed: none waits for a retry, none became a dead letter."""
    assert runtime.inbox.parked() == []
    assert runtime.redis.zcard(key("deadletter")) == 0


def test_every_event_type_of_the_webhook_spec_is_handled(client, runtime):
    """Every type LINE's webhook.yml maps (its Event discriminator), plus
    types LINE may add (unknown here), is stored and handled without failing."""
    types = [
        *("message", "unsend", "follow", "unfollow", "join", "leave"),
        *("memberJoined", "memberLeft", "postback", "videoPlayComplete"),
        *("beacon", "accountLink", "membership", "module", "activated"),
        *("deactivated", "botSuspended", "botResumed", "delivery"),
        *("messageEdited", "somethingLineAddsTomorrow"),
    ]
    events = []
    for number, kind in enumerate(types):
        event = text_event(user_id=f"U{number:032d}")
        event["type"] = kind
        if kind != "message":
            event.pop("message")  # only message events carry one
        events.append(event)

    assert post(client, body_of(*events)).status_code == 200
    for event in events:
        jobs.drain([event["source"]["userId"]])

    assert_all_handled(runtime)
    assert runtime.redis.scard(key("inbox")) == 0


def test_standby_events_are_stored_but_never_answered(client, runtime, fake_line):
    event = text_event(mode="standby")
    event.pop("replyToken")
    user_id = event["source"]["userId"]

    post(client, body_of(event))
    jobs.drain([user_id])

    assert fake_line.calls == []
    assert [row["kind"] for row in runtime.delivery.history.read(user_id)] == ["text"]


def test_redis_down_answers_503_so_line_redelivers(client, runtime, monkeypatch):
    def unreachable(*args, **kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(runtime.web_redis, "evalsha", unreachable)
    response = post(client, body_of(text_event()))
    assert response.status_code == 503


def test_events_stored_but_their_job_not_queued_still_answer_200(
    client, runtime, monkeypatch
):
    """Redis failed between the two calls: the events are safe, so LINE must
    not send them again; the sweeper queues the drain the webhook could not."""

    def unreachable(*args, **kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(runtime.web_queue, "enqueue_call", unreachable)
    event = text_event()
    response = post(client, body_of(event))
    monkeypatch.undo()

    assert response.status_code == 200
    assert runtime.queue.count == 0
    runtime.redis.delete(key("drain", "armed"))  # its few seconds are over
    runtime.inbox.sweep(lambda chats: None, runtime.queue_pending_drain)
    assert [job.func_name for job in runtime.queue.get_jobs()] == [
        "bot.jobs.drain_pending"
    ]


def test_webhooks_share_one_queued_drain_job(client, runtime, fake_line):
    """No worker has started the first webhook's job yet: the second joins
    it, and that one job answers both users by reply."""
    first = text_event(user_id="U" + "1" * 32, reply_token=fake_line.issue("t1"))
    second = text_event(user_id="U" + "2" * 32, reply_token=fake_line.issue("t2"))

    post(client, body_of(first))
    post(client, body_of(second))

    def drain_jobs():
        return [j for j in runtime.queue.get_jobs() if j.func_name.endswith("_pending")]

    [job] = drain_jobs()
    runtime.queue.remove(job)  # a worker takes it
    job.perform()
    assert sorted(c[1] for c in fake_line.calls if c[0] == "reply") == ["t1", "t2"]
    post(client, body_of(text_event(user_id="U" + "3" * 32)))
    assert len(drain_jobs()) == 1  # the job started: the next webhook queues


def test_healthz_reports_redis(client, runtime, monkeypatch):
    assert client.get("/healthz").status_code == 200

    def unreachable():
        raise RedisConnectionError("down")

    monkeypatch.setattr(runtime.web_redis, "ping", unreachable)
    assert client.get("/healthz").status_code == 503


def test_one_webhook_with_many_users_enqueues_one_job(client, runtime):
    events = [text_event(user_id=f"U{n:032d}") for n in range(10)]
    post(client, body_of(*events))
    assert runtime.queue.count == 1
    assert runtime.redis.scard(key("inbox")) == 10


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": "soon"},
        {"timestamp": [1]},
        {"timestamp": True},
        {"replyToken": 7},
        {"source": "U1"},
        {"deliveryContext": "yes"},
    ],
)
def test_signed_event_of_the_wrong_shape_is_400_not_500(client, runtime, change):
    event = text_event() | change

    response = post(client, body_of(event))

    assert response.status_code == 400
    assert runtime.queue.count == 0


def test_signed_event_with_an_infinite_timestamp_is_400(client, runtime):
    body = body_of(text_event(timestamp=1)).replace(
        b'"timestamp": 1', b'"timestamp": Infinity'
    )
    assert b"Infinity" in body

    assert post(client, body).status_code == 400
