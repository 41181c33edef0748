"""Failed events: backoff, later events flowing past, dead letters, the send lock.

The inbox runs on fakeredis with a clock the tests move, so every delay is
checked without sleeping.
"""

import json
import threading

import pytest

from api.settings import update_settings
from bot import deadletters as D
from bot import inbox as I
from bot.inbox import RETRY_DELAYS, Inbox
from store import key
from tests.conftest import Clock
from tests.helpers import text_event

USER = "U" + "c" * 32
START = 1_800_000_000.0


class Boom(Exception):
    """A failure whose message quotes the user, as a real one might."""


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def inbox(runtime, clock):
    return Inbox(runtime.redis, clock=clock)


def fail(payload):
    raise Boom(f"cannot handle {payload['event']['message']['text']}")


def sweep(inbox):
    """One sweeper pass; returns the chats it started drains for.

    The tests drain by hand where the webhook's drain job would: the chats it
    would have taken are taken first, and their kicks have lapsed."""
    inbox.take_pending(1000)
    inbox.redis.delete(key("lock", "sweeper"), *inbox.redis.keys(key("kick", "*")))
    started = []
    inbox.sweep(started.extend)
    return started


def test_a_failed_event_is_retried_after_growing_delays(inbox, clock):
    event = text_event(USER, text="secret words")
    inbox.store([event])
    event_id = event["webhookEventId"]
    tries = []

    def failing(payload):
        tries.append((clock(), payload["attempts"]))
        fail(payload)

    inbox.drain(USER, failing)
    for delay in RETRY_DELAYS:
        # Not due a moment before its delay is over: nothing is filed back.
        clock.advance(delay - 0.5)
        assert sweep(inbox) == []
        assert inbox.pending(USER) == []
        clock.advance(0.5)
        assert sweep(inbox) == [USER]
        assert inbox.pending(USER) == [event_id]
        inbox.drain(USER, failing)

    waits = [
        later - earlier
        for (earlier, _), (later, _) in zip(tries, tries[1:], strict=False)
    ]
    assert waits == RETRY_DELAYS
    assert [attempts for _, attempts in tries] == list(range(len(RETRY_DELAYS) + 1))


def test_later_events_are_handled_while_a_failed_one_waits(inbox, clock):
    now = int(START * 1000)
    poison = text_event(USER, text="first", timestamp=now)
    later = [text_event(USER, text=f"later {n}", timestamp=now + n) for n in (1, 2)]
    inbox.store([poison, *later])
    seen = []

    def handle(payload):
        if payload["event_id"] == poison["webhookEventId"] and not payload["attempts"]:
            fail(payload)
        seen.append(payload["event"]["message"]["text"])

    inbox.drain(USER, handle)
    assert seen == ["later 1", "later 2"]
    assert inbox.parked() == [poison["webhookEventId"]]

    # Another message while the failed one waits goes through at once too.
    inbox.store([text_event(USER, text="later 3", timestamp=now + 3)])
    inbox.drain(USER, handle)
    assert seen == ["later 1", "later 2", "later 3"]

    clock.advance(RETRY_DELAYS[0])
    sweep(inbox)
    inbox.drain(USER, handle)
    assert seen == ["later 1", "later 2", "later 3", "first"]
    assert inbox.parked() == [] and inbox.deadletters.list() == []
    assert inbox.redis.exists(key("failure", poison["webhookEventId"])) == 0


def test_a_refiled_event_goes_before_the_chats_events_still_waiting(inbox, clock):
    now = int(START * 1000)
    poison = text_event(USER, text="first", timestamp=now)
    inbox.store([poison])
    inbox.drain(USER, fail)
    clock.advance(RETRY_DELAYS[0])
    sweep(inbox)
    inbox.store([text_event(USER, text="second", timestamp=now + 1)])
    seen = []

    inbox.drain(USER, lambda p: seen.append(p["event"]["message"]["text"]))

    assert seen == ["first", "second"]


def test_the_last_failure_makes_a_dead_letter_with_its_record(inbox, clock):
    event = text_event(USER, text="secret words")
    inbox.store([event])
    event_id = event["webhookEventId"]
    inbox.drain(USER, fail)
    for delay in RETRY_DELAYS:
        clock.advance(delay)
        sweep(inbox)
        inbox.drain(USER, fail)

    assert inbox.pending(USER) == [] and inbox.parked() == []
    [dead] = inbox.deadletters.list()
    assert dead == {
        "event_id": event_id,
        "chat_id": USER,
        "event_type": "message",
        "message_type": "text",
        "attempts": len(RETRY_DELAYS) + 1,
        "first_failed": START,
        "last_failed": START + sum(RETRY_DELAYS),
        "died_at": START + sum(RETRY_DELAYS),
        "error": "Boom",
    }
    # Nothing the user wrote is in what admins see or in the failure record.
    assert "secret" not in json.dumps(dead)
    # The dead letter keeps its own copy of the event, without an expiry.
    stored = inbox.redis.hgetall(key("deadletter", event_id))
    assert json.loads(stored["payload"])["event"] == event
    assert inbox.redis.ttl(key("deadletter", event_id)) == -1


def test_the_delays_are_a_setting(inbox, clock, runtime):
    update_settings(runtime.redis, {"event_retry_delays": [2]})
    inbox.store([text_event(USER)])
    inbox.drain(USER, fail)
    clock.advance(2)
    sweep(inbox)
    inbox.drain(USER, fail)

    assert [d["attempts"] for d in inbox.deadletters.list()] == [2]


def test_a_parked_event_outlives_its_dedupe_key(inbox, clock, runtime):
    event = text_event(USER)
    inbox.store([event])
    event_key = key("event", event["webhookEventId"])
    runtime.redis.expire(event_key, 3)  # stored nearly 48 h ago

    inbox.drain(USER, fail)

    assert runtime.redis.ttl(event_key) > RETRY_DELAYS[0]


def test_a_retried_dead_letter_gets_one_attempt_and_may_die_again(inbox, clock):
    update_settings(inbox.redis, {"event_retry_delays": []})
    event = text_event(USER)
    inbox.store([event])
    event_id = event["webhookEventId"]
    inbox.drain(USER, fail)
    inbox.redis.delete(key("event", event_id))  # its 48 h are over

    assert inbox.deadletters.retry(event_id)["attempts"] == 1
    assert inbox.pending(USER) == [event_id]
    assert inbox.deadletters.list() == []
    clock.advance(60)
    inbox.drain(USER, fail)  # dead again at once, no delays in between

    [dead] = inbox.deadletters.list()
    assert (dead["attempts"], dead["first_failed"], dead["last_failed"]) == (
        2,
        START,
        START + 60,
    )
    assert inbox.deadletters.retry("no-such-event") is None

    inbox.deadletters.retry(event_id)
    seen = []
    inbox.drain(USER, lambda p: seen.append((p["event"], p["attempts"])))
    assert seen == [(event, 2)]
    assert inbox.deadletters.list() == []


def test_discard_drops_a_dead_letter(inbox):
    update_settings(inbox.redis, {"event_retry_delays": []})
    event = text_event(USER)
    inbox.store([event])
    inbox.drain(USER, fail)

    assert inbox.deadletters.discard(event["webhookEventId"])["error"] == "Boom"
    assert inbox.deadletters.list() == []
    assert inbox.redis.exists(key("deadletter", event["webhookEventId"])) == 0
    assert inbox.deadletters.discard(event["webhookEventId"]) is None


def test_only_the_newest_dead_letters_are_kept(inbox, clock, monkeypatch):
    monkeypatch.setattr(D, "KEEP", 3)
    update_settings(inbox.redis, {"event_retry_delays": []})
    now = int(START * 1000)
    events = [text_event(USER, timestamp=now + n) for n in range(5)]
    for event in events:
        inbox.store([event])
        inbox.drain(USER, fail)
        clock.advance(1)

    kept = [d["event_id"] for d in inbox.deadletters.list()]
    assert kept == [e["webhookEventId"] for e in reversed(events[2:])]
    assert inbox.redis.exists(key("deadletter", events[0]["webhookEventId"])) == 0
    assert inbox.deadletters.count() == 3


def test_dead_letters_go_when_the_history_would_forget_the_users_words(runtime, clock):
    inbox = Inbox(runtime.redis, clock=clock, retention_days=7)
    update_settings(inbox.redis, {"event_retry_delays": []})
    old, new = text_event(USER, text="old"), text_event(USER, text="new")
    inbox.store([old])
    inbox.drain(USER, fail)
    clock.advance(6 * 86400)
    inbox.store([new])
    inbox.drain(USER, fail)

    clock.advance(86400 + 1)  # the first is now older than 7 days
    sweep(inbox)

    assert [d["event_id"] for d in inbox.deadletters.list()] == [new["webhookEventId"]]
    assert inbox.deadletters.count() == 1
    assert inbox.redis.exists(key("deadletter", old["webhookEventId"])) == 0


def test_the_send_lock_is_renewed_while_a_slow_line_call_runs(
    runtime, fake_line, monkeypatch
):
    """A second send to the chat waits for the first, however long LINE takes."""
    delivery = runtime.delivery
    lock_key = key("lock", "send", USER)
    in_call, go_on = threading.Event(), threading.Event()
    order = []

    def slow_push(to, messages, retry_key):
        order.append(messages[0]["text"])
        if messages[0]["text"] == "first":
            in_call.set()
            assert go_on.wait(10)
        return {"x-line-request-id": "req"}

    monkeypatch.setattr(fake_line, "push", slow_push)

    def send(text):
        delivery.send(USER, [{"type": "text", "text": text}], policy="push")

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert in_call.wait(10)
    # The call outlasts the lock's timeout: the keeper's renewal puts it back.
    runtime.redis.pexpire(lock_key, 50)
    delivery.keeper.renew()
    assert runtime.redis.pttl(lock_key) > 1000 * (I.LOCK_RENEW_EVERY * 2)

    second = threading.Thread(target=send, args=("second",))
    second.start()
    second.join(0.3)
    assert second.is_alive() and order == ["first"]
    go_on.set()
    first.join(10)
    second.join(10)

    assert order == ["first", "second"]
    assert runtime.redis.exists(lock_key) == 0


def test_an_older_desks_dead_letter_list_is_adopted(inbox, runtime):
    kept, expired = text_event(USER), text_event(USER)
    inbox.store([kept, expired])
    runtime.redis.delete(key("event", expired["webhookEventId"]))
    for event in (kept, expired):
        runtime.redis.zrem(key("inbox", USER), event["webhookEventId"])
        runtime.redis.rpush(
            key("deadletter"),
            json.dumps({"chat_id": USER, "event_id": event["webhookEventId"]}),
        )

    sweep(inbox)

    [dead] = inbox.deadletters.list()
    assert (dead["event_id"], dead["error"]) == (kept["webhookEventId"], "unknown")
    assert runtime.redis.type(key("deadletter")) == "zset"
    inbox.deadletters.retry(kept["webhookEventId"])
    assert inbox.pending(USER) == [kept["webhookEventId"]]


def test_an_adoption_cut_short_is_finished_by_the_next_sweeper(inbox, runtime):
    """A sweeper that died after moving the older desk's list aside left it
    under its temporary name: the next one adopts it, not forgets it."""
    event = text_event(USER)
    inbox.store([event])
    runtime.redis.zrem(key("inbox", USER), event["webhookEventId"])
    runtime.redis.rpush(
        key("deadletter", "legacy-list"),
        json.dumps({"chat_id": USER, "event_id": event["webhookEventId"]}),
    )

    assert inbox.deadletters.adopt_legacy() == 1

    [dead] = inbox.deadletters.list()
    assert dead["event_id"] == event["webhookEventId"]
    assert runtime.redis.exists(key("deadletter", "legacy-list")) == 0


def test_a_parked_event_that_lost_its_failure_record_is_still_refiled(inbox, clock):
    event = text_event(USER, text="hello")
    inbox.store([event])
    inbox.drain(USER, fail)
    event_id = event["webhookEventId"]
    inbox.redis.delete(key("failure", event_id))  # e.g. removed by hand
    clock.advance(RETRY_DELAYS[0])

    assert sweep(inbox) == [USER]
    assert inbox.pending(USER) == [event_id]
    handled = []
    inbox.drain(USER, handled.append)
    assert [p["event_id"] for p in handled] == [event_id]
