"""The bot answers from the rules: end to end through the webhook and the inbox."""

import fakeredis
import pytest

from api.settings import update_settings
from bot import answers, jobs
from bot.matcher import CHECK_INTERVAL, Rulebook
from bot.rules import Rules
from tests.conftest import SECRET, Clock
from tests.helpers import body_of, sign
from tests.rules.conftest import (
    follow_event,
    group_text_event,
    postback_event,
    rule,
    text_event,
)

USER = "U" + "1" * 32


def deliver(client, fake_line, event):
    """Post `event` as LINE would, run the worker, return the messages sent."""
    event["replyToken"] = fake_line.issue(event["replyToken"])
    body = body_of(event)
    response = client.post(
        "/callback", data=body, headers={"X-Line-Signature": sign(SECRET, body)}
    )
    assert response.status_code == 200
    sent = len(fake_line.calls)
    jobs.drain([answers_chat(event)])
    calls = fake_line.calls[sent:]
    return calls[0][2] if calls else None


def answers_chat(event):
    source = event["source"]
    return source.get("groupId") or source.get("roomId") or source["userId"]


def texts(messages):
    return [m.get("text") for m in messages]


def quick_reply_data(messages):
    items = (messages[-1].get("quickReply") or {}).get("items", [])
    return [item["action"].get("data") for item in items]


def test_follow_is_greeted_with_the_neutral_name_when_profile_unknown(
    client, fake_line
):
    messages = deliver(client, fake_line, follow_event())

    assert "お客様さん、友だち追加ありがとうございます" in messages[0]["text"]
    assert "{display_name}" not in messages[0]["text"]


def test_follow_greeting_uses_the_users_display_name(client, fake_line):
    fake_line.get_profile = lambda user_id: {"displayName": "山田<b>"}

    messages = deliver(client, fake_line, follow_event())

    assert messages[0]["text"].startswith("山田<b>さん")


def test_faq_rule_answers_in_japanese_and_english(client, fake_line):
    messages = deliver(client, fake_line, text_event(text="営業時間を教えてください"))

    assert "営業時間は" in messages[0]["text"]
    assert "We are open" in messages[0]["text"]


@pytest.mark.parametrize(
    "text",
    [
        "オペレーターお願いします",
        "担当者",
        "人と話したい",
        "HUMAN",
        "Talk to a person please",
    ],
)
def test_handoff_phrases_ask_for_a_person(runtime, text):
    answer = answers.decide(runtime, text_event(text=text), USER)

    assert answer.handoff is True
    assert answer.rule_id == "default-handoff"


def test_handoff_button_postback_asks_for_a_person(runtime):
    answer = answers.decide(runtime, postback_event("action=handoff"), USER)

    assert answer.handoff is True


def test_second_fallback_in_a_row_offers_a_person(client, fake_line):
    first = deliver(client, fake_line, text_event(text="ぽぽぽ"))
    second = deliver(client, fake_line, text_event(text="ぱぱぱ"))

    assert "action=handoff" not in quick_reply_data(first)
    assert "action=handoff" in quick_reply_data(second)
    labels = [i["action"]["label"] for i in second[-1]["quickReply"]["items"]]
    assert "担当者と話す / Talk to us" in labels


def test_a_matched_message_breaks_the_fallback_run(client, fake_line):
    deliver(client, fake_line, text_event(text="ぽぽぽ"))
    deliver(client, fake_line, text_event(text="営業時間"))
    third = deliver(client, fake_line, text_event(text="ぱぱぱ"))

    assert "action=handoff" not in quick_reply_data(third)


def test_an_event_handled_again_is_not_counted_twice(runtime):
    event = text_event(text="ぽぽぽ")

    answers.decide(runtime, event, USER)
    again = answers.decide(runtime, event, USER)

    assert "action=handoff" not in quick_reply_data(again.messages)
    second = answers.decide(runtime, text_event(text="ぱぱぱ"), USER)
    assert "action=handoff" in quick_reply_data(second.messages)


def test_a_failed_event_retried_after_later_ones_is_not_counted_again(runtime):
    """The first message failed and is retried after the user's second one:
    two messages not understood are a run of two, not three (no hand-off)."""
    first = text_event(text="ぽぽぽ")
    answers.decide(runtime, first, USER)
    answers.decide(runtime, text_event(text="ぱぱぱ"), USER)

    retried = answers.decide(runtime, first, USER)

    assert retried.handoff is False
    assert "action=handoff" in quick_reply_data(retried.messages)


def test_fallback_threshold_is_a_setting(runtime):
    update_settings(runtime.redis, {"fallbacks_before_offer": 1})

    answer = answers.decide(runtime, text_event(text="ぽぽぽ"), USER)

    assert "action=handoff" in quick_reply_data(answer.messages)


def test_zero_threshold_never_offers_a_person(runtime):
    update_settings(
        runtime.redis, {"fallbacks_before_offer": 0, "fallbacks_before_handoff": 0}
    )

    for _ in range(3):
        answer = answers.decide(runtime, text_event(text="ぽぽぽ"), USER)

    assert "action=handoff" not in quick_reply_data(answer.messages)


def test_third_fallback_in_a_row_hands_off_instead_of_apologising(runtime):
    for text in ("ぽぽぽ", "ぱぱぱ"):
        assert answers.decide(runtime, text_event(text=text), USER).handoff is False

    third = answers.decide(runtime, text_event(text="ぴぴぴ"), USER)

    assert (third.handoff, third.handoff_reason) == (True, "fallbacks")
    assert third.messages == []  # the hand-off's acknowledgement answers


def test_zero_fallbacks_before_handoff_never_gives_up(runtime):
    update_settings(runtime.redis, {"fallbacks_before_handoff": 0})

    for _ in range(5):
        answer = answers.decide(runtime, text_event(text="ぽぽぽ"), USER)

    assert answer.handoff is False
    assert "action=handoff" in quick_reply_data(answer.messages)


def test_offer_keeps_existing_quick_replies_and_is_not_repeated():
    messages = [
        {"type": "text", "text": "x", "quickReply": {"items": [answers.OFFER_PERSON]}}
    ]

    assert answers.offer_person(messages) == messages


def test_offer_on_a_full_quick_reply_replaces_the_last_item():
    item = {"type": "action", "action": {"type": "message", "label": "a", "text": "a"}}
    messages = [{"type": "text", "text": "x", "quickReply": {"items": [item] * 13}}]

    offered = answers.offer_person(messages)

    assert len(offered[0]["quickReply"]["items"]) == 13
    assert offered[0]["quickReply"]["items"][-1] == answers.OFFER_PERSON
    assert len(messages[0]["quickReply"]["items"]) == 13  # the rule is untouched


def test_group_chat_gets_no_fallback_but_matching_rules_answer(runtime):
    assert answers.decide(runtime, group_text_event("ぽぽぽ"), "C1") is None
    assert answers.decide(runtime, group_text_event("営業時間は？"), "C1").rule_id == (
        "default-faq-hours"
    )


def test_rule_tags_reach_the_answer(runtime):
    Rules(runtime.redis).create(
        rule(name="vip", patterns=["vip"], priority=1, tags=["vip"])
    )

    answer = answers.decide(runtime, text_event(text="VIPです"), USER)

    assert answer.tags == ["vip"]


def test_rule_created_in_this_process_answers_the_next_message(
    client, fake_line, runtime
):
    deliver(client, fake_line, text_event(text="送料は？"))  # builds the matcher
    Rules(runtime.redis).create(
        rule(
            name="送料",
            patterns=["送料"],
            priority=5,
            reply=[{"type": "text", "text": "送料は全国一律500円です。"}],
        )
    )

    messages = deliver(client, fake_line, text_event(text="送料は？"))

    assert texts(messages) == ["送料は全国一律500円です。"]


def test_change_made_by_another_process_is_seen_within_the_check_interval(server):
    clock = Clock(start=1000.0)
    worker = fakeredis.FakeRedis(server=server, decode_responses=True)
    web = fakeredis.FakeRedis(server=server, decode_responses=True)
    book = Rulebook(worker, clock=clock)
    event = text_event(text="送料は？")
    assert book.matcher().match(event, None)["id"] == "default-fallback"

    Rules(web).create(rule(name="送料", patterns=["送料"], priority=5))

    clock.advance(CHECK_INTERVAL / 2)
    assert book.matcher().match(event, None)["id"] == "default-fallback"
    clock.advance(CHECK_INTERVAL / 2)
    assert book.matcher().match(event, None)["name"] == "送料"


def test_rules_edited_while_messages_flow_answer_old_or_new_never_broken(server):
    clock = Clock(start=1000.0)
    worker = fakeredis.FakeRedis(server=server, decode_responses=True)
    admin = Rules(fakeredis.FakeRedis(server=server, decode_responses=True))
    book = Rulebook(worker, clock=clock)
    created = admin.create(rule(name="v0", patterns=["送料"], priority=5))
    event = text_event(text="送料")
    seen = []

    for edit in range(1, 21):
        admin.update(
            created["id"], rule(name=f"v{edit}", patterns=["送料"], priority=5)
        )
        for _ in range(3):
            seen.append(book.matcher().match(event, None)["name"])
            clock.advance(CHECK_INTERVAL / 3)

    assert set(seen) <= {f"v{n}" for n in range(21)}
    numbers = [int(name[1:]) for name in seen]
    assert numbers == sorted(numbers)  # never goes back to an older version
    clock.advance(CHECK_INTERVAL)
    assert book.matcher().match(event, None)["name"] == "v20"


def test_deleted_rule_stops_answering_and_fallback_takes_over(runtime):
    answers.decide(runtime, text_event(text="hi"), USER)  # a desk with defaults
    created = Rules(runtime.redis).create(
        rule(name="送料", patterns=["送料"], priority=5)
    )
    assert (
        answers.decide(runtime, text_event(text="送料"), USER).rule_id == created["id"]
    )

    Rules(runtime.redis).delete(created["id"])

    assert (
        answers.decide(runtime, text_event(text="送料"), USER).rule_id
        == "default-fallback"
    )


def test_process_reloads_only_changed_rules_and_sees_creates_updates_deletes(server):
    clock = Clock(start=1000.0)
    reader = fakeredis.FakeRedis(server=server, decode_responses=True)
    admin = Rules(fakeredis.FakeRedis(server=server, decode_responses=True))
    book = Rulebook(reader, clock=clock)
    book.matcher()  # seeds the defaults and reads everything
    apple = admin.create(rule(name="apple", patterns=["りんご"], priority=5))
    pear = admin.create(rule(name="pear", patterns=["なし"], priority=5))
    clock.advance(CHECK_INTERVAL)
    assert book.matcher().match(text_event(text="なし"), None)["name"] == "pear"

    admin.update(apple["id"], rule(name="apple v2", patterns=["りんご"], priority=5))
    admin.delete(pear["id"])
    clock.advance(CHECK_INTERVAL)
    matcher = book.matcher()

    assert matcher.match(text_event(text="りんご"), None)["name"] == "apple v2"
    assert matcher.match(text_event(text="なし"), None)["id"] == "default-fallback"
    assert sorted(r["id"] for r in matcher.rules) == sorted(
        r["id"] for r in admin.all()
    )


def test_process_too_far_behind_the_change_log_reads_everything(server, monkeypatch):
    from bot import rules as rules_module

    monkeypatch.setattr(rules_module, "CHANGES_KEPT", 2)
    clock = Clock(start=1000.0)
    reader = fakeredis.FakeRedis(server=server, decode_responses=True)
    admin = Rules(fakeredis.FakeRedis(server=server, decode_responses=True))
    book = Rulebook(reader, clock=clock)
    book.matcher()
    for n in range(5):
        admin.create(rule(name=f"r{n}", patterns=[f"語{n}"], priority=5))

    assert admin.changes_since(book.matcher().version) is None
    clock.advance(CHECK_INTERVAL)
    matcher = book.matcher()

    assert [
        matcher.match(text_event(text=f"語{n}"), None)["name"] for n in range(5)
    ] == [f"r{n}" for n in range(5)]


def test_cached_profile_names_the_user_without_asking_line(runtime, fake_line):
    from handoff.profiles import Profiles

    fake_line.get_profile = lambda user_id: {"displayName": "佐藤"}
    Profiles(runtime.redis, fake_line).refresh(USER)
    fake_line.get_profile = lambda user_id: pytest.fail("LINE asked again")

    answer = answers.decide(runtime, follow_event(USER), USER)

    assert answer.messages[0]["text"].startswith("佐藤さん")


def test_profile_lookup_failure_falls_back_to_the_neutral_name(runtime, fake_line):
    from bot.line_api import LineError

    def unavailable(user_id):
        raise LineError("server", 500, "LINE is down")

    fake_line.get_profile = unavailable

    answer = answers.decide(runtime, follow_event(USER), USER)

    assert answer.messages[0]["text"].startswith("お客様さん")


def test_offered_quick_reply_is_a_message_line_takes():
    from bot.messages import validate_messages
    from bot.rules import default_rules

    fallback = [r for r in default_rules() if r["id"] == "default-fallback"][0]

    assert validate_messages(answers.offer_person(fallback["reply"])) == []


def test_a_filled_in_name_moves_the_emojis_after_it():
    """LINE refuses a text whose emojis[].index no longer points at a `$`."""
    reply = [
        {
            "type": "text",
            "text": "$ {display_name}さん、ようこそ $",
            "emojis": [
                {"index": 0, "productId": "p", "emojiId": "001"},
                {"index": 24, "productId": "p", "emojiId": "002"},
            ],
        }
    ]

    [message] = answers.render(reply, lambda: "花子")

    assert message["text"] == "$ 花子さん、ようこそ $"
    assert [message["text"][e["index"]] for e in message["emojis"]] == ["$", "$"]
    assert reply[0]["emojis"][1]["index"] == 24  # the rule itself is untouched


def test_a_long_name_never_takes_a_text_past_lines_limit():
    text = "x" * 4990 + "{display_name}"

    [message] = answers.render([{"type": "text", "text": text}], lambda: "名" * 50)

    assert len(message["text"]) == 5000
