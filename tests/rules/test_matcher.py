"""Which rule answers: each match kind, priority and ties, schedules."""

import random

import pytest

from bot.matcher import Matcher, NaiveMatcher
from tests.rules.conftest import (
    follow_event,
    group_text_event,
    message_event,
    postback_event,
    stored,
    text_event,
    tokyo,
)


def winner(rules, event, now, **kwargs):
    found = Matcher(rules).match(event, now, **kwargs)
    return found and found["id"]


def test_exact_matches_whole_normalized_text_only(now):
    rules = [stored("r1", kind="exact", patterns=["ありがとう"])]

    assert winner(rules, text_event(text="アリガトウ！"), now) == "r1"
    assert winner(rules, text_event(text="ありがとうね"), now) is None


def test_contains_matches_any_pattern_anywhere(now):
    rules = [stored("r1", kind="contains", patterns=["りんご", "sale"])]

    assert winner(rules, text_event(text="リンゴありますか"), now) == "r1"
    assert winner(rules, text_event(text="ﾘﾝｺﾞ"), now) == "r1"
    assert winner(rules, text_event(text="ＳＡＬＥはいつ？"), now) == "r1"
    assert winner(rules, text_event(text="みかん"), now) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I want to talk to an agent", "handoff"),
        ("agent please!", "handoff"),
        ("AGENTに代わって", "handoff"),
        ("担当のagentさん", "handoff"),
        ("talk to a person", "handoff"),
        ("talktoaperson", "handoff"),
        ("You are such a gentle soul", None),  # "…agentle…" once matched
        ("the reagents arrived", None),
        ("Wholesale prices?", None),
        ("Is the SALE on?", "sale"),
    ],
)
def test_latin_patterns_match_whole_words_only(now, text, expected):
    rules = [
        stored("handoff", kind="contains", patterns=["agent", "talk to a person"]),
        stored("sale", kind="contains", patterns=["sale"], priority=20),
    ]

    assert winner(rules, text_event(text=text), now) == expected
    naive = NaiveMatcher(rules).match(text_event(text=text), now, fallback=False)
    assert (naive and naive["id"]) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("送料は500円です", "r1"),
        ("500 yen", "r1"),
        ("送料は1,500円", None),  # punctuation inside a number is no word break
        ("1.500 yen", None),
        ("opening hours～agent", "r2"),  # a wave dash parts words like a space
    ],
)
def test_numbers_and_marks_keep_their_word_edges(now, text, expected):
    rules = [
        stored("r1", kind="contains", patterns=["500"]),
        stored("r2", kind="contains", patterns=["agent"], priority=20),
    ]

    assert winner(rules, text_event(text=text), now) == expected
    naive = NaiveMatcher(rules).match(text_event(text=text), now, fallback=False)
    assert (naive and naive["id"]) == expected


def test_japanese_patterns_still_match_inside_a_sentence(now):
    rules = [stored("r1", kind="contains", patterns=["送料", "りんご"])]

    assert winner(rules, text_event(text="北海道への送料はいくら"), now) == "r1"
    assert winner(rules, text_event(text="青森りんごあります?"), now) == "r1"


def test_regex_uses_re2_over_width_folded_text(now):
    rules = [stored("r1", kind="regex", patterns=[r"注文番号\s*(\d{4})"])]

    assert winner(rules, text_event(text="注文番号 1234 です"), now) == "r1"
    assert winner(rules, text_event(text="注文番号１２３４"), now) == "r1"
    assert winner(rules, text_event(text="注文番号 12"), now) is None


def test_regex_is_case_sensitive_unless_the_pattern_says_so(now):
    rules = [
        stored("r1", kind="regex", patterns=["^ORDER"]),
        stored("r2", kind="regex", patterns=["(?i)^invoice"]),
    ]

    assert winner(rules, text_event(text="order 5"), now) is None
    assert winner(rules, text_event(text="ORDER 5"), now) == "r1"
    assert winner(rules, text_event(text="Invoice 5"), now) == "r2"


def test_postback_matches_equal_data(now):
    rules = [stored("r1", kind="postback", patterns=["action=handoff"])]

    assert winner(rules, postback_event("action=handoff"), now) == "r1"
    assert winner(rules, postback_event("action=handoff&x=1"), now) is None


def test_postback_prefix_matches_data_that_starts_with_it(now):
    rules = [stored("r1", kind="postback", patterns=["faq="])]
    rules[0]["match"]["prefix"] = True

    assert winner(rules, postback_event("faq=hours"), now) == "r1"
    assert winner(rules, postback_event("faq"), now) is None
    assert winner(rules, postback_event("x&faq=hours"), now) is None


def test_text_rules_do_not_see_postback_data(now):
    rules = [stored("r1", kind="contains", patterns=["handoff"])]

    assert winner(rules, postback_event("action=handoff"), now) is None


@pytest.mark.parametrize(
    "event, name",
    [
        (follow_event(), "follow"),
        (message_event("sticker"), "sticker"),
        (message_event("image"), "image"),
        (message_event("location"), "location"),
    ],
)
def test_event_rules_match_by_event_or_message_type(now, event, name):
    rules = [stored("r1", kind="event", patterns=[name])]

    assert winner(rules, event, now) == "r1"
    assert winner(rules, text_event(text=name), now) is None


def test_fallback_answers_messages_nothing_else_matched(now):
    rules = [
        stored("a", kind="contains", patterns=["りんご"], priority=500),
        stored("z", kind="fallback", priority=1),
    ]

    assert winner(rules, text_event(text="りんご"), now) == "a"
    assert winner(rules, text_event(text="みかん"), now) == "z"
    assert winner(rules, message_event("sticker"), now) == "z"
    assert winner(rules, follow_event(), now) is None
    assert winner(rules, postback_event("unknown"), now) is None


def test_fallback_can_be_switched_off_for_group_chats(now):
    rules = [stored("z", kind="fallback")]

    assert winner(rules, group_text_event("hi"), now, fallback=False) is None


def test_lower_priority_number_wins(now):
    rules = [
        stored("a", kind="exact", patterns=["りんご"], priority=20),
        stored("b", kind="regex", patterns=["りんご"], priority=10),
    ]

    assert winner(rules, text_event(text="りんご"), now) == "b"


def test_equal_priority_prefers_exact_then_contains_then_regex(now):
    exact = stored("c-exact", kind="exact", patterns=["りんご"])
    contains = stored("b-contains", kind="contains", patterns=["りんご"])
    regex = stored("a-regex", kind="regex", patterns=["りんご"])

    assert winner([regex, contains, exact], text_event(text="りんご"), now) == "c-exact"
    assert winner([regex, contains], text_event(text="りんご"), now) == "b-contains"


def test_equal_priority_and_kind_is_decided_by_rule_id(now):
    rules = [
        stored("02", kind="contains", patterns=["りんご"]),
        stored("01", kind="contains", patterns=["りんご"]),
    ]

    assert winner(rules, text_event(text="りんご"), now) == "01"
    assert winner(list(reversed(rules)), text_event(text="りんご"), now) == "01"


def test_disabled_rules_never_match(now):
    rules = [
        stored("a", kind="contains", patterns=["りんご"], enabled=False, priority=1),
        stored("b", kind="contains", patterns=["りんご"]),
    ]

    assert winner(rules, text_event(text="りんご"), now) == "b"


def test_rule_outside_its_schedule_gives_way_to_the_next():
    office = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00-18:00"]}
    rules = [
        stored("a-off", kind="fallback", priority=1, schedule=None),
        stored(
            "b-open", kind="contains", patterns=["予約"], priority=1, schedule=office
        ),
    ]
    rules[0]["schedule"] = {
        "timezone": "Asia/Tokyo",
        "weekdays": ["sat", "sun"],
        "times": [],
    }
    event = text_event(text="予約したい")

    assert winner(rules, event, tokyo(2026, 12, 7, 10, 0)) == "b-open"  # Mon 10:00
    assert winner(rules, event, tokyo(2026, 12, 7, 19, 0)) is None  # Mon 19:00
    assert winner(rules, event, tokyo(2026, 12, 12, 10, 0)) == "a-off"  # Saturday


def test_one_pattern_shared_by_many_rules_reaches_all_of_them(now):
    rules = [
        stored("a", kind="contains", patterns=["りんご"], enabled=False),
        stored("b", kind="contains", patterns=["リンゴ"]),
    ]

    assert winner(rules, text_event(text="りんご"), now) == "b"


def random_rules(count, seed):
    generator = random.Random(seed)
    words = ["りんご", "みかん", "sale", "送料", "予約", "返品", "営業", "hours", "ab"]
    kinds = ["exact", "contains", "regex", "postback", "event", "fallback"]
    rules = []
    for index in range(count):
        kind = generator.choice(kinds)
        patterns = generator.sample(words, 2)
        if kind == "event":
            patterns = [generator.choice(["follow", "sticker", "image"])]
        extra = {}
        if generator.random() < 0.2:
            extra["schedule"] = {"weekdays": [generator.choice(["mon", "sat"])]}
        rule = stored(
            f"r{index:03d}",
            kind=kind,
            patterns=patterns,
            priority=generator.randint(0, 5),
            enabled=generator.random() > 0.1,
            **extra,
        )
        if kind == "postback" and generator.random() < 0.5:
            rule["match"]["prefix"] = True
        rules.append(rule)
    return rules


@pytest.mark.parametrize("seed", range(5))
def test_index_agrees_with_trying_every_rule_in_order(seed):
    rules = random_rules(200, seed)
    index, naive = Matcher(rules), NaiveMatcher(rules)
    events = [
        text_event(text="リンゴとみかん"),
        text_event(text="ＳＡＬＥ"),
        text_event(text="送料"),
        text_event(text="ab"),
        text_event(text="nothing here"),
        postback_event("りんご"),
        postback_event("saleabc"),
        follow_event(),
        message_event("sticker"),
        message_event("video"),
    ]
    for when in (tokyo(2026, 12, 7, 12, 0), tokyo(2026, 12, 12, 12, 0)):
        for event in events:
            expected = naive.match(event, when)
            found = index.match(event, when)
            assert (found and found["id"]) == (expected and expected["id"])
