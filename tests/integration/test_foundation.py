"""The Procfile's processes against the simulator: answers go by reply, always.

Real redis-server, gunicorn serving `app:app`, `rq worker -w bot.worker.Worker`
processes, and the simulator keeping LINE's rules, all over the network.
"""

import time

import pytest
import requests

from tests.helpers import body_of, sign, text_event

pytestmark = pytest.mark.integration


def methods(messages):
    return [m["method"] for m in messages]


def test_follow_and_text_are_answered_by_reply_never_push(desk):
    user = desk.new_user(follow=True)
    assert methods(desk.received(user, 1)) == ["reply"]

    desk.say(user, "こんにちは")
    received = desk.received(user, 2)

    assert methods(received) == ["reply", "reply"]
    stats = desk.stats()
    assert (stats["pushes"], stats["totalUsage"]) == (0, 0)


def test_one_users_events_are_handled_in_line_order_by_four_workers(desk):
    desk.start_workers(2)  # four in all
    user = desk.new_user(follow=True)
    desk.received(user, 1)
    now = int(time.time() * 1000)
    events = [text_event(user, text=f"m{n}", timestamp=now + n) for n in range(24)]
    # Several webhooks back to back, each body's events out of order.
    for n in range(0, 24, 3):
        chunk = events[n : n + 3]
        desk.api("post", "/webhook", json={"events": list(reversed(chunk))})

    connection = desk.redis()
    deadline = time.time() + 30
    while time.time() < deadline:
        inbound = [
            fields["text"]
            for _, fields in connection.xrange(f"tsunagi:history:{user}")
            if fields["direction"] == "in" and fields["kind"] == "text"
        ]
        if len(inbound) == 24 and not connection.zcard(f"tsunagi:inbox:{user}"):
            break
        time.sleep(0.2)

    assert inbound == [f"m{n}" for n in range(24)]


def test_worker_killed_mid_job_still_answers_exactly_once(desk):
    user = desk.new_user(follow=True)
    desk.received(user, 1)
    # The next reply takes 3 s inside LINE: kill every worker meanwhile.
    desk.fault(path="/v2/bot/message/reply", latency=3, count=1)

    desk.say(user, "注文の確認をお願いします")
    time.sleep(1.0)
    desk.kill_workers()
    desk.start_workers(1)
    registered = time.time()

    desk.received(user, 2, wait=20)
    recovered_in = time.time() - registered
    time.sleep(3)  # would a second answer follow?
    received = desk.received(user, 2, wait=0)

    assert methods(received) == ["reply", "reply"]
    # The dead drain's lock lapses in 6 s; the sweeper looks every second.
    assert recovered_in < 10
    assert desk.stats()["pushes"] == 0


def test_redis_down_gives_5xx_fast_and_the_redelivery_is_answered(desk):
    user = desk.new_user(follow=True)
    desk.received(user, 1)
    desk.stop_redis()

    body = body_of(text_event(user))
    started = time.time()
    response = requests.post(
        f"{desk.web}/callback",
        data=body,
        headers={"X-Line-Signature": sign(desk.secret, body)},
        timeout=10,
    )
    assert response.status_code >= 500
    assert time.time() - started < 2
    assert requests.get(f"{desk.web}/healthz", timeout=5).status_code == 503

    desk.say(user, "まだですか")  # refused now; the simulator redelivers
    time.sleep(1.5)
    desk.start_redis()

    received = desk.received(user, 2, wait=25)
    assert methods(received) == ["reply", "reply"]
    assert requests.get(f"{desk.web}/healthz", timeout=5).status_code == 200
    assert all(w.poll() is None for w in desk.workers), "a worker exited"


def test_line_5xx_and_rate_limits_are_retried_and_still_free(desk):
    user = desk.new_user(follow=True)
    desk.received(user, 1)
    desk.fault(path="/v2/bot/message/reply", status=500, count=2)
    desk.fault(path="/v2/bot/message/reply", status=429, count=1)

    desk.say(user, "hello")

    assert methods(desk.received(user, 2, wait=20)) == ["reply", "reply"]
    assert desk.stats()["pushes"] == 0


def test_push_lost_after_line_accepted_it_is_not_delivered_twice(desk):
    """LINE did the push but the answer was lost: the retry key makes it safe."""
    from bot.delivery import Delivery
    from bot.line_api import LineClient

    user = desk.new_user(follow=True)
    desk.received(user, 1)
    time.sleep(0.5)
    line = LineClient(desk.access_token, f"{desk.sim}/simulator/line", timeout=5)
    delivery = Delivery(desk.redis(), line, sleep=lambda s: None)
    desk.fault(path="/v2/bot/message/push", status=500, count=1, stage="after")
    pushes_before = desk.stats()["pushes"]

    result = delivery.send(
        user,
        [{"type": "text", "text": "お待たせしました"}],
        policy="push",
        origin="agent",
        actor="aiko",
    )

    received = desk.received(user, 2, wait=5)
    assert methods(received) == ["reply", "push"]
    assert result.billable == 1
    assert desk.stats()["pushes"] == pushes_before + 1
