"""Tap to receive: a lapsing token buys a button that brings a fresh one."""

from handoff import tap
from store import key
from tests.economics.conftest import USER

TEXT = {"type": "text", "text": "Your parcel left this morning."}


def _assigned(desk, who="aiko"):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    response = desk.api("post", f"/conversations/{conversation_id}/claim", who)
    assert response.status_code == 200
    return conversation_id


def _answer(desk, conversation_id, if_expired="hold", messages=None):
    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": messages or [TEXT], "if_expired": if_expired},
    )
    assert response.status_code == 200
    return response.json


def _has_button(message):
    items = (message.get("quickReply") or {}).get("items", [])
    return any(item["action"].get("data") == tap.TAP_DATA for item in items)


def _taps(desk):
    return [c for c in desk.line.replies() if c[2][-1].get("text") == tap.TAP_TEXT]


def test_the_handoff_acknowledgement_carries_the_button(desk):
    desk.postback()

    kind, _token, messages = desk.line.calls[-1]

    assert kind == "reply"
    assert _has_button(messages[-1])
    assert messages[-1]["quickReply"]["items"][-1] == tap.TAP_BUTTON


def test_the_buttons_label_fits_lines_twenty_characters():
    assert len(tap.TAP_BUTTON["action"]["label"]) <= 20


def test_a_waiting_users_lapsing_token_is_spent_on_the_button_once(desk):
    _assigned(desk)
    desk.say("still there?")
    ttl = desk.runtime.config.line_reply_token_ttl

    desk.clock.advance(ttl - 11)
    early = tap.upkeep(desk.runtime)
    desk.clock.advance(2)
    due = tap.upkeep(desk.runtime)
    again = tap.offer_taps(desk.runtime)

    assert (early["offered"], due["offered"], again) == (0, 1, 0)
    [(_kind, _token, messages)] = _taps(desk)
    assert _has_button(messages[-1])
    assert desk.line.pushes() == []


def test_outside_business_hours_only_a_taken_conversation_is_offered(desk):
    """At night a queued user's token is not spent on "a person is preparing
    your answer": nobody is, and they were told when people are back."""
    from api.settings import update_settings

    closed = {"enabled": True, "timezone": "UTC", "weekly": {}}
    update_settings(desk.runtime.redis, {"business_hours": closed})
    desk.postback()  # queued, told the desk is closed
    desk.say("anyone?")
    ttl = desk.runtime.config.line_reply_token_ttl
    desk.clock.advance(ttl - 5)

    assert tap.offer_taps(desk.runtime) == 0

    claim = f"/conversations/{desk.conversation()['id']}/claim"
    assert desk.api("post", claim, "aiko").status_code == 200
    assert tap.offer_taps(desk.runtime) == 1


def test_each_new_token_may_be_spent_once_on_its_own_lapse(desk):
    _assigned(desk)
    ttl = desk.runtime.config.line_reply_token_ttl
    for _ in range(2):
        desk.say("hello?")
        desk.clock.advance(ttl - 5)
        tap.offer_taps(desk.runtime)
        tap.offer_taps(desk.runtime)
        desk.clock.advance(10)

    assert len(_taps(desk)) == 2


def test_no_token_is_spent_when_no_answer_is_awaited(desk):
    conversation_id = _assigned(desk)
    desk.say("one")
    desk.say("two")
    _answer(desk, conversation_id)  # takes the older token; the newer stays
    assert desk.runtime.delivery.tokens.live(USER)

    desk.clock.advance(desk.runtime.config.line_reply_token_ttl - 5)
    done = tap.upkeep(desk.runtime)

    assert done["offered"] == 0
    assert _taps(desk) == []


def test_no_token_is_spent_in_a_conversation_the_bot_answers(desk):
    desk.say("hello")
    ttl = desk.runtime.config.line_reply_token_ttl
    desk.runtime.delivery.tokens.add(USER, desk.line.issue("rt-x"), desk.clock() + ttl)
    desk.clock.advance(desk.runtime.config.line_reply_token_ttl - 5)

    assert tap.upkeep(desk.runtime)["offered"] == 0


def test_the_tap_delivers_held_answers_first_through_its_fresh_token(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    assert _answer(desk, conversation_id)["delivery"] == "held"

    desk.postback(tap.TAP_DATA)

    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply" and messages == [TEXT]
    assert desk.runtime.delivery.held(USER) == []
    assert desk.line.pushes() == []


def test_a_tap_with_nothing_held_keeps_its_token_for_the_agent(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    calls = len(desk.line.calls)

    desk.postback(tap.TAP_DATA)
    answer = _answer(desk, conversation_id, if_expired="push")

    assert len(desk.line.calls) == calls + 1
    assert answer["delivery"] == "reply"


def test_lead_zero_switches_the_offer_off(desk):
    desk.api("put", "/settings", "boss", json={"tap_lead_seconds": 0})
    _assigned(desk)
    desk.say("still there?")
    desk.clock.advance(desk.runtime.config.line_reply_token_ttl - 5)

    assert tap.upkeep(desk.runtime)["offered"] == 0


def test_answers_held_too_long_go_out_as_one_bundled_push(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id)
    _answer(
        desk, conversation_id, messages=[{"type": "text", "text": "Anything else?"}]
    )

    desk.clock.advance(29 * 60)
    early = tap.upkeep(desk.runtime)
    desk.clock.advance(2 * 60)
    late = tap.upkeep(desk.runtime)

    assert (early["released"], late["released"]) == (0, 1)
    [push] = desk.line.pushes()
    assert [m["text"] for m in push[2]] == [TEXT["text"], "Anything else?"]
    assert desk.runtime.delivery.held(USER) == []
    [entry] = desk.runtime.delivery.ledger.entries(method="push")
    assert entry["reason"] == "held_expired" and entry["billable"] == 1


def test_the_bots_held_answers_are_not_pushed_unless_the_bot_may_push(desk):
    delivery = desk.runtime.delivery
    bot_answer = [{"type": "text", "text": "We open at ten."}]
    delivery.send(USER, bot_answer, policy="hold", origin="bot", send_id="auto:e1")
    desk.clock.advance(31 * 60)

    assert tap.upkeep(desk.runtime)["released"] == 0
    assert desk.line.pushes() == []
    assert [i["messages"] for i in delivery.held(USER)] == [bot_answer]


def test_beside_an_agents_answer_the_bots_rides_in_the_one_push(desk):
    # Within `bot_answer_hold_minutes`: an older bot answer is dropped.
    desk.api("put", "/settings", "boss", json={"bot_answer_hold_minutes": 60})
    delivery = desk.runtime.delivery
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    bot_answer = [{"type": "text", "text": "We open at ten."}]
    delivery.send(USER, bot_answer, policy="hold", origin="bot", send_id="auto:e1")
    _answer(desk, conversation_id)
    desk.clock.advance(31 * 60)

    assert tap.upkeep(desk.runtime)["released"] == 1
    [push] = desk.line.pushes()
    assert push[2] == bot_answer + [TEXT]
    assert delivery.held(USER) == []


def test_keep_holding_leaves_old_answers_for_the_users_next_message(desk):
    desk.api("put", "/settings", "boss", json={"held_after_wait": "keep"})
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id)
    desk.clock.advance(60 * 60)

    assert tap.upkeep(desk.runtime)["released"] == 0
    assert desk.line.pushes() == []
    assert len(desk.runtime.delivery.held(USER)) == 1


def test_free_only_keeps_old_answers_held(desk):
    desk.api("put", "/settings", "boss", json={"free_only": True})
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id, if_expired="push")
    desk.clock.advance(60 * 60)

    assert tap.upkeep(desk.runtime)["released"] == 0
    assert desk.line.pushes() == []
    assert len(desk.runtime.delivery.held(USER)) == 1


def test_a_tap_is_not_a_new_question_for_the_agent(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id)
    before = desk.conversation()

    desk.postback(tap.TAP_DATA)

    after = desk.conversation()
    assert after["first_unanswered_at"] is None
    assert after["unread"] == before["unread"] == 0
    assert desk.runtime.delivery.held(USER) == []


def test_upkeep_runs_once_a_second_whatever_the_number_of_sweepers(desk):
    _assigned(desk)
    desk.say("still there?")
    desk.clock.advance(desk.runtime.config.line_reply_token_ttl - 5)
    desk.runtime.redis.set(tap.UPKEEP_MARK, f"{desk.clock():.3f}")

    skipped = tap.upkeep(desk.runtime)
    desk.clock.advance(1)
    ran = tap.upkeep(desk.runtime)

    assert (skipped["offered"], ran["offered"]) == (0, 1)


def _unfollow(desk):
    from tests.helpers import text_event

    event = text_event(USER)
    event.pop("message")
    event.pop("replyToken")
    event["type"] = "unfollow"
    event["timestamp"] = int(desk.clock() * 1000)
    desk.deliver(event)


def test_a_user_who_blocks_us_is_never_pushed_what_was_held_for_them(desk):
    delivery = desk.runtime.delivery
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    held = _answer(desk, conversation_id)
    assert held["delivery"] == "held"

    _unfollow(desk)
    desk.clock.advance(31 * 60)
    released = tap.upkeep(desk.runtime)["released"]

    assert released == 0
    assert desk.line.pushes() == []
    assert delivery.held(USER) == []
    assert delivery.held_chats(desk.clock()) == []
    [entry] = delivery.ledger.entries(method="refused")
    assert (entry["reason"], entry["billable"]) == ("unfollowed", 0)
    assert entry["messages"] == [TEXT] and entry["actor"] == "aiko"
    rows = [
        fields
        for _id, fields in desk.runtime.redis.xrange(key("history", USER))
        if fields.get("send_id") == entry["send_id"]
    ]
    assert [row["delivery"] for row in rows] == ["held", "refused"]


def test_while_blocked_nothing_is_pushed_or_held_until_the_user_follows_again(desk):
    from tests.helpers import follow_event

    delivery = desk.runtime.delivery
    _unfollow(desk)
    desk.clock.advance(120)

    blocked = delivery.send(USER, [TEXT], policy="push", origin="agent", actor="aiko")
    held = delivery.send(USER, [TEXT], policy="hold", origin="agent", actor="aiko")

    assert (blocked.delivery, held.delivery) == ("refused", "refused")
    assert {p["reason"] for p in blocked.parts + held.parts} == {"unfollowed"}
    assert desk.line.pushes() == [] and delivery.held(USER) == []

    event = follow_event(USER, reply_token=desk.line.issue("rt-follow"))
    event["timestamp"] = int(desk.clock() * 1000)
    desk.deliver(event)
    desk.clock.advance(120)
    after = delivery.send(USER, [TEXT], policy="push", origin="agent", actor="aiko")

    assert after.delivery == "push"
    assert len(desk.line.pushes()) == 1


def _bot_answer_held(desk, text="We open at ten."):
    answer = [{"type": "text", "text": text}]
    desk.runtime.delivery.send(
        USER, answer, policy="hold", origin="bot", send_id="auto:e1"
    )
    return answer


def test_a_bot_answer_held_past_its_setting_is_dropped_not_sent_before_the_new_one(
    desk,
):
    delivery = desk.runtime.delivery
    old = _bot_answer_held(desk)
    desk.clock.advance(30 * 60)

    desk.say("are you open on sunday?")

    [reply] = desk.line.replies()
    assert old[0] not in reply[2]
    assert delivery.held(USER) == []
    [entry] = delivery.ledger.entries(method="refused")
    assert (entry["send_id"], entry["reason"]) == ("auto:e1", "held_expired")
    assert entry["messages"] == old


def test_a_recent_bot_answer_still_rides_with_the_next_reply(desk):
    delivery = desk.runtime.delivery
    old = _bot_answer_held(desk)
    desk.clock.advance(29 * 60)

    desk.say("are you open on sunday?")

    [reply] = desk.line.replies()
    assert reply[2][0] == old[0] and len(reply[2]) > 1
    assert delivery.held(USER) == []
    assert delivery.ledger.entries(method="refused") == []


def test_bot_answer_hold_zero_drops_a_held_bot_answer_at_once_but_never_an_agents(
    desk,
):
    desk.api("put", "/settings", "boss", json={"bot_answer_hold_minutes": 0})
    delivery = desk.runtime.delivery
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _bot_answer_held(desk)
    _answer(desk, conversation_id)
    desk.clock.advance(31 * 60)

    assert tap.upkeep(desk.runtime)["released"] == 1

    [push] = desk.line.pushes()
    assert push[2] == [TEXT]
    assert delivery.held(USER) == []
    [entry] = delivery.ledger.entries(method="refused")
    assert (entry["origin"], entry["reason"]) == ("bot", "held_expired")
