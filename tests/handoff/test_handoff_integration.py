"""The hand-off in real processes: gunicorn, `rq worker`, redis-server, simulator.

A user asks for a person while an agent watches the event stream; the agent
claims and answers within the wait, so the answer goes by the user's free
reply token and the acknowledgement is never needed.
"""

import json
import threading
import time

import pytest
import requests

from handoff.agents import Agents
from tests.integration.desk import Desk

pytestmark = pytest.mark.integration

PASSWORD = "a-long-password-1"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    running = Desk(tmp_path_factory.mktemp("handoff-desk"))
    try:
        running.start_redis()
        running.start_simulator()
        running.start_web()
        running.start_workers(1)
        yield running
    finally:
        running.kill_workers()
        running.stop()


def _token(desk, username, role="agent"):
    Agents(desk.redis()).create(username, PASSWORD, role, username.title())
    response = requests.post(
        f"{desk.web}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _listen(desk, headers, kinds, stop):
    """Collect SSE event names from the web process until `stop` is set."""
    with requests.get(
        f"{desk.web}/api/v1/events", headers=headers, stream=True, timeout=30
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                kinds.append(json.loads(line[6:])["kind"])
            if stop.is_set():
                return


def _wait_for(check, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("gave up waiting")


def test_agent_answers_for_free_within_the_wait_and_the_bot_stays_silent(desk):
    aiko = _token(desk, "aiko")
    kinds, stop = [], threading.Event()
    listener = threading.Thread(target=_listen, args=(desk, aiko, kinds, stop))
    listener.start()
    api = f"{desk.web}/api/v1"
    user = desk.new_user(follow=True)
    desk.received(user, 1)

    desk.api("post", f"/users/{user}/postback", json={"data": "action=handoff"})
    conversation = _wait_for(
        lambda: requests.get(
            f"{api}/conversations?status=queued", headers=aiko, timeout=10
        ).json()["conversations"]
    )[0]
    claimed = requests.post(
        f"{api}/conversations/{conversation['id']}/claim", headers=aiko, timeout=10
    )
    answer = requests.post(
        f"{api}/conversations/{conversation['id']}/messages",
        headers=aiko,
        json={"messages": [{"type": "text", "text": "Aiko here, how can I help?"}]},
        timeout=30,
    )

    assert conversation["free_until"] is not None
    assert claimed.status_code == 200
    assert answer.json()["delivery"] == "reply"
    received = desk.received(user, 2)
    assert [m["method"] for m in received] == ["reply", "reply"]
    assert received[-1]["messages"][0]["text"] == "Aiko here, how can I help?"

    # While assigned, the user's message gets no automatic answer.
    desk.say(user, "thanks, my order is late")
    redis = desk.redis()
    _wait_for(
        lambda: (
            any(
                fields.get("text") == "thanks, my order is late"
                for _, fields in redis.xrange(f"tsunagi:history:{user}")
            )
            and not redis.zcard(f"tsunagi:inbox:{user}")
        )
    )
    _wait_for(lambda: not redis.zcard("tsunagi:handoff:acks"), timeout=40)
    assert len(desk.received(user, 1, wait=0)) == 2

    closed = requests.post(
        f"{api}/conversations/{conversation['id']}/close", headers=aiko, timeout=10
    )
    assert closed.json()["status"] == "closed"
    desk.say(user, "one more question")
    assert len(desk.received(user, 3)) == 3  # the bot answers again
    stop.set()
    desk.say(user, "wake the stream so that it ends")
    listener.join(timeout=30)
    assert {"conversation.queued", "conversation.assigned"} <= set(kinds)
    assert desk.stats()["pushes"] == 0
