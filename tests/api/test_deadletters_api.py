"""Dead letters through the API: list, retry, discard; admins only, with CSRF.

The event fails for real: LINE (FakeLine) refuses the bot's reply with a 400
once, so the delivery layer raises and the inbox makes it a dead letter (no
retry delays are set). The desk's clock is moved by hand past the event's
reply token before an admin retries it.
"""

import json

import pytest

from api.audit import entries
from api.settings import update_settings
from app import create_app
from bot import jobs
from bot.line_api import classify
from bot.runtime import Runtime
from store import key
from tests.api.conftest import ADMIN_PASSWORD, panel_login
from tests.conftest import Clock
from tests.helpers import text_event

USER = "U" + "d" * 32
SECRET_TEXT = "my card number is 4242"


@pytest.fixture
def desk_clock():
    return Clock(1_800_000_000.0)


@pytest.fixture
def app(config, server, fake_line, desk_clock):
    """The desk's app on a clock the test moves (the inbox, tokens, delivery)."""
    runtime = Runtime(config, server=server, clock=desk_clock)
    runtime.line = fake_line
    runtime.delivery.line = fake_line
    application = create_app(config, runtime=runtime, start_workers=False)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def dead(runtime, fake_line):
    """One event LINE refused to answer, now a dead letter; returns the event."""
    update_settings(runtime.redis, {"event_retry_delays": []})
    fake_line.failures.append(classify(400, '{"message": "A message is invalid"}'))
    event = text_event(USER, text=SECRET_TEXT, reply_token=fake_line.issue("tok-1"))
    runtime.inbox.store([event])
    jobs.drain([USER])
    assert runtime.inbox.pending(USER) == []
    return event


def test_admins_list_dead_letters_without_the_users_words(client, admin, dead):
    resp = client.get("/api/v1/deadletters", headers=admin)

    assert resp.status_code == 200
    assert resp.json["count"] == 1
    [item] = resp.json["deadletters"]
    assert item["event_id"] == dead["webhookEventId"]
    assert item["chat_id"] == USER
    assert (item["event_type"], item["message_type"]) == ("message", "text")
    assert item["attempts"] == 1
    assert item["error"] == "DeliveryError"
    assert item["first_failed"] == item["last_failed"] == 1_800_000_000.0
    assert "4242" not in resp.get_data(as_text=True)


def test_a_retry_after_the_token_lapsed_still_answers_the_user(
    client, admin, dead, runtime, fake_line, desk_clock
):
    answer = fake_line.calls[0][2]  # what the bot tried to say
    desk_clock.advance(120)  # the event's reply token lapsed long ago

    queued = len(runtime.queue.jobs)
    resp = client.post(
        f"/api/v1/deadletters/{dead['webhookEventId']}/retry", headers=admin
    )

    assert resp.status_code == 200
    assert resp.json["event_id"] == dead["webhookEventId"]
    assert runtime.inbox.pending(USER) == [dead["webhookEventId"]]
    assert client.get("/api/v1/deadletters", headers=admin).json["count"] == 0
    [job] = runtime.queue.jobs[queued:]  # the drain was started
    assert job.func_name == "bot.jobs.drain" and job.args == ([USER],)
    job.perform()
    assert runtime.inbox.pending(USER) == []
    # No token is left: the answer is held for the user's next message ...
    [held] = runtime.delivery.held(USER)
    assert held["messages"] == answer
    # ... which carries it to the user, free, with the answer to that message.
    runtime.inbox.store([text_event(USER, reply_token=fake_line.issue("tok-2"))])
    jobs.drain([USER])
    [sent] = [c[2] for c in fake_line.replies() if c[1] == "tok-2"]
    assert sent[: len(answer)] == answer
    assert len(sent) == len(answer) + 1
    assert fake_line.pushes() == []


def test_a_retry_is_pushed_when_the_desk_pushes_bot_answers(
    client, admin, dead, runtime, fake_line, desk_clock
):
    runtime.config.push_bot_answers = True
    desk_clock.advance(120)

    client.post(f"/api/v1/deadletters/{dead['webhookEventId']}/retry", headers=admin)
    jobs.drain([USER])

    [push] = fake_line.pushes()
    assert push[1] == USER and push[2] == fake_line.calls[0][2]


def test_a_retry_that_fails_again_is_a_dead_letter_again(
    client, admin, dead, fake_line, desk_clock
):
    fake_line.failures.append(classify(400, '{"message": "A message is invalid"}'))
    desk_clock.advance(30)
    client.post(f"/api/v1/deadletters/{dead['webhookEventId']}/retry", headers=admin)
    fake_line.issue("tok-3")
    jobs.drain([USER])

    [item] = client.get("/api/v1/deadletters", headers=admin).json["deadletters"]
    assert item["attempts"] == 2
    assert item["last_failed"] == 1_800_000_030.0


def test_discard_is_audited_and_forgets_the_event(client, admin, dead, runtime):
    event_id = dead["webhookEventId"]

    resp = client.delete(f"/api/v1/deadletters/{event_id}", headers=admin)

    assert resp.status_code == 204
    assert client.get("/api/v1/deadletters", headers=admin).json["count"] == 0
    assert runtime.inbox.pending(USER) == []
    [entry] = entries(runtime.redis, action="deadletter.discard")[0]
    assert (entry["actor"], entry["target"]) == ("boss", event_id)
    assert entry["before"]["error"] == "DeliveryError"
    assert SECRET_TEXT not in json.dumps(entry)
    assert runtime.redis.exists(key("deadletter", event_id)) == 0


def test_retry_is_audited(client, admin, dead, runtime):
    client.post(f"/api/v1/deadletters/{dead['webhookEventId']}/retry", headers=admin)

    [entry] = entries(runtime.redis, action="deadletter.retry")[0]
    assert entry["target"] == dead["webhookEventId"]


def test_an_unknown_dead_letter_is_a_404(client, admin, accounts):
    resp = client.post("/api/v1/deadletters/nope/retry", headers=admin)
    assert (resp.status_code, resp.json["error"]) == (404, "not_found")
    assert client.delete("/api/v1/deadletters/nope", headers=admin).status_code == 404


def test_agents_and_strangers_are_refused(client, agent, dead):
    event_id = dead["webhookEventId"]
    assert client.get("/api/v1/deadletters").status_code == 401
    assert client.get("/api/v1/deadletters", headers=agent).status_code == 403
    assert (
        client.post(f"/api/v1/deadletters/{event_id}/retry", headers=agent).status_code
        == 403
    )
    assert client.delete(f"/api/v1/deadletters/{event_id}").status_code == 401


def test_the_panel_session_needs_its_csrf_token(client, accounts, dead, runtime):
    csrf = panel_login(client, "boss", ADMIN_PASSWORD)
    event_id = dead["webhookEventId"]

    assert client.get("/api/v1/deadletters").status_code == 200
    assert client.delete(f"/api/v1/deadletters/{event_id}").status_code == 403
    assert client.post(f"/api/v1/deadletters/{event_id}/retry").status_code == 403
    assert runtime.inbox.deadletters.count() == 1

    resp = client.post(
        f"/api/v1/deadletters/{event_id}/retry", headers={"X-CSRF-Token": csrf}
    )
    assert resp.status_code == 200
