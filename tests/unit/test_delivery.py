"""The delivery layer: free replies first, then the caller's policy."""

import threading

import pytest

from bot import line_api
from bot.delivery import Delivery, DeliveryError
from bot.line_api import LineError
from store import key
from tests.conftest import Clock

CHAT = "U" + "a" * 32


def text(n):
    return {"type": "text", "text": f"bubble {n}"}


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)


@pytest.fixture
def delivery(runtime, fake_line, clock):
    return Delivery(runtime.redis, fake_line, clock=clock, sleep=lambda s: None)


def give_token(delivery, fake_line, clock, name, ttl=50):
    delivery.tokens.add(CHAT, fake_line.issue(name), clock() + ttl)


def test_live_token_sends_by_reply_for_free(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "t1")

    result = delivery.send(CHAT, [text(1)], policy="push")

    assert result.delivery == "reply"
    assert result.billable == 0
    assert fake_line.calls == [("reply", "t1", [text(1)])]


def test_the_token_lapsing_soonest_is_spent_first(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "late", ttl=40)
    give_token(delivery, fake_line, clock, "soon", ttl=10)

    delivery.send(CHAT, [text(1)], policy="refuse")

    assert fake_line.calls[0][1] == "soon"
    assert [t for t, _ in delivery.tokens.live(CHAT)] == ["late"]


def test_expired_token_falls_back_to_push(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "t1", ttl=50)
    clock.advance(51)

    result = delivery.send(CHAT, [text(1), text(2)], policy="push", origin="agent")

    assert result.delivery == "push"
    assert result.billable == 1
    assert [c[0] for c in fake_line.calls] == ["push"]


def test_six_objects_use_two_live_tokens(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "t1", ttl=10)
    give_token(delivery, fake_line, clock, "t2", ttl=20)

    result = delivery.send(CHAT, [text(n) for n in range(6)], policy="push")

    assert result.billable == 0
    assert [(c[0], c[1], len(c[2])) for c in fake_line.calls] == [
        ("reply", "t1", 5),
        ("reply", "t2", 1),
    ]


def test_objects_beyond_the_tokens_go_in_the_fewest_pushes(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "t1")

    result = delivery.send(CHAT, [text(n) for n in range(12)], policy="push")

    assert [(c[0], len(c[2])) for c in fake_line.calls] == [
        ("reply", 5),
        ("push", 5),
        ("push", 2),
    ]
    assert result.delivery == "push"
    assert result.billable == 2


def test_invalid_token_is_dropped_and_the_next_one_used(delivery, fake_line, clock):
    delivery.tokens.add(CHAT, "never-issued", clock() + 10)
    give_token(delivery, fake_line, clock, "good", ttl=30)

    result = delivery.send(CHAT, [text(1)], policy="refuse")

    assert result.delivery == "reply"
    assert [c[1] for c in fake_line.calls] == ["never-issued", "good"]


def test_invalid_only_token_falls_to_the_policy(delivery, fake_line, clock):
    delivery.tokens.add(CHAT, "used-elsewhere", clock() + 10)

    result = delivery.send(CHAT, [text(1)], policy="hold")

    assert result.delivery == "held"
    assert delivery.held(CHAT)[0]["messages"] == [text(1)]


def test_bot_answer_with_no_token_is_refused_and_recorded(delivery, fake_line, clock):
    result = delivery.send(CHAT, [text(1)], policy="refuse", reason="token_expired")

    assert result.delivery == "refused"
    assert fake_line.calls == []
    entry = delivery.ledger.entries(1)[0]
    assert (entry["method"], entry["reason"]) == ("refused", "token_expired")


def test_held_answer_goes_out_through_the_next_token_before_newer(
    delivery, fake_line, clock
):
    delivery.send(CHAT, [text("old")], policy="hold", origin="agent")
    give_token(delivery, fake_line, clock, "t1")

    delivered = delivery.flush_held(CHAT)
    delivery.send(CHAT, [text("new")], policy="refuse")

    assert delivered == 1
    assert fake_line.calls == [("reply", "t1", [text("old")])]
    assert delivery.held(CHAT) == []


def test_several_held_answers_share_one_reply(delivery, fake_line, clock):
    for n in range(3):
        delivery.send(CHAT, [text(n)], policy="hold", origin="agent")
    give_token(delivery, fake_line, clock, "t1")

    assert delivery.flush_held(CHAT) == 3
    assert fake_line.calls == [("reply", "t1", [text(0), text(1), text(2)])]


def test_held_answers_stay_held_without_a_token(delivery, fake_line):
    delivery.send(CHAT, [text(1)], policy="hold")
    assert delivery.flush_held(CHAT) == 0
    assert len(delivery.held(CHAT)) == 1


def test_server_errors_are_retried_with_the_same_retry_key(delivery, fake_line):
    fake_line.failures = [
        LineError(line_api.SERVER_ERROR, 500),
        line_api.classify(429, '{"message": "Too many requests"}'),
        LineError(line_api.TRANSPORT),
    ]

    result = delivery.send(CHAT, [text(1)], policy="push")

    keys = {call[3] for call in fake_line.pushes()}
    assert len(fake_line.pushes()) == 4
    assert len(keys) == 1
    assert result.billable == 1


def test_reply_is_retried_on_server_error_while_the_token_lives(
    delivery, fake_line, clock
):
    give_token(delivery, fake_line, clock, "t1")
    fake_line.failures = [LineError(line_api.SERVER_ERROR, 502)]

    result = delivery.send(CHAT, [text(1)], policy="push")

    assert result.delivery == "reply"
    assert [c[1] for c in fake_line.calls] == ["t1", "t1"]


def test_monthly_limit_is_not_retried_and_the_answer_is_held(delivery, fake_line):
    fake_line.failures = [
        line_api.classify(429, '{"message": "You have reached your monthly limit."}')
    ]

    result = delivery.send(CHAT, [text(1)], policy="push", origin="agent")

    assert len(fake_line.pushes()) == 1
    assert result.delivery == "held"
    assert delivery.held(CHAT)[0]["reason"] == "monthly_limit"


def test_rejected_message_raises_a_delivery_error(delivery, fake_line):
    fake_line.failures = [line_api.classify(400, '{"message": "bad message"}')]
    with pytest.raises(DeliveryError):
        delivery.send(CHAT, [text(1)], policy="push")


def test_same_send_id_never_sends_twice(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "t1")
    give_token(delivery, fake_line, clock, "t2")

    first = delivery.send(CHAT, [text(1)], policy="push", send_id="s1")
    second = delivery.send(CHAT, [text(1)], policy="push", send_id="s1")

    assert first == second
    assert len(fake_line.calls) == 1


def test_interrupted_reply_resumes_with_the_same_token(delivery, fake_line, clock):
    # A worker took t1 and died before LINE answered: the send record says so.
    give_token(delivery, fake_line, clock, "t1")
    give_token(delivery, fake_line, clock, "t2")
    fake_line.failures = [KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        delivery.send(CHAT, [text(1)], policy="push", send_id="s1")

    result = delivery.send(CHAT, [text(1)], policy="push", send_id="s1")

    assert result.delivery == "reply"
    assert [c[1] for c in fake_line.calls] == ["t1", "t1"]
    assert [t for t, _ in delivery.tokens.live(CHAT)] == ["t2"]


def test_reply_accepted_before_a_crash_is_not_sent_again(delivery, fake_line, clock):
    give_token(delivery, fake_line, clock, "t1")
    give_token(delivery, fake_line, clock, "t2")
    original = fake_line.reply

    def accept_then_die(token, messages):
        original(token, messages)
        raise KeyboardInterrupt

    fake_line.reply = accept_then_die
    with pytest.raises(KeyboardInterrupt):
        delivery.send(CHAT, [text(1)], policy="push", send_id="s1")
    fake_line.reply = original

    result = delivery.send(CHAT, [text(1)], policy="push", send_id="s1")

    assert result.billable == 0
    assert fake_line.used_tokens == {"t1"}
    assert [t for t, _ in delivery.tokens.live(CHAT)] == ["t2"]


def test_a_token_is_spent_once_under_concurrency(runtime, fake_line, clock):
    tokens = [fake_line.issue(f"t{n}") for n in range(20)]
    sender = Delivery(runtime.redis, fake_line, clock=clock, sleep=lambda s: None)
    for token in tokens:
        sender.tokens.add(CHAT, token, clock() + 50)
    results = []

    def take_all():
        mine = Delivery(runtime.redis, fake_line, clock=clock)
        while (taken := mine.tokens.take(CHAT)) is not None:
            results.append(taken[0])

    threads = [threading.Thread(target=take_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == sorted(tokens)


def test_ledger_counts_billable_per_push_not_per_object(delivery, fake_line, clock):
    delivery.send(CHAT, [text(n) for n in range(5)], policy="push")
    give_token(delivery, fake_line, clock, "t1")
    delivery.send(CHAT, [text(1)], policy="push")

    month, day = delivery.ledger.buckets(clock())
    usage = delivery.ledger.usage(month)
    assert usage["billable"] == 1
    assert usage["push_objects"] == 5
    assert usage["free"] == 1
    assert delivery.ledger.usage(day)["billable"] == 1
    methods = [e["method"] for e in delivery.ledger.entries(10)]
    assert methods == ["reply", "push"]


def test_history_records_delivery_and_cost(delivery, fake_line, clock):
    delivery.send(CHAT, [text(1)], policy="push", origin="agent", actor="aiko")

    rows = delivery.history.read(CHAT)
    assert [(r["direction"], r["delivery"], r["billable"]) for r in rows] == [
        ("out", "push", 1)
    ]
    assert rows[0]["actor"] == "aiko"


def test_unknown_policy_is_a_value_error(delivery):
    with pytest.raises(ValueError, match="policy"):
        delivery.send(CHAT, [text(1)], policy="maybe")


def test_send_record_expires(delivery, runtime, fake_line):
    delivery.send(CHAT, [text(1)], policy="push", send_id="s9")
    assert 0 < runtime.redis.ttl(key("send", "s9")) <= 24 * 3600
