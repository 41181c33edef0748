"""Every transition, who may make it, the claim race, and the periodic upkeep."""

import threading

import pytest

from handoff import queue
from handoff.conversations import Conflict, Conversations, Forbidden
from store import key
from tests.handoff.conftest import USER

OTHER = "U" + "b" * 32


@pytest.fixture
def conversations(runtime, clock):
    return Conversations(runtime.redis, clock)


@pytest.fixture
def queued(conversations):
    conversation = conversations.ensure_open(USER, USER)
    return conversations.handoff(conversation["id"], "rule")


@pytest.fixture
def assigned(conversations, queued):
    return conversations.claim(queued["id"], "aiko")


def test_handoff_moves_bot_to_queued(conversations):
    conversation = conversations.ensure_open(USER, USER)

    queued = conversations.handoff(conversation["id"], "rule")

    assert (queued["status"], queued["assignee"]) == ("queued", None)
    assert conversations.ids("queued") == [queued["id"]]
    assert conversations.ids("bot") == []


def test_one_open_conversation_per_chat(conversations):
    first = conversations.ensure_open(USER, USER)

    assert conversations.ensure_open(USER, USER)["id"] == first["id"]


def test_claim_assigns_to_the_claimer(conversations, queued):
    claimed = conversations.claim(queued["id"], "aiko")

    assert (claimed["status"], claimed["assignee"]) == ("assigned", "aiko")
    assert conversations.ids("assigned", assignee="aiko") == [queued["id"]]
    assert conversations.ids("queued") == []


def test_an_agent_may_take_a_bot_conversation_directly(conversations):
    conversation = conversations.ensure_open(USER, USER)

    claimed = conversations.claim(conversation["id"], "aiko")

    assert claimed["status"] == "assigned"


def test_claiming_anothers_conversation_conflicts(conversations, assigned):
    with pytest.raises(Conflict) as caught:
        conversations.claim(assigned["id"], "ben")
    assert caught.value.code == "already_claimed"


def test_claiming_ones_own_conversation_again_succeeds(conversations, assigned):
    assert conversations.claim(assigned["id"], "aiko")["assignee"] == "aiko"


def test_claiming_a_closed_conversation_conflicts(conversations, assigned):
    conversations.close(assigned["id"], "aiko")

    with pytest.raises(Conflict):
        conversations.claim(assigned["id"], "ben")


def test_claim_race_has_exactly_one_winner(runtime, clock, queued):
    contenders = [f"agent{i}" for i in range(8)]
    barrier = threading.Barrier(len(contenders))
    outcomes = {}

    def claim(username):
        mine = Conversations(runtime.redis, clock)
        barrier.wait()
        try:
            mine.claim(queued["id"], username)
            outcomes[username] = "won"
        except Conflict:
            outcomes[username] = "lost"

    threads = [threading.Thread(target=claim, args=(u,)) for u in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [u for u, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1
    assert len(outcomes) == len(contenders)
    final = Conversations(runtime.redis).get(queued["id"])
    assert final["assignee"] == winners[0]
    for username in contenders:
        expected = [queued["id"]] if username == winners[0] else []
        assert (
            Conversations(runtime.redis).ids("assigned", assignee=username) == expected
        )


def test_assignee_transfers_to_another_agent(conversations, assigned):
    moved = conversations.transfer(assigned["id"], "aiko", "ben")

    assert moved["assignee"] == "ben"
    assert conversations.ids("assigned", assignee="aiko") == []
    assert conversations.ids("assigned", assignee="ben") == [assigned["id"]]


def test_another_agent_may_not_transfer(conversations, assigned):
    with pytest.raises(Forbidden):
        conversations.transfer(assigned["id"], "ben", "ben")


def test_admin_may_transfer_anyones_conversation(conversations, assigned):
    assert (
        conversations.transfer(assigned["id"], "boss", "ben", admin=True)["assignee"]
        == "ben"
    )


def test_transfer_back_to_the_queue_keeps_the_users_waiting_time(
    conversations, assigned, clock
):
    clock.advance(120)

    back = conversations.transfer(assigned["id"], "aiko", "queue")

    assert back["status"] == "queued"
    assert back["waiting_since"] == assigned["waiting_since"]


def test_only_an_admin_assigns_a_queued_conversation_to_someone(conversations, queued):
    with pytest.raises(Forbidden):
        conversations.transfer(queued["id"], "aiko", "ben")

    assert (
        conversations.transfer(queued["id"], "boss", "ben", admin=True)["assignee"]
        == "ben"
    )


def test_queued_conversation_cannot_be_queued_again(conversations, queued):
    with pytest.raises(Conflict):
        conversations.transfer(queued["id"], "aiko", "queue")


def test_an_agent_may_send_a_bot_conversation_to_the_queue(conversations):
    conversation = conversations.ensure_open(USER, USER)

    assert (
        conversations.transfer(conversation["id"], "aiko", "queue")["status"]
        == "queued"
    )


def test_assignee_closes(conversations, assigned):
    closed = conversations.close(assigned["id"], "aiko")

    assert closed["status"] == "closed"
    assert conversations.open_for(USER) is None
    assert conversations.ids("closed") == [assigned["id"]]
    assert conversations.ids("assigned", assignee="aiko") == []


def test_another_agent_may_not_close(conversations, assigned):
    with pytest.raises(Forbidden):
        conversations.close(assigned["id"], "ben")


def test_an_agent_may_not_close_an_unclaimed_conversation(conversations, queued):
    with pytest.raises(Forbidden):
        conversations.close(queued["id"], "aiko")


def test_admin_closes_anything_but_not_twice(conversations, queued):
    conversations.close(queued["id"], "boss", admin=True)

    with pytest.raises(Conflict):
        conversations.close(queued["id"], "boss", admin=True)


def test_transitions_are_audited(runtime, conversations, assigned):
    from api.audit import entries

    found, _ = entries(runtime.redis, target=assigned["id"])

    assert [e["action"] for e in found] == [
        "conversation.assigned",
        "conversation.queued",
    ]
    assert found[0]["actor"] == "aiko"
    assert found[0]["after"] == {"status": "assigned", "assignee": "aiko"}


def test_tags_belong_to_the_user_and_are_cleaned(conversations):
    assert conversations.change_tags(USER, add=[" vip ", "refund"]) == ["refund", "vip"]
    assert conversations.change_tags(USER, remove=["refund"]) == ["vip"]
    with pytest.raises(ValueError):
        conversations.change_tags(USER, add=[""])


def test_notes_are_kept_in_order(conversations, queued):
    conversations.add_note(queued["id"], "aiko", "called them")
    conversations.add_note(queued["id"], "ben", "refund approved")

    assert [n["text"] for n in conversations.notes(queued["id"])] == [
        "called them",
        "refund approved",
    ]


# -- the queue's order -----------------------------------------------------------


def _queue_user(runtime, conversations, clock, user_id, token_deadline=None):
    conversation = conversations.ensure_open(user_id, user_id)
    conversations.handoff(conversation["id"], "rule")
    if token_deadline is not None:
        runtime.delivery.tokens.add(user_id, f"tok-{user_id}", token_deadline)
    clock.advance(10)
    return conversation["id"]


def test_queue_puts_live_windows_first_soonest_lapsing_first(
    runtime, conversations, clock
):
    now = clock()
    oldest_lapsed = _queue_user(runtime, conversations, clock, "U1")
    live_late = _queue_user(runtime, conversations, clock, "U2", now + 100)
    newest_lapsed = _queue_user(runtime, conversations, clock, "U3")
    live_soon = _queue_user(runtime, conversations, clock, "U4", now + 80)

    order = [c["id"] for c in queue.queued(runtime)]

    assert order == [live_soon, live_late, oldest_lapsed, newest_lapsed]


def test_a_lapsed_window_falls_back_to_waiting_time(runtime, conversations, clock):
    now = clock()
    first = _queue_user(runtime, conversations, clock, "U1")
    second = _queue_user(runtime, conversations, clock, "U2", now + 30)
    assert [c["id"] for c in queue.queued(runtime)] == [second, first]

    clock.advance(60)

    order = queue.queued(runtime)
    assert [c["id"] for c in order] == [first, second]
    assert order[0]["free_until"] is None


# -- upkeep --------------------------------------------------------------------------


def _minutes(runtime, name, value):
    from api.settings import update_settings

    update_settings(runtime.redis, {name: value})


def test_silent_bot_conversation_closes_after_the_set_minutes(
    runtime, conversations, clock
):
    _minutes(runtime, "handoff_auto_close_minutes", 30)
    conversation = conversations.ensure_open(USER, USER)
    clock.advance(29 * 60)
    assert queue.sweep(runtime)["closed"] == 0

    clock.advance(60)

    assert queue.sweep(runtime)["closed"] == 1
    assert conversations.get(conversation["id"])["close_reason"] == "silence"


def test_a_new_message_restarts_the_silence(runtime, desk, clock):
    _minutes(runtime, "handoff_auto_close_minutes", 30)
    desk.say("hello")
    clock.advance(29 * 60)
    desk.say("one more thing")
    clock.advance(2 * 60)

    queue.sweep(runtime)

    assert desk.conversation()["status"] == "bot"


def test_a_user_waiting_for_the_agent_is_never_closed_for_silence(
    runtime, desk, conversations, clock
):
    _minutes(runtime, "handoff_agent_idle_minutes", 0)
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    clock.advance(5 * 3600)

    queue.sweep(runtime)

    assert conversations.close_if_silent(conversation_id, 60) is False
    assert conversations.get(conversation_id)["status"] == "assigned"
    # Kept open, it keeps what only a close may take: no expiry set on it.
    assert runtime.redis.ttl(key("conv", conversation_id)) == -1


def test_assigned_conversation_closes_when_the_user_is_silent_after_the_agent(
    runtime, desk, conversations, clock
):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={
            "messages": [{"type": "text", "text": "How can I help?"}],
            "if_expired": "push",
        },
    )
    clock.advance(31 * 60)

    queue.sweep(runtime)

    assert conversations.get(conversation_id)["status"] == "closed"


def test_waiting_user_goes_back_to_the_queue_when_the_agent_is_away(
    runtime, desk, conversations, clock
):
    _minutes(runtime, "handoff_agent_idle_minutes", 15)
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    clock.advance(14 * 60)
    queue.sweep(runtime)
    assert conversations.get(conversation_id)["status"] == "assigned"

    clock.advance(2 * 60)
    queue.sweep(runtime)

    back = conversations.get(conversation_id)
    assert (back["status"], back["handoff_reason"]) == ("queued", "agent_away")


def test_an_agent_who_only_reads_counts_as_away(runtime, desk, conversations, clock):
    _minutes(runtime, "handoff_agent_idle_minutes", 15)
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    for _ in range(4):
        clock.advance(4 * 60)
        desk.api("get", f"/conversations/{conversation_id}", "aiko")

    queue.sweep(runtime)

    assert conversations.get(conversation_id)["status"] == "queued"


def test_a_user_who_just_wrote_is_not_taken_from_a_quiet_agent_at_once(
    runtime, desk, conversations, clock
):
    _minutes(runtime, "handoff_agent_idle_minutes", 15)
    _minutes(runtime, "handoff_auto_close_minutes", 0)
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [{"type": "text", "text": "Done?"}], "if_expired": "push"},
    )
    clock.advance(60 * 60)
    desk.say("one more thing")

    queue.sweep(runtime)
    assert conversations.get(conversation_id)["status"] == "assigned"

    clock.advance(15 * 60)
    queue.sweep(runtime)
    assert conversations.get(conversation_id)["status"] == "queued"


def test_disabled_agents_conversations_return_to_the_queue(
    runtime, desk, conversations
):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    desk.agents.disable("aiko")

    assert queue.sweep(runtime)["requeued"] == 1
    assert conversations.get(conversation_id)["status"] == "queued"


def test_queued_conversations_wait_however_long_the_silence(
    runtime, conversations, queued, clock
):
    clock.advance(24 * 3600)

    queue.sweep(runtime)

    assert conversations.get(queued["id"])["status"] == "queued"


def test_maintain_runs_once_per_period(runtime):
    runtime.redis.delete("tsunagi:maintain")
    queue.maintain(runtime)

    assert runtime.redis.ttl("tsunagi:maintain") > 0
    assert queue.maintain(runtime) == {"closed": 0, "requeued": 0}
