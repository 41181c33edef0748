"""The loading animation while an agent types: shown, renewed, rate-limited."""

import threading

import pytest
from werkzeug.serving import make_server

from bot.line_api import LineClient, LineError
from handoff import typing
from simulator.__main__ import create_app as simulator_app
from simulator.state import Settings
from tests.conftest import SECRET, TOKEN
from tests.economics.conftest import USER


def _assigned(desk, who="aiko"):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    response = desk.api("post", f"/conversations/{conversation_id}/claim", who)
    assert response.status_code == 200
    return conversation_id


def _typing(desk, conversation_id, who="aiko", **body):
    path = f"/conversations/{conversation_id}/typing"
    if body:
        return desk.api("post", path, who, json=body)
    return desk.api("post", path, who)


def test_typing_shows_the_loading_animation_to_the_user(desk):
    conversation_id = _assigned(desk)
    before = len(desk.line.loadings())

    response = _typing(desk, conversation_id, seconds=30)

    assert response.status_code == 200
    assert response.json == {"shown": True, "loading_until": desk.clock() + 30}
    assert desk.line.loadings()[before:] == [("loading", USER, 30)]


def test_typing_events_while_it_shows_make_no_more_calls(desk):
    conversation_id = _assigned(desk)
    _typing(desk, conversation_id, seconds=20)
    calls = len(desk.line.loadings())

    for _ in range(5):
        desk.clock.advance(2)
        response = _typing(desk, conversation_id, seconds=20)
        assert response.json["shown"] is False

    assert len(desk.line.loadings()) == calls


def test_typing_goes_on_and_the_animation_is_renewed_before_it_ends(desk):
    conversation_id = _assigned(desk)
    _typing(desk, conversation_id, seconds=20)
    calls = len(desk.line.loadings())

    desk.clock.advance(16)
    renewed = _typing(desk, conversation_id, seconds=20)

    assert renewed.json["shown"] is True
    assert len(desk.line.loadings()) == calls + 1


def test_calls_to_line_are_at_most_one_per_interval_per_user(desk):
    conversation_id = _assigned(desk)
    _typing(desk, conversation_id, seconds=5)
    calls = len(desk.line.loadings())

    desk.clock.advance(typing.MIN_INTERVAL - 1)
    soon = _typing(desk, conversation_id, seconds=5)
    desk.clock.advance(1)
    later = _typing(desk, conversation_id, seconds=5)

    assert (soon.json["shown"], later.json["shown"]) == (False, True)
    assert len(desk.line.loadings()) == calls + 1


def test_a_sent_answer_ends_the_animation_so_typing_renews_at_once(desk):
    conversation_id = _assigned(desk)
    desk.say("hi")
    _typing(desk, conversation_id, seconds=60)
    desk.clock.advance(typing.MIN_INTERVAL)
    desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [{"type": "text", "text": "Hello!"}]},
    )

    response = _typing(desk, conversation_id, seconds=60)

    assert response.json["shown"] is True


@pytest.mark.parametrize("seconds", [0, 3, 7, 65, "20", True])
def test_seconds_outside_lines_steps_are_refused(desk, seconds):
    conversation_id = _assigned(desk)
    calls = len(desk.line.loadings())

    response = _typing(desk, conversation_id, seconds=seconds)

    assert response.status_code == 422
    assert response.json["field"] == "seconds"
    assert len(desk.line.loadings()) == calls


def test_only_the_assignee_or_an_admin_may_type(desk):
    conversation_id = _assigned(desk, "aiko")

    assert _typing(desk, conversation_id, "ben").status_code == 403
    assert _typing(desk, conversation_id, "boss").status_code == 200
    assert (
        desk.client.post(f"/api/v1/conversations/{conversation_id}/typing").status_code
        == 401
    )


def test_typing_in_a_closed_or_unknown_conversation_is_refused(desk):
    conversation_id = _assigned(desk)
    desk.api("post", f"/conversations/{conversation_id}/close", "aiko")

    assert _typing(desk, conversation_id).status_code == 409
    assert _typing(desk, "nope").status_code == 404


def test_a_refusal_from_line_is_a_502_and_typing_may_try_again(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(typing.MIN_INTERVAL)
    desk.line.failures.append(LineError("server_error", 500, "down"))

    refused = _typing(desk, conversation_id)
    desk.clock.advance(typing.MIN_INTERVAL)
    retried = _typing(desk, conversation_id)

    assert refused.status_code == 502
    assert refused.json["error"] == "line_refused"
    assert retried.json["shown"] is True


def test_group_chats_have_no_animation(desk):
    with pytest.raises(ValueError):
        typing.show(desk.runtime, "C" + "1" * 32, 20)


@pytest.fixture
def simulator_line():
    """The simulator served over HTTP on a free port, and a LineClient to it."""
    settings = Settings(channel_secret=SECRET, access_token=TOKEN)
    app = simulator_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"http://127.0.0.1:{server.server_port}/simulator/line"
    try:
        yield app.extensions["simulator"], LineClient(TOKEN, host, timeout=5)
    finally:
        server.shutdown()
        thread.join(5)


def test_the_simulator_shows_the_animation_the_desk_asked_for(runtime, simulator_line):
    sim, line = simulator_line
    user = sim.create_user("Hana")
    runtime.line = line

    result = typing.show(runtime, user["userId"], 15)

    assert result["shown"] is True
    assert sim.loading_until(user["userId"]) is not None
