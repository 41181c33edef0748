"""The inbox: dedupe, per-chat order, and recovery of stranded chats."""

import threading
import time

from bot import jobs
from bot.inbox import RETRY_DELAYS, Inbox
from bot.tokens import token_deadline
from store import key
from tests.conftest import Clock
from tests.helpers import text_event

USER = "U" + "b" * 32


def test_concurrent_redelivery_is_stored_once(runtime):
    event = text_event(USER)
    stored = []

    def deliver():
        chats, _wake = Inbox(runtime.redis).store([event])
        stored.append(chats)

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(1 for chats in stored if chats) == 1
    assert runtime.inbox.pending(USER) == [event["webhookEventId"]]


def test_events_are_handled_in_line_timestamp_order(runtime):
    now = int(time.time() * 1000)
    events = [text_event(USER, text=str(n), timestamp=now + n) for n in range(5)]
    runtime.inbox.store(list(reversed(events)))
    seen = []

    runtime.inbox.drain(USER, lambda p: seen.append(p["event"]["message"]["text"]))

    assert seen == ["0", "1", "2", "3", "4"]


def test_one_chat_never_runs_on_two_workers_at_once(runtime):
    now = int(time.time() * 1000)
    for n in range(40):
        runtime.inbox.store([text_event(USER, text=str(n), timestamp=now + n)])
    seen, running, overlaps = [], [0], []
    guard = threading.Lock()

    def handle(payload):
        with guard:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.001)
        seen.append(int(payload["event"]["message"]["text"]))
        with guard:
            running[0] -= 1

    workers = [
        threading.Thread(target=Inbox(runtime.redis).drain, args=(USER, handle))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert max(overlaps) == 1
    assert seen == list(range(40))


def test_failed_event_is_parked_and_later_events_go_on(runtime):
    now = int(time.time() * 1000)
    first, second = text_event(USER, timestamp=now), text_event(USER, timestamp=now + 1)
    runtime.inbox.store([first, second])
    seen = []

    def fail_first(payload):
        if payload["event_id"] == first["webhookEventId"]:
            raise RuntimeError("boom")
        seen.append(payload["event_id"])

    runtime.inbox.drain(USER, fail_first)

    assert seen == [second["webhookEventId"]]
    assert runtime.inbox.pending(USER) == []
    assert runtime.inbox.parked() == [first["webhookEventId"]]


def test_poison_event_goes_to_the_dead_letters_after_its_last_retry(runtime):
    clock = Clock(1_800_000_000.0)
    inbox = Inbox(runtime.redis, clock=clock)
    event = text_event(USER)
    inbox.store([event])
    for delay in RETRY_DELAYS:
        inbox.drain(USER, lambda p: 1 / 0)
        clock.advance(delay)
        runtime.redis.delete(key("lock", "sweeper"))
        inbox.sweep(lambda chats: None)
    inbox.drain(USER, lambda p: 1 / 0)
    assert inbox.pending(USER) == [] and inbox.parked() == []
    assert [d["event_id"] for d in inbox.deadletters.list()] == [
        event["webhookEventId"]
    ]


def test_sweeper_restarts_a_chat_whose_drain_died(runtime):
    runtime.inbox.store([text_event(USER)])
    enqueued = []
    assert runtime.inbox.sweep(enqueued.extend) == []  # a drain job is coming

    # The job took the chat, and its worker died: once the kick lapses, the
    # sweeper acts.
    assert runtime.inbox.take_pending(10) == ([USER], False)
    assert runtime.inbox.sweep(enqueued.extend) == []  # only just taken
    runtime.redis.delete(key("kick", USER), key("lock", "sweeper"))
    assert runtime.inbox.sweep(enqueued.extend) == [USER]
    runtime.redis.delete(key("lock", "sweeper"))
    assert runtime.inbox.sweep(enqueued.extend) == []  # kicked a moment ago
    assert enqueued == [USER]


def test_webhooks_queue_one_drain_job_until_it_starts(runtime):
    """A burst costs one job while the job waits for a worker; the job takes
    every chat that came meanwhile, and the first webhook after it started
    queues the next."""
    others = [f"U{n:032d}" for n in range(3)]

    assert runtime.inbox.store([text_event(USER)]) == ([USER], True)
    assert runtime.inbox.store([text_event(others[0])]) == ([others[0]], False)
    assert runtime.inbox.store([text_event(others[1])]) == ([others[1]], False)

    chats, more = runtime.inbox.take_pending(10)
    assert sorted(chats) == sorted([USER, *others[:2]]) and more is False
    assert runtime.inbox.store([text_event(others[2])]) == ([others[2]], True)


def test_a_drain_job_takes_a_share_and_asks_for_another_job(runtime):
    chats = [f"U{n:032d}" for n in range(5)]
    runtime.inbox.store([text_event(chat) for chat in chats])

    first, more = runtime.inbox.take_pending(3)
    assert len(first) == 3 and more is True
    # The next job is the caller's to queue: a webhook now queues none.
    assert runtime.inbox.store([text_event(USER)])[1] is False
    second, more = runtime.inbox.take_pending(3)
    assert more is False
    assert sorted(first + second) == sorted([*chats, USER])


def test_a_drain_job_takes_the_longest_waiting_chats_first(runtime):
    """In a backlog the users who wrote first, whose reply tokens lapse
    first, are drained first; a chat that writes again keeps its place."""
    clock = Clock(1_800_000_000.0)
    inbox = Inbox(runtime.redis, clock=clock)
    chats = [f"U{n:032d}" for n in range(4)]
    for chat in chats:
        inbox.store([text_event(chat)])
        clock.advance(1)
    inbox.store([text_event(chats[0])])  # writes again, later

    assert inbox.take_pending(2) == (chats[:2], True)
    assert inbox.take_pending(2) == (chats[2:], False)


def test_sweeper_queues_a_drain_for_chats_nobody_is_coming_for(runtime):
    """The webhook stored its events but died before queueing the job (or
    the job was lost): once `drain:armed` lapses the sweeper wakes a drain."""
    runtime.inbox.store([text_event(USER)])
    woken = []

    runtime.inbox.sweep(lambda chats: None, lambda: woken.append(1))
    assert woken == []  # the webhook's job is coming

    runtime.redis.delete(key("drain", "armed"), key("lock", "sweeper"))
    assert runtime.inbox.sweep(lambda chats: None, lambda: woken.append(1)) == []
    assert woken == [1]
    runtime.redis.delete(key("lock", "sweeper"))
    runtime.inbox.sweep(lambda chats: None, lambda: woken.append(1))
    assert woken == [1]  # the one it queued is coming now
    assert runtime.inbox.take_pending(10) == ([USER], False)


def test_sweeper_leaves_a_chat_being_drained(runtime):
    runtime.inbox.store([text_event(USER)])
    runtime.redis.set(key("lock", "inbox", USER), "someone", px=5000)
    assert runtime.inbox.sweep(lambda chats: None) == []


def test_drained_chat_leaves_the_pending_set(runtime):
    event = text_event(USER)
    runtime.inbox.store([event])
    jobs.drain([USER])
    assert runtime.redis.sismember(key("inbox"), USER) == 0


def test_token_deadline_is_arrival_plus_ttl():
    event = text_event(USER)
    assert token_deadline(event, 1000.0, 50) == 1050.0


def test_redelivered_token_never_outlives_twenty_minutes_after_the_event():
    event = text_event(USER, timestamp=1_000_000, redelivery=True)
    arrival = 1_000 + 19 * 60 + 30
    assert token_deadline(event, arrival, 50) == 1_000 + 20 * 60


def test_an_answer_whose_token_lapsed_goes_with_the_users_next_message(
    runtime, fake_line
):
    event = text_event(
        USER, timestamp=1_000_000, redelivery=True, reply_token=fake_line.issue("old")
    )
    runtime.inbox.store([event])
    jobs.drain([USER])
    assert fake_line.calls == []
    assert runtime.delivery.ledger.entries(1)[0]["method"] == "held"

    runtime.inbox.store([text_event(USER, reply_token=fake_line.issue("new"))])
    jobs.drain([USER])
    runtime.inbox.store([text_event(USER, reply_token=fake_line.issue("newer"))])
    jobs.drain([USER])

    # The held answer and the new one share the new token, free; the next
    # message is answered on its own: nobody stays one answer behind.
    assert [(c[0], c[1], len(c[2])) for c in fake_line.calls] == [
        ("reply", "new", 2),
        ("reply", "newer", 1),
    ]
    assert runtime.delivery.held(USER) == []
    newest_first = [e["method"] for e in runtime.delivery.ledger.entries(10)]
    assert newest_first == ["reply", "reply", "held"]
