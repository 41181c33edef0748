"""The bot and people take turns: hand-off, silence while people answer, close."""

from bot.answers import Answer
from handoff import routing, tap
from handoff.conversations import Conversations
from tests.handoff.conftest import USER
from tests.helpers import text_event


def test_first_message_opens_a_bot_conversation_and_the_bot_answers(desk):
    desk.say("hello")

    conversation = desk.conversation()
    assert conversation["status"] == "bot"
    assert conversation["user_id"] == USER
    assert [c[0] for c in desk.line.calls] == ["reply"]


def test_talk_to_a_person_postback_queues_and_acknowledges_by_reply(desk):
    desk.say("hello")
    desk.postback("action=handoff")

    conversation = desk.conversation()
    assert conversation["status"] == "queued"
    assert conversation["handoff_reason"] in ("rule", "postback")
    assert conversation["waiting_since"] == desk.clock()
    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert "担当者" in messages[0]["text"]


def test_handoff_postback_asks_for_a_person_even_without_a_rule():
    event = {"type": "postback", "postback": {"data": "action=handoff&from=menu"}}

    assert routing.wants_person(event, None) == "postback"
    assert (
        routing.wants_person({"type": "postback", "postback": {"data": "x=1"}}, None)
        is None
    )


def test_rule_with_handoff_acknowledges_in_the_rule_own_words(desk, runtime):
    event = text_event(USER, "refund please")
    answer = Answer([{"type": "text", "text": "A person will take over."}], "r1", True)

    routed = routing.route(runtime, USER, event, answer)

    assert routed.messages == tap.with_button(
        [{"type": "text", "text": "A person will take over."}]
    )
    assert routed.handoff is True
    assert desk.conversation()["status"] == "queued"


def test_bot_stays_silent_while_queued_and_keeps_the_token(desk, runtime):
    desk.postback()
    calls = len(desk.line.calls)

    desk.say("are you there?")

    assert len(desk.line.calls) == calls
    assert len(runtime.delivery.tokens.live(USER)) == 1
    conversation = desk.conversation()
    assert conversation["unread"] == 2
    assert conversation["last_message"]["text"] == "are you there?"


def test_a_message_handled_again_after_a_crash_is_counted_unread_once(desk, runtime):
    desk.postback()
    event = desk.say("are you there?")
    assert desk.conversation()["unread"] == 2

    # Its worker died after handling it: the sweeper hands it over once more.
    routing.route(runtime, USER, event, None)
    routing.route(runtime, USER, event, None)

    assert desk.conversation()["unread"] == 2
    desk.say("hello?")
    assert desk.conversation()["unread"] == 3


def test_fallbacks_while_people_have_the_chat_start_no_run(desk, runtime):
    from api.settings import update_settings

    update_settings(runtime.redis, {"fallbacks_before_offer": 2})
    desk.say("ぽぽぽ")  # the bot's fallback: a run of one
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    desk.say("ぱぱぱ")  # the agent's chat: the bot is silent
    desk.say("ぴぴぴ")
    desk.api("post", f"/conversations/{conversation_id}/close", "aiko")

    desk.say("ぷぷぷ")  # the bot again: the first of a new run

    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    items = (messages[-1].get("quickReply") or {}).get("items", [])
    assert all(i["action"].get("data") != "action=handoff" for i in items)


def test_fallbacks_in_a_row_queue_the_user_with_the_acknowledgement(desk, runtime):
    from api.settings import update_settings

    update_settings(runtime.redis, {"handoff_ack_text": "A person will answer."})
    desk.say("ぽぽぽ")
    desk.say("ぱぱぱ")
    assert desk.conversation()["status"] == "bot"

    desk.say("ぴぴぴ")

    conversation = desk.conversation()
    assert (conversation["status"], conversation["handoff_reason"]) == (
        "queued",
        "fallbacks",
    )
    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert messages[0]["text"] == "A person will answer."


def test_a_new_conversation_starts_a_new_run_of_fallbacks(desk, runtime):
    """Handed off after three fallbacks and closed before the user wrote again:
    the next fallback apologises instead of handing off at once."""
    for text in ("ぽぽぽ", "ぱぱぱ", "ぴぴぴ"):
        desk.say(text)
    handed_off = desk.conversation()
    assert handed_off["status"] == "queued"
    Conversations(runtime.redis).close(handed_off["id"], "admin", admin=True)

    desk.say("ぷぷぷ")

    conversation = desk.conversation()
    assert conversation["id"] != handed_off["id"]
    assert conversation["status"] == "bot"
    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert "action=handoff" not in str(messages)


def test_bot_stays_silent_while_assigned(desk):
    desk.postback()
    desk.api("post", f"/conversations/{desk.conversation()['id']}/claim", "aiko")
    calls = len(desk.line.calls)

    desk.say("hi person")
    desk.postback()

    assert len(desk.line.calls) == calls


def test_after_close_the_next_message_opens_a_new_bot_conversation(desk):
    desk.postback()
    first = desk.conversation()["id"]
    desk.api("post", f"/conversations/{first}/claim", "aiko")
    desk.api("post", f"/conversations/{first}/close", "aiko")
    calls = len(desk.line.calls)

    desk.say("one more question")

    second = desk.conversation()
    assert second["id"] != first
    assert second["status"] == "bot"
    assert len(desk.line.calls) == calls + 1
    old = Conversations(desk.runtime.redis).get(first)
    assert old["status"] == "closed"
    assert old["closed_by"] == "aiko"


def test_unfollow_closes_the_open_conversation(desk):
    desk.postback()
    event = text_event(USER)
    event.pop("message")
    event.pop("replyToken")
    event["type"] = "unfollow"

    desk.deliver(event)

    assert desk.conversation() is None
    closed = Conversations(desk.runtime.redis).of_chat(USER)[0]
    assert closed["close_reason"] == "unfollow"


def test_rule_tags_are_added_to_the_user(desk, runtime):
    answer = Answer([{"type": "text", "text": "ok"}], "r2", False, ["vip"])

    routing.route(runtime, USER, text_event(USER, "hi"), answer)

    assert Conversations(runtime.redis).tags(USER) == ["vip"]


def test_handoff_outside_business_hours_says_when_people_are_back(desk, runtime):
    from api.settings import update_settings

    # 1_800_000_000 is Friday 2027-01-15 17:00 in Tokyo (08:00 UTC).
    update_settings(
        runtime.redis,
        {
            "business_hours": {
                "enabled": True,
                "timezone": "Asia/Tokyo",
                "weekly": {"mon": [["09:00", "18:00"]]},
                "holidays": [],
            }
        },
    )
    desk.clock.advance(2 * 3600)

    desk.postback()

    text = desk.line.calls[-1][2][0]["text"]
    assert "営業時間外" in text
    assert "01/18 09:00" in text
    assert desk.conversation()["status"] == "queued"


# -- waiting a little for a quick agent ------------------------------------------------


def _agent_online(desk):
    desk.api("get", "/conversations", "aiko")
    desk.line.loading = []
    desk.line.show_loading_animation = lambda chat_id, seconds: (
        desk.line.loading.append((chat_id, seconds))
    )


def test_with_agents_online_the_acknowledgement_waits_with_a_loading_animation(desk):
    _agent_online(desk)
    calls = len(desk.line.calls)

    desk.postback()

    assert len(desk.line.calls) == calls
    assert desk.line.loading == [(USER, 20)]
    assert desk.conversation()["status"] == "queued"


def test_an_agent_answering_within_the_wait_uses_the_free_token_and_drops_the_ack(
    desk,
):
    _agent_online(desk)
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    calls = len(desk.line.calls)

    answer = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [{"type": "text", "text": "Hi, Aiko here."}]},
    )
    desk.clock.advance(25)

    assert answer.json["delivery"] == "reply"
    assert routing.send_due_acks(desk.runtime) == 0
    assert [c[0] for c in desk.line.calls[calls:]] == ["reply"]


def test_with_no_quick_agent_the_user_is_told_before_the_token_lapses(desk):
    _agent_online(desk)
    desk.postback()
    desk.clock.advance(19)
    assert routing.send_due_acks(desk.runtime) == 0

    desk.clock.advance(1)

    assert routing.send_due_acks(desk.runtime) == 1
    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert "担当者" in messages[0]["text"]
    assert routing.send_due_acks(desk.runtime) == 0


def test_a_long_tap_lead_leaves_the_token_to_the_deferred_acknowledgement(
    desk, runtime
):
    from api.settings import update_settings

    update_settings(runtime.redis, {"tap_lead_seconds": 45})
    _agent_online(desk)
    desk.postback()
    desk.clock.advance(16)  # the token has 44 s left: inside the tap's lead

    assert tap.offer_taps(runtime) == 0
    desk.clock.advance(4)
    assert routing.send_due_acks(runtime) == 1

    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert "担当者" in messages[0]["text"]
    assert messages[-1]["quickReply"]["items"][-1] == tap.TAP_BUTTON
    assert desk.line.pushes() == []


def test_with_answers_held_the_acknowledgement_goes_at_once_in_their_reply(
    desk, runtime
):
    _agent_online(desk)
    held = [{"type": "text", "text": "We open at ten."}]
    runtime.delivery.send(USER, held, policy="hold", origin="bot", send_id="old")

    desk.postback()

    assert routing.send_due_acks(runtime) == 0  # nothing was deferred
    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert messages[0] == held[0]
    assert "担当者" in messages[1]["text"]
    assert runtime.delivery.held(USER) == []


def test_no_wait_outside_business_hours(desk, runtime):
    from api.settings import update_settings

    _agent_online(desk)
    update_settings(
        runtime.redis,
        {"business_hours": {"enabled": True, "timezone": "UTC", "weekly": {}}},
    )

    desk.postback()

    assert desk.line.loading == []
    assert "営業時間外" in desk.line.calls[-1][2][0]["text"]


def test_a_handoff_event_handled_again_after_a_crash_is_still_acknowledged_once(
    desk, runtime
):
    from bot import events

    event = text_event(USER, "")
    event.pop("message")
    event["type"] = "postback"
    event["postback"] = {"data": "action=handoff"}
    event["replyToken"] = desk.line.issue("rt-crash")
    payload = {
        "event": event,
        "chat_id": USER,
        "event_id": event["webhookEventId"],
        "arrival": desk.clock(),
    }
    # The first attempt handed off, then its worker died before sending.
    routing.route(runtime, USER, event, None)
    assert desk.conversation()["status"] == "queued"

    events.handle(runtime, payload)
    events.handle(runtime, payload)

    replies = desk.line.replies()
    assert len(replies) == 1
    assert replies[0][1] == "rt-crash"


def test_events_without_a_chat_open_no_conversation(desk, runtime):
    routing.route(runtime, "_channel", {"type": "activated", "chatControl": {}}, None)

    assert Conversations(runtime.redis).ids("bot") == []


def test_an_acknowledgement_line_refuses_does_not_hold_up_the_others(desk):
    from bot import line_api

    other = "U" + "9" * 32
    _agent_online(desk)
    desk.postback()
    desk.clock.advance(1)
    desk.postback(user_id=other)
    desk.clock.advance(20)
    # LINE refuses the first acknowledgement outright (a rejected request).
    desk.line.failures = [line_api.classify(400, '{"message": "bad request"}')]

    assert routing.send_due_acks(desk.runtime) == 1

    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert "担当者" in messages[0]["text"]
    assert desk.runtime.redis.zcard(routing.DUE_ACKS) == 0
