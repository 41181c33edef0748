"""Held answers: partial deliveries are never sent twice."""

import pytest

from bot import line_api
from bot.delivery import Delivery, DeliveryError
from tests.conftest import Clock

CHAT = "U" + "b" * 32


def text(n):
    return {"type": "text", "text": f"bubble {n}"}


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)


@pytest.fixture
def delivery(runtime, fake_line, clock):
    return Delivery(runtime.redis, fake_line, clock=clock, sleep=lambda s: None)


def test_a_long_held_answer_cut_short_by_tokens_resumes_where_it_stopped(
    delivery, fake_line, clock
):
    """Seven held objects and one token: five go, two stay held, none twice."""
    messages = [text(n) for n in range(7)]
    delivery.send(CHAT, messages, policy="hold", origin="agent")
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)

    assert delivery.flush_held(CHAT) == 0
    assert [m for item in delivery.held(CHAT) for m in item["messages"]] == messages[5:]

    delivery.tokens.add(CHAT, fake_line.issue("t2"), clock() + 50)
    assert delivery.flush_held(CHAT) == 1
    sent = [m for call in fake_line.replies() for m in call[2]]
    assert sent == messages
    assert delivery.held(CHAT) == []


def test_a_release_that_failed_midway_does_not_push_its_first_part_again(
    delivery, fake_line, clock
):
    messages = [text(n) for n in range(7)]
    delivery.send(CHAT, messages, policy="hold", origin="agent")
    # The first push goes through; the second is refused outright.
    fake_line.failures = []
    real_push = fake_line.push
    calls = {"n": 0}

    def push_then_refuse(to, chunk, retry_key):
        calls["n"] += 1
        if calls["n"] == 2:
            fake_line.calls.append(("push", to, chunk, retry_key))
            raise line_api.classify(400, '{"message": "bad message"}')
        return real_push(to, chunk, retry_key)

    fake_line.push = push_then_refuse
    with pytest.raises(DeliveryError):
        delivery.release_held(CHAT, approved=True)

    fake_line.push = real_push
    result = delivery.release_held(CHAT, approved=True)

    pushed = [m for call in fake_line.pushes() for m in call[2]]
    # First part once, the refused part twice (once refused, once accepted).
    assert pushed == messages[:5] + messages[5:] + messages[5:]
    # The release of what was left is a send of its own.
    assert result.billable == 1
    assert sum(p["objects"] for p in result.parts) == 2
    assert delivery.held(CHAT) == []


def test_after_a_failed_release_a_token_delivers_only_what_was_not_pushed(
    delivery, fake_line, clock
):
    messages = [text(n) for n in range(7)]
    delivery.send(CHAT, messages, policy="hold", origin="agent")
    real_push = fake_line.push

    def push_then_refuse(to, chunk, retry_key):
        if fake_line.pushes():
            fake_line.calls.append(("push", to, chunk, retry_key))
            raise line_api.classify(400, '{"message": "bad message"}')
        return real_push(to, chunk, retry_key)

    fake_line.push = push_then_refuse
    with pytest.raises(DeliveryError):
        delivery.release_held(CHAT, approved=True)

    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)
    assert delivery.flush_held(CHAT) == 1
    assert fake_line.replies() == [("reply", "t1", messages[5:])]
    assert delivery.held(CHAT) == []


def test_a_hold_interrupted_before_the_send_finished_is_not_held_twice(
    delivery, fake_line, monkeypatch
):
    real_finish = delivery._finish

    def die(send_id, record):
        raise RuntimeError("worker died")

    monkeypatch.setattr(delivery, "_finish", die)
    with pytest.raises(RuntimeError):
        delivery.send(CHAT, [text(1)], policy="hold", send_id="s1")
    monkeypatch.setattr(delivery, "_finish", real_finish)

    result = delivery.send(CHAT, [text(1)], policy="hold", send_id="s1")

    assert result.delivery == "held"
    assert len(delivery.held(CHAT)) == 1
    assert (
        delivery.ledger.usage(delivery.ledger.buckets(delivery.clock())[0])["held"] == 1
    )


def test_the_sweepers_release_keeps_an_agents_daily_cap(delivery, fake_line, runtime):
    from api.settings import update_settings

    update_settings(runtime.redis, {"agent_daily_push_cap": 1})
    first = delivery.send(CHAT, [text(1)], policy="push", origin="agent", actor="aiko")
    second = delivery.send(CHAT, [text(2)], policy="push", origin="agent", actor="aiko")
    assert (first.delivery, second.delivery) == ("push", "held")

    # The upkeep releases answers held too long with no actor of its own.
    assert delivery.release_held(CHAT, reason="held_expired") is None
    assert len(fake_line.pushes()) == 1
    assert len(delivery.held(CHAT)) == 1


def test_a_held_answer_whose_reply_timed_out_after_reaching_line_goes_once(
    delivery, fake_line, clock
):
    """LINE took the reply but the answer was lost: never deliver it again."""
    delivery.send(CHAT, [text("held")], policy="hold", origin="agent")
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)
    delivery.tokens.add(CHAT, fake_line.issue("t2"), clock() + 55)
    real_reply = fake_line.reply

    def accept_then_time_out(token, messages):
        fake_line.reply = real_reply
        real_reply(token, messages)
        raise line_api.LineError(line_api.TRANSPORT)

    fake_line.reply = accept_then_time_out

    delivery.flush_held(CHAT)
    delivery.tokens.add(CHAT, fake_line.issue("t3"), clock() + 60)
    delivery.flush_held(CHAT)

    # The same token is tried again; LINE's "used" answer means it went out.
    assert [c[1] for c in fake_line.replies()] == ["t1", "t1"]
    assert delivery.held(CHAT) == []
    assert [t for t, _ in delivery.tokens.live(CHAT)] == ["t2", "t3"]


def test_a_held_answer_line_refuses_is_dropped_not_a_poison_for_the_chat(
    delivery, fake_line, clock
):
    delivery.send(CHAT, [text("bad")], policy="hold", origin="agent")
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)
    fake_line.failures = [line_api.classify(400, '{"message": "bad message"}')]

    delivery.flush_held(CHAT)

    assert delivery.held(CHAT) == []
    entry = delivery.ledger.entries(1)[0]
    assert (entry["method"], entry["reason"]) == ("refused", "rejected")
    # The token LINE did not take still answers the user.
    result = delivery.send(CHAT, [text("next")], policy="refuse")
    assert result.delivery == "reply"


def test_a_reply_line_refuses_leaves_its_token_for_the_next_answer(
    delivery, fake_line, clock
):
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)
    fake_line.failures = [line_api.classify(400, '{"message": "bad message"}')]

    with pytest.raises(DeliveryError):
        delivery.send(CHAT, [text("bad")], policy="refuse")

    assert [t for t, _ in delivery.tokens.live(CHAT)] == ["t1"]


def test_answers_flushed_together_keep_each_authors_name_and_one_ledger_entry(
    delivery, fake_line, clock, runtime
):
    delivery.send(CHAT, [text(1)], policy="hold", origin="agent", actor="aiko")
    delivery.send(CHAT, [text(2), text(3)], policy="hold", origin="agent", actor="ben")
    delivery.send(CHAT, [text(4)], policy="hold", origin="bot")
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)

    assert delivery.flush_held(CHAT) == 3

    assert len(fake_line.replies()) == 1
    sent = [
        (e["text"], e["actor"], e["origin"])
        for e in delivery.history.read(CHAT)
        if e["direction"] == "out" and e["delivery"] == "reply"
    ]
    assert sent == [
        ("bubble 1", "aiko", "agent"),
        ("bubble 2", "ben", "agent"),
        ("bubble 3", "ben", "agent"),
        ("bubble 4", "", "bot"),
    ]
    month, _day = delivery.ledger.buckets(clock())
    usage = delivery.ledger.usage(month)
    assert (usage["reply"], usage["reply_objects"], usage["free"]) == (1, 4, 1)


def test_a_new_answer_never_overtakes_a_held_one(delivery, fake_line, clock):
    delivery.send(CHAT, [text("old")], policy="hold", origin="agent", actor="aiko")
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)

    # The agent answers again before anything flushed the held answer.
    result = delivery.send(
        CHAT, [text("new")], policy="push", origin="agent", actor="aiko"
    )

    assert result.delivery == "reply"
    assert [[m["text"] for m in c[2]] for c in fake_line.replies()] == [
        ["bubble old", "bubble new"]
    ]
    assert fake_line.pushes() == []
    assert delivery.held(CHAT) == []


def test_a_new_answer_with_no_token_left_after_the_held_ones_waits_behind_them(
    delivery, fake_line, clock
):
    delivery.send(CHAT, [text(n) for n in range(5)], policy="hold", origin="agent")
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)

    result = delivery.send(CHAT, [text("new")], policy="hold", origin="agent")

    assert result.delivery == "held"
    assert [len(c[2]) for c in fake_line.replies()] == [5]
    assert [m["text"] for i in delivery.held(CHAT) for m in i["messages"]] == [
        "bubble new"
    ]


def test_a_release_behind_a_held_bot_answer_is_gated_as_the_agents(
    delivery, fake_line, runtime
):
    from api.settings import update_settings

    update_settings(runtime.redis, {"agent_daily_push_cap": 1})
    delivery.send(CHAT, [text("bot")], policy="hold", origin="bot")
    delivery.send(CHAT, [text(1)], policy="hold", origin="agent", actor="aiko")
    # aiko spends her one push of the day on another chat.
    other = "U" + "c" * 32
    delivery.send(other, [text(2)], policy="push", origin="agent", actor="aiko")

    assert delivery.release_held(CHAT, reason="held_expired") is None
    assert [i["origin"] for i in delivery.held(CHAT)] == ["bot", "agent"]
    assert len(fake_line.pushes()) == 1


def _texts(messages):
    return [m["text"] for m in messages]


def test_a_push_carries_the_held_answers_before_the_new_one(delivery, fake_line, clock):
    """No token is live: the push takes the held answer first, in one request."""
    old = delivery.send(
        CHAT, [text("old")], policy="hold", origin="agent", actor="aiko"
    )

    new = delivery.send(CHAT, [text("new")], policy="push", origin="agent", actor="ben")

    assert [_texts(call[2]) for call in fake_line.pushes()] == [
        ["bubble old", "bubble new"]
    ]
    assert delivery.held(CHAT) == []
    assert (new.delivery, new.billable) == ("push", 1)
    # One ledger entry for the one request, billed to the send that pushed.
    [entry] = delivery.ledger.entries(method="push")
    assert (entry["send_id"], entry["actor"], entry["billable"]) == (
        new.send_id,
        "ben",
        1,
    )
    assert entry["objects"] == 2
    assert delivery.budget.pushes_today("ben") == 1
    assert delivery.budget.pushes_today("aiko") == 0
    # The history keeps each answer under its own send and author.
    pushed = [
        (e["text"], e["send_id"], e["actor"], e["billable"])
        for e in delivery.history.read(CHAT)
        if e["direction"] == "out" and e["delivery"] == "push"
    ]
    assert pushed == [
        ("bubble old", old.send_id, "aiko", 1),
        ("bubble new", new.send_id, "ben", 0),
    ]


def test_held_answers_and_a_push_go_in_the_fewest_requests_oldest_first(
    delivery, fake_line
):
    delivery.send(CHAT, [text(n) for n in range(4)], policy="hold", origin="agent")
    delivery.send(CHAT, [text("bot 1"), text("bot 2")], policy="hold", origin="bot")

    result = delivery.send(
        CHAT, [text(n) for n in "abc"], policy="push", origin="agent", actor="ben"
    )

    pushed = [_texts(call[2]) for call in fake_line.pushes()]
    assert pushed == [
        ["bubble 0", "bubble 1", "bubble 2", "bubble 3", "bubble bot 1"],
        ["bubble bot 2", "bubble a", "bubble b", "bubble c"],
    ]
    assert result.billable == 2
    assert delivery.held(CHAT) == []
    assert delivery.budget.pushes_today("ben") == 2


def test_free_only_keeps_a_push_and_the_held_answers_held(delivery, fake_line, runtime):
    from api.settings import update_settings

    delivery.send(CHAT, [text("old")], policy="hold", origin="agent", actor="aiko")
    update_settings(runtime.redis, {"free_only": True})

    result = delivery.send(
        CHAT, [text("new")], policy="push", origin="agent", actor="ben"
    )

    assert result.delivery == "held"
    assert fake_line.pushes() == []
    assert [_texts(i["messages"]) for i in delivery.held(CHAT)] == [
        ["bubble old"],
        ["bubble new"],
    ]


def test_an_agent_past_the_daily_cap_does_not_push_the_held_answers(
    delivery, fake_line, runtime
):
    from api.settings import update_settings

    update_settings(runtime.redis, {"agent_daily_push_cap": 1})
    other = "U" + "c" * 32
    delivery.send(other, [text(0)], policy="push", origin="agent", actor="ben")
    delivery.send(CHAT, [text("old")], policy="hold", origin="agent", actor="aiko")

    result = delivery.send(
        CHAT, [text("new")], policy="push", origin="agent", actor="ben"
    )

    assert result.delivery == "held"
    assert len(fake_line.pushes()) == 1
    assert len(delivery.held(CHAT)) == 2


def test_a_push_behind_held_answers_stopped_by_the_monthly_limit_holds_the_rest(
    delivery, fake_line
):
    delivery.send(CHAT, [text(n) for n in range(5)], policy="hold", origin="agent")
    delivery.send(CHAT, [text("late")], policy="hold", origin="agent")
    real_push = fake_line.push

    def limit_after_one(to, chunk, retry_key):
        if fake_line.pushes():
            fake_line.calls.append(("push", to, chunk, retry_key))
            raise line_api.classify(
                429, '{"message": "You have reached your monthly limit."}'
            )
        return real_push(to, chunk, retry_key)

    fake_line.push = limit_after_one
    result = delivery.send(CHAT, [text("new")], policy="push", origin="agent")

    assert _texts(fake_line.pushes()[0][2]) == [f"bubble {n}" for n in range(5)]
    # What did not go keeps its order: the older held answer, then the new one.
    assert [_texts(i["messages"]) for i in delivery.held(CHAT)] == [
        ["bubble late"],
        ["bubble new"],
    ]
    assert result.delivery == "push"
    assert [(p["method"], p["objects"]) for p in result.parts] == [
        ("push", 5),
        ("held", 1),
    ]


def _crash_a_push_behind_five_held_objects(delivery, fake_line):
    """Send "new" (s1) as a push behind five held objects; the worker dies
    after the first push (the held ones) reached LINE."""
    delivery.send(CHAT, [text(n) for n in range(5)], policy="hold", origin="agent")
    real_push = fake_line.push

    def die_on_the_second(to, chunk, retry_key):
        if fake_line.pushes():
            raise RuntimeError("worker died")
        return real_push(to, chunk, retry_key)

    fake_line.push = die_on_the_second
    with pytest.raises(RuntimeError):
        delivery.send(CHAT, [text("new")], policy="push", send_id="s1")
    fake_line.push = real_push


def test_a_push_behind_held_answers_resumed_after_a_crash_pushes_nothing_twice(
    delivery, fake_line
):
    _crash_a_push_behind_five_held_objects(delivery, fake_line)

    result = delivery.send(CHAT, [text("new")], policy="push", send_id="s1")

    pushed = [_texts(call[2]) for call in fake_line.pushes()]
    assert pushed == [[f"bubble {n}" for n in range(5)], ["bubble new"]]
    assert (result.delivery, result.billable) == ("push", 2)
    assert delivery.held(CHAT) == []


def test_a_release_records_each_answer_under_its_own_send(delivery, fake_line):
    first = delivery.send(CHAT, [text(1)], policy="hold", origin="agent", actor="aiko")
    second = delivery.send(CHAT, [text(2)], policy="hold", origin="bot")

    result = delivery.release_held(CHAT, actor="boss", approved=True)

    assert result.billable == 1
    pushed = [
        (e["text"], e["send_id"], e["origin"], e["actor"])
        for e in delivery.history.read(CHAT)
        if e["direction"] == "out" and e["delivery"] == "push"
    ]
    assert pushed == [
        ("bubble 1", first.send_id, "agent", "aiko"),
        ("bubble 2", second.send_id, "bot", ""),
    ]
    [entry] = delivery.ledger.entries(method="push")
    assert (entry["send_id"], entry["actor"]) == (result.send_id, "boss")


def test_a_resumed_push_behind_held_answers_never_drops_an_answer_held_since(
    delivery, fake_line, clock
):
    _crash_a_push_behind_five_held_objects(delivery, fake_line)
    # Before the send resumes, the user writes: the held answer goes by reply
    # and another answer is held.
    delivery.tokens.add(CHAT, fake_line.issue("t1"), clock() + 50)
    delivery.flush_held(CHAT)
    delivery.send(CHAT, [text("later")], policy="hold", origin="agent")

    delivery.send(CHAT, [text("new")], policy="push", send_id="s1")

    assert [_texts(i["messages"]) for i in delivery.held(CHAT)] == [["bubble later"]]
