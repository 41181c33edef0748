"""Free-only mode and the budget guard: pushes become holds, in one place."""

from bot import ledger
from tests.economics.conftest import USER

TEXT = {"type": "text", "text": "Let me check that for you."}


def _assigned(desk, who="aiko"):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    response = desk.api("post", f"/conversations/{conversation_id}/claim", who)
    assert response.status_code == 200
    return conversation_id


def _answer(desk, conversation_id, who="aiko", **body):
    body.setdefault("messages", [TEXT])
    return desk.api(
        "post", f"/conversations/{conversation_id}/messages", who, json=body
    )


def _settings(desk, **changes):
    response = desk.api("put", "/settings", "boss", json=changes)
    assert response.status_code == 200, response.json
    return response.json


def test_free_only_is_a_setting_only_admins_change(desk):
    refused = desk.api("put", "/settings", "aiko", json={"free_only": True})
    bad = desk.api("put", "/settings", "boss", json={"free_only": "yes"})

    assert refused.status_code == 403
    assert bad.status_code == 422 and bad.json["field"] == "free_only"
    assert _settings(desk, free_only=True)["free_only"] is True


def test_free_only_holds_an_answer_the_agent_asked_to_push(desk):
    conversation_id = _assigned(desk)
    _settings(desk, free_only=True)
    desk.clock.advance(120)

    response = _answer(desk, conversation_id, if_expired="push")

    assert response.status_code == 200
    assert response.json["delivery"] == "held"
    assert response.json["billable"] == 0
    assert desk.line.pushes() == []
    [held] = desk.runtime.delivery.held(USER)
    assert held["reason"] == "free_only"


def test_free_only_holds_instead_of_asking_to_confirm_a_push(desk):
    conversation_id = _assigned(desk)
    _settings(desk, free_only=True)
    desk.clock.advance(120)

    response = _answer(desk, conversation_id)

    assert response.json["delivery"] == "held"
    assert len(desk.runtime.delivery.held(USER)) == 1


def test_free_only_still_answers_through_a_live_token(desk):
    conversation_id = _assigned(desk)
    _settings(desk, free_only=True)
    desk.say("where is my parcel?")

    response = _answer(desk, conversation_id, if_expired="push")

    assert response.json["delivery"] == "reply"
    assert desk.line.pushes() == []


def test_free_only_holds_whatever_a_direct_caller_asks(desk):
    _settings(desk, free_only=True)

    result = desk.runtime.delivery.send(
        USER, [TEXT], policy="push", origin="system", approved=True
    )

    assert result.delivery == "held"
    assert desk.line.pushes() == []
    [entry] = desk.runtime.delivery.ledger.entries(method=ledger.HELD)
    assert entry["reason"] == "free_only"


def test_free_only_never_changes_a_refusal(desk):
    _settings(desk, free_only=True)

    result = desk.runtime.delivery.send(USER, [TEXT], policy="refuse")

    assert result.delivery == "refused"
    assert desk.runtime.delivery.held(USER) == []


def test_held_answer_goes_out_free_on_the_users_next_message(desk):
    conversation_id = _assigned(desk)
    _settings(desk, free_only=True)
    desk.clock.advance(120)
    _answer(desk, conversation_id, if_expired="push")

    desk.say("hello?")

    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply" and messages == [TEXT]
    assert desk.runtime.delivery.held(USER) == []
    assert desk.line.pushes() == []


def test_an_admin_cannot_approve_a_push_past_free_only(desk):
    conversation_id = _assigned(desk)
    _settings(desk, free_only=True)
    desk.clock.advance(120)
    _answer(desk, conversation_id, if_expired="push")

    response = desk.api("post", f"/conversations/{conversation_id}/held/push", "boss")

    assert response.status_code == 200
    assert response.json["delivery"] == "held"
    assert desk.line.pushes() == []
    assert len(desk.runtime.delivery.held(USER)) == 1


def test_turning_free_only_off_lets_pushes_through_again(desk):
    conversation_id = _assigned(desk)
    _settings(desk, free_only=True)
    _settings(desk, free_only=False)
    desk.clock.advance(120)

    response = _answer(desk, conversation_id, if_expired="push")

    assert response.json["delivery"] == "push"
    assert len(desk.line.pushes()) == 1
