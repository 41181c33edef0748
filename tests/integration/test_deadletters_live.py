"""Dead letters across real processes: LINE fails, an admin retries, the user
gets the answer.

An `rq worker` fails the event for real (the simulator refuses every reply
and push), retries it after the configured delay, and keeps it as a dead
letter; the user's next message is answered meanwhile; the admin's retry over
the API is handled by a worker and the user receives the first answer too.
"""

import pytest

from tests.integration.failing import (
    admin_session,
    deadletters,
    failing_desk,
    make_dead_letter,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    with failing_desk(tmp_path_factory.mktemp("failing-desk")) as running:
        yield running


def texts(entries):
    return [m.get("text") for entry in entries for m in entry["messages"]]


def test_a_dead_letter_retried_by_an_admin_reaches_the_user(desk):
    admin = admin_session(desk)
    user = desk.new_user("失敗 太郎", follow=True)
    desk.received(user, 1)  # the greeting

    dead = make_dead_letter(desk, admin, user, "送料はいくらですか")

    assert dead["attempts"] == 2 and dead["error"] == "DeliveryError"
    assert (dead["event_type"], dead["message_type"]) == ("message", "text")
    assert len(desk.received(user, 0, wait=0)) == 1  # nothing got through
    # LINE is back: the user's next message is answered at once, the first
    # one still waits for the admin.
    desk.say(user, "もしもし")
    [_, second] = desk.received(user, 2)

    resp = admin.post(
        f"{desk.web}/api/v1/deadletters/{dead['event_id']}/retry", timeout=10
    )

    assert resp.status_code == 200, resp.text
    [_, _, retried] = desk.received(user, 3, wait=30)
    assert retried["method"] == "push"
    # Both messages got the shipped fallback answer, the retried one last.
    for answer in (second, retried):
        assert texts([answer])[0].startswith("メッセージありがとうございます")
    assert [d for d in deadletters(admin) if d["chat_id"] == user] == []
    events = desk.redis().xrevrange("tsunagi:audit", count=20)
    assert any(
        fields["action"] == "deadletter.retry" and fields["target"] == dead["event_id"]
        for _, fields in events
    )
