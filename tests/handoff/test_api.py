"""The hand-off API: lists, claims, answers at the lowest cost, notes, tags."""

from bot import ledger
from tests.handoff.conftest import USER

TEXT = {"type": "text", "text": "Let me check that for you."}


def _queued(desk, user_id=USER):
    desk.postback(user_id=user_id)
    return desk.conversation(user_id)["id"]


def _assigned(desk, who="aiko"):
    conversation_id = _queued(desk)
    response = desk.api("post", f"/conversations/{conversation_id}/claim", who)
    assert response.status_code == 200
    return conversation_id


def test_conversations_need_a_login(desk):
    assert desk.client.get("/api/v1/conversations").status_code == 401
    assert desk.client.post("/api/v1/conversations/x/claim").status_code == 401


def test_list_shows_the_queue_with_its_window_and_waiting_time(desk):
    conversation_id = _queued(desk)
    desk.say("still there?")

    listed = desk.api("get", "/conversations?status=queued", "aiko").json

    [item] = listed["conversations"]
    assert item["id"] == conversation_id
    assert item["status"] == "queued"
    assert item["user_id"] == USER
    assert item["waiting_since"] == desk.clock() or item["waiting_since"] > 0
    assert item["free_until"] > desk.clock()
    assert item["unread"] == 2
    assert item["last_message"]["text"] == "still there?"
    assert "display_name" in item


def test_list_refuses_an_unknown_status(desk):
    response = desk.api("get", "/conversations?status=lost", "aiko")

    assert response.status_code == 422
    assert response.json["field"] == "status"


def test_assignee_me_lists_only_my_conversations(desk):
    conversation_id = _assigned(desk, "aiko")

    mine = desk.api("get", "/conversations?assignee=me", "aiko").json
    others = desk.api("get", "/conversations?assignee=me", "ben").json

    assert [c["id"] for c in mine["conversations"]] == [conversation_id]
    assert others["conversations"] == []


def test_second_claim_gets_409_naming_the_holder(desk):
    conversation_id = _queued(desk)

    first = desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    second = desk.api("post", f"/conversations/{conversation_id}/claim", "ben")

    assert first.status_code == 200
    assert first.json["assignee"] == "aiko"
    assert second.status_code == 409
    assert second.json["error"] == "already_claimed"


def test_unknown_conversation_is_404(desk):
    response = desk.api("post", "/conversations/nope/claim", "aiko")

    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_answer_with_a_live_token_is_one_free_bundled_reply(desk):
    conversation_id = _assigned(desk)
    desk.say("my order is late")
    calls = len(desk.line.calls)
    messages = [
        TEXT,
        {"type": "text", "text": "Found it."},
        {"type": "text", "text": "Sorry!"},
    ]

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": messages},
    )

    assert response.status_code == 200
    assert response.json["delivery"] == "reply"
    assert response.json["billable"] == 0
    assert desk.line.calls[calls:] == [("reply", desk.line.calls[calls][1], messages)]


def test_ask_with_no_live_token_returns_the_cost_and_sends_nothing(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    calls = len(desk.line.calls)

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [TEXT, TEXT], "if_expired": "ask"},
    )

    assert response.status_code == 200
    assert response.json["delivery"] == "needs_confirmation"
    assert response.json["billable"] == 1
    assert len(desk.line.calls) == calls
    assert desk.runtime.delivery.held(USER) == []


def test_ask_is_the_default_from_settings(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [TEXT]},
    )

    assert response.json["delivery"] == "needs_confirmation"


def test_confirmed_push_is_one_billed_call_recorded_as_the_agents_choice(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [TEXT, TEXT, TEXT], "if_expired": "push"},
    )

    assert response.json == {
        "delivery": "push",
        "billable": 1,
        "send_id": response.json["send_id"],
    }
    [push] = desk.line.pushes()
    assert push[1] == USER and len(push[2]) == 3
    [entry] = [
        e for e in desk.runtime.delivery.ledger.entries() if e["method"] == ledger.PUSH
    ]
    assert entry["reason"] == ledger.OPERATOR_CHOICE
    assert entry["actor"] == "aiko"


def test_held_answers_go_out_in_order_through_the_next_events_token(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    for text in ("first", "second"):
        response = desk.api(
            "post",
            f"/conversations/{conversation_id}/messages",
            "aiko",
            json={"messages": [{"type": "text", "text": text}], "if_expired": "hold"},
        )
        assert response.json == {
            "delivery": "held",
            "billable": 0,
            "send_id": response.json["send_id"],
        }
    assert desk.line.pushes() == []

    desk.say("hello again")

    kind, _token, messages = desk.line.calls[-1]
    assert kind == "reply"
    assert [m["text"] for m in messages] == ["first", "second"]
    assert desk.runtime.delivery.held(USER) == []


def test_only_the_assignee_or_an_admin_may_answer(desk):
    conversation_id = _assigned(desk, "aiko")
    desk.say("hi")
    body = {"messages": [TEXT], "if_expired": "hold"}

    refused = desk.api(
        "post", f"/conversations/{conversation_id}/messages", "ben", json=body
    )
    allowed = desk.api(
        "post", f"/conversations/{conversation_id}/messages", "boss", json=body
    )

    assert refused.status_code == 403
    assert allowed.status_code == 200


def test_an_agent_must_claim_before_answering(desk):
    conversation_id = _queued(desk)

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [TEXT]},
    )

    assert response.status_code == 403


def test_invalid_messages_are_422_naming_the_field(desk):
    conversation_id = _assigned(desk)

    empty = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": []},
    )
    bad = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [{"type": "text"}]},
    )
    choice = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [TEXT], "if_expired": "maybe"},
    )

    assert empty.status_code == 422 and empty.json["field"].startswith("messages")
    assert bad.status_code == 422 and bad.json["field"].startswith("messages[0]")
    assert choice.status_code == 422 and choice.json["field"] == "if_expired"
    assert desk.line.pushes() == []


def test_a_retried_answer_with_the_same_idempotency_key_is_sent_once(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    body = {"messages": [TEXT], "if_expired": "push"}
    headers = {"Idempotency-Key": "answer-1", **desk.headers["aiko"]}
    path = f"/api/v1/conversations/{conversation_id}/messages"

    first = desk.client.post(path, json=body, headers=headers)
    again = desk.client.post(path, json=body, headers=headers)

    assert first.json == again.json
    assert len(desk.line.pushes()) == 1


def test_answer_to_a_closed_conversation_is_409(desk):
    conversation_id = _assigned(desk)
    desk.api("post", f"/conversations/{conversation_id}/close", "aiko")

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "boss",
        json={"messages": [TEXT]},
    )

    assert response.status_code == 409


def test_conversation_shows_messages_with_delivery_and_billable(desk):
    desk.say("hello")
    conversation_id = _assigned(desk)
    desk.say("where is my parcel?")
    desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [TEXT]},
    )
    desk.api(
        "post", f"/conversations/{conversation_id}/notes", "aiko", json={"text": "VIP"}
    )

    shown = desk.api("get", f"/conversations/{conversation_id}", "aiko").json

    directions = [(m["direction"], m["type"]) for m in shown["messages"]]
    assert directions[0] == ("in", "text")  # the first "hello" opened it
    last = shown["messages"][-1]
    assert (last["direction"], last["text"], last["delivery"], last["billable"]) == (
        "out",
        TEXT["text"],
        "reply",
        0,
    )
    assert last["actor"] == "aiko"
    assert [n["text"] for n in shown["notes"]] == ["VIP"]
    assert shown["unread"] == 0


def test_a_closed_conversation_keeps_only_its_own_messages(desk):
    conversation_id = _assigned(desk)
    desk.api("post", f"/conversations/{conversation_id}/close", "aiko")
    desk.say("a new question")

    shown = desk.api("get", f"/conversations/{conversation_id}", "aiko").json

    assert "a new question" not in [m["text"] for m in shown["messages"]]


def test_transfer_to_an_agent_and_back_to_the_queue(desk):
    conversation_id = _assigned(desk, "aiko")

    to_ben = desk.api(
        "post", f"/conversations/{conversation_id}/transfer", "aiko", json={"to": "ben"}
    )
    to_queue = desk.api(
        "post",
        f"/conversations/{conversation_id}/transfer",
        "ben",
        json={"to": "queue"},
    )

    assert to_ben.json["assignee"] == "ben"
    assert to_queue.json["status"] == "queued"


def test_transfer_to_an_unknown_agent_is_422(desk):
    conversation_id = _assigned(desk)

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/transfer",
        "aiko",
        json={"to": "ghost"},
    )

    assert response.status_code == 422
    assert response.json["field"] == "to"


def test_close_by_another_agent_is_403(desk):
    conversation_id = _assigned(desk, "aiko")

    assert (
        desk.api("post", f"/conversations/{conversation_id}/close", "ben").status_code
        == 403
    )
    assert (
        desk.api("post", f"/conversations/{conversation_id}/close", "boss").status_code
        == 200
    )


def test_notes_need_text(desk):
    conversation_id = _queued(desk)

    response = desk.api(
        "post", f"/conversations/{conversation_id}/notes", "aiko", json={"text": " "}
    )

    assert response.status_code == 422
    assert response.json["field"] == "text"


def test_tags_follow_the_user_into_the_next_conversation(desk):
    conversation_id = _assigned(desk)
    added = desk.api(
        "post",
        f"/conversations/{conversation_id}/tags",
        "aiko",
        json={"add": ["vip", "refund"], "remove": []},
    )
    desk.api("post", f"/conversations/{conversation_id}/close", "aiko")
    desk.say("back again")

    listed = desk.api("get", "/conversations?status=bot", "aiko").json

    assert added.json == {"tags": ["refund", "vip"]}
    assert listed["conversations"][0]["tags"] == ["refund", "vip"]


def test_bad_tags_are_422(desk):
    conversation_id = _queued(desk)

    response = desk.api(
        "post", f"/conversations/{conversation_id}/tags", "aiko", json={"add": "vip"}
    )

    assert response.status_code == 422
    assert response.json["field"] == "add"


def test_hand_off_settings_are_in_the_settings_document(desk):
    settings = desk.api("get", "/settings", "boss").json

    assert settings["handoff_if_expired"] == "ask"
    assert settings["business_hours"]["enabled"] is False


def test_business_hours_with_a_bad_range_are_refused(desk):
    response = desk.api(
        "put",
        "/settings",
        "boss",
        json={
            "business_hours": {
                "enabled": True,
                "timezone": "Asia/Tokyo",
                "weekly": {"mon": [["9am", "6pm"]]},
            }
        },
    )

    assert response.status_code == 422
    assert response.json["field"] == "business_hours"


def test_a_bad_tag_is_named_by_its_place(desk):
    conversation_id = _queued(desk)

    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/tags",
        "aiko",
        json={"add": ["ok"], "remove": ["fine", " "]},
    )

    assert response.status_code == 422
    assert response.json["field"] == "remove[1]"


def test_tag_changes_and_notes_are_audited(desk, runtime):
    from api.audit import entries

    conversation_id = _queued(desk)
    desk.api(
        "post", f"/conversations/{conversation_id}/tags", "aiko", json={"add": ["vip"]}
    )
    desk.api(
        "post",
        f"/conversations/{conversation_id}/notes",
        "ben",
        json={"text": "private words"},
    )

    tagged, _ = entries(runtime.redis, action="user.tags")
    noted, _ = entries(runtime.redis, action="conversation.note")

    assert (tagged[0]["actor"], tagged[0]["target"]) == ("aiko", USER)
    assert (tagged[0]["before"], tagged[0]["after"]) == ([], ["vip"])
    assert (noted[0]["actor"], noted[0]["target"]) == ("ben", conversation_id)
    assert "private words" not in str(noted[0])


def test_a_chats_past_conversations_are_listed_newest_first(desk):
    first = _assigned(desk)
    desk.api("post", f"/conversations/{first}/close", "aiko")
    desk.clock.advance(60)
    desk.say("back again")
    second = desk.conversation()["id"]

    listed = desk.api("get", f"/conversations?chat_id={USER}", "ben").json
    closed = desk.api("get", f"/conversations?chat_id={USER}&status=closed", "ben").json

    assert [c["id"] for c in listed["conversations"]] == [second, first]
    assert [c["id"] for c in closed["conversations"]] == [first]


def test_messages_after_a_given_one_are_fetched_for_polling(desk):
    conversation_id = _queued(desk)
    first = desk.api("get", f"/conversations/{conversation_id}", "aiko").json
    last_id = first["messages"][-1]["id"]
    desk.say("new words")

    newer = desk.api("get", f"/conversations/{conversation_id}?after={last_id}", "aiko")
    bad = desk.api("get", f"/conversations/{conversation_id}?after=yesterday", "aiko")

    assert [m["text"] for m in newer.json["messages"]] == ["new words"]
    assert bad.status_code == 422
    assert bad.json["field"] == "after"


def _answer(desk, conversation_id, texts, if_expired, who="aiko"):
    return desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        who,
        json={
            "messages": [{"type": "text", "text": t} for t in texts],
            "if_expired": if_expired,
        },
    ).json


def _outbound(desk, conversation_id):
    shown = desk.api("get", f"/conversations/{conversation_id}", "aiko").json
    return [
        (m["text"], m["delivery"]) for m in shown["messages"] if m["direction"] == "out"
    ]


def test_ask_quotes_the_held_answers_a_push_would_carry(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id, ["h1", "h2", "h3", "h4"], "hold")

    quote = _answer(desk, conversation_id, ["n1", "n2"], "ask")
    pushed = _answer(desk, conversation_id, ["n1", "n2"], "push")

    assert quote["delivery"] == "needs_confirmation"
    assert (quote["billable"], quote["objects"], quote["held_objects"]) == (2, 6, 4)
    assert pushed["billable"] == quote["billable"]
    assert [[m["text"] for m in call[2]] for call in desk.line.pushes()] == [
        ["h1", "h2", "h3", "h4", "n1"],
        ["n2"],
    ]


def test_a_held_answer_shows_once_with_the_reply_that_delivered_it(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id, ["first"], "hold")
    assert _outbound(desk, conversation_id)[-1] == ("first", "held")

    desk.say("hello again")

    shown = _outbound(desk, conversation_id)
    assert [m for m in shown if m[0] == "first"] == [("first", "reply")]


def test_a_held_answer_pushed_with_a_newer_one_shows_once_before_it(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    _answer(desk, conversation_id, ["old"], "hold")
    _answer(desk, conversation_id, ["still held"], "hold", who="boss")
    assert [t for t, _ in _outbound(desk, conversation_id)][-2:] == [
        "old",
        "still held",
    ]

    _answer(desk, conversation_id, ["new"], "push")

    assert _outbound(desk, conversation_id)[-3:] == [
        ("old", "push"),
        ("still held", "push"),
        ("new", "push"),
    ]
    texts = [t for t, _ in _outbound(desk, conversation_id)]
    assert [texts.count(t) for t in ("old", "still held", "new")] == [1, 1, 1]


def test_an_answer_still_held_after_part_of_its_send_went_shows_as_held(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    delivery = desk.runtime.delivery
    desk.say("hi")  # a live token for five objects of the seven
    delivery.send(
        USER,
        [{"type": "text", "text": f"part {n}"} for n in range(7)],
        policy="hold",
        origin="agent",
        actor="aiko",
    )

    shown = _outbound(desk, conversation_id)

    assert [m for m in shown if m[0].startswith("part")] == [
        *((f"part {n}", "reply") for n in range(5)),
        ("part 5", "held"),
        ("part 6", "held"),
    ]


def test_a_conversation_counts_the_held_objects_a_push_would_carry(desk):
    conversation_id = _assigned(desk)
    desk.clock.advance(120)
    path = f"/conversations/{conversation_id}"
    before = desk.api("get", path, "aiko").json["held_objects"]
    _answer(desk, conversation_id, ["h1", "h2", "h3"], "hold")
    _answer(desk, conversation_id, ["h4"], "hold", who="boss")

    held = desk.api("get", path, "aiko").json["held_objects"]
    quote = _answer(desk, conversation_id, ["n1"], "ask")
    desk.say("hello again")  # its reply token takes the held answers
    after = desk.api("get", path, "aiko").json["held_objects"]

    assert (before, held, after) == (0, 4, 0)
    assert held == quote["held_objects"]
    described = desk.client.get("/api/v1/openapi.json").json["paths"][
        "/conversations/{conversation_id}"
    ]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert described["properties"]["held_objects"]["type"] == "integer"
