"""A desk where LINE fails on purpose, so that an event becomes a dead letter.

Nothing in the desk is mocked: the simulator answers every reply and push
with a 500 (its fault API) while a user's message is handled, the bot's
answer cannot leave (`PUSH_BOT_ANSWERS=1` makes the delivery layer raise
once its pushes are spent, instead of refusing the answer), and the inbox
retries it after `event_retry_delays` = [1] and then keeps it as a dead
letter. Shared by the integration and browser tests of dead letters.
"""

import time
from contextlib import contextmanager

import requests

from handoff.agents import Agents
from tests.integration.desk import Desk

ADMIN = ("failboss", "failboss-password-1")
WAIT = 60  # seconds: how long two failed attempts may take at most


@contextmanager
def failing_desk(logs):
    """A running desk whose bot pushes its answers once a token lapses (1 s)."""
    desk = Desk(logs, token_ttl=1.0)
    desk.extra_env = {"PUSH_BOT_ANSWERS": "1"}
    try:
        desk.start_redis()
        desk.start_simulator()
        desk.start_web()
        desk.start_workers(2)
        Agents(desk.redis()).create(*ADMIN, "admin", "Fail Boss", "en")
        yield desk
    finally:
        desk.kill_workers()
        desk.stop()


def admin_session(desk) -> requests.Session:
    session = requests.Session()
    resp = session.post(
        f"{desk.web}/api/v1/auth/token",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    session.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    return session


def deadletters(admin) -> list[dict]:
    resp = admin.get(f"{admin.desk.web}/api/v1/deadletters", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["deadletters"]


def make_dead_letter(desk, admin, user, text) -> dict:
    """The user says `text` while LINE fails; returns the dead letter it makes."""
    admin.desk = desk
    resp = admin.put(
        f"{desk.web}/api/v1/settings", json={"event_retry_delays": [1]}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    for path in ("/v2/bot/message/reply", "/v2/bot/message/push"):
        desk.fault(path=path, status=500, count=None)
    try:
        desk.say(user, text)
        deadline = time.time() + WAIT
        while True:
            found = [d for d in deadletters(admin) if d["chat_id"] == user]
            if found:
                return found[0]
            assert time.time() < deadline, "the event did not become a dead letter"
            time.sleep(0.2)
    finally:
        desk.api("delete", "/faults")
