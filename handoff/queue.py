"""The queue's order, agents' presence, and the periodic upkeep of conversations.

Order: conversations whose free window is still live come first, the one
lapsing soonest at the head — an agent who answers it now answers for free —
then the rest by how long the user has waited. The window (`free_until`) is
read from the token pool at the moment of asking, never stored, because it
changes with every event and every reply.

Upkeep (`maintain`, called by the worker's sweeper) closes conversations
after the set minutes of user silence and returns to the queue those whose
agent is gone, or has done nothing for the set minutes while the user waits.
"""

import logging
import time

from handoff import settings
from handoff.conversations import (
    ASSIGNED,
    BOT,
    QUEUED,
    Conversations,
    silent_since,
)
from store import key

log = logging.getLogger(__name__)

#: An agent seen this recently (API call or open event stream) is online.
ONLINE_WITHIN = 90
#: `maintain` runs at most this often across all workers.
MAINTAIN_EVERY = 15


def touch(redis, username: str, now: float | None = None, *, acted=False) -> None:
    """Note that `username` is at the desk now; `acted` when they changed something.

    Presence (any request, an open event stream) says who is online; action
    (claims, answers, notes…) says who is working, which is what the idle rule
    reads — a panel left open refreshes itself, but does not answer anyone.
    """
    now = time.time() if now is None else now
    pipe = redis.pipeline(transaction=False)
    pipe.zadd(key("presence"), {username: now})
    if acted:
        pipe.zadd(key("activity"), {username: now})
    pipe.execute()


def last_seen(redis, username: str) -> float | None:
    return redis.zscore(key("presence"), username)


def last_acted(redis, username: str) -> float | None:
    return redis.zscore(key("activity"), username)


def online(redis, now: float | None = None) -> list[str]:
    """Agents seen within `ONLINE_WITHIN` seconds."""
    now = time.time() if now is None else now
    return redis.zrangebyscore(key("presence"), now - ONLINE_WITHIN, "+inf")


def with_window(runtime, conversations: list[dict]) -> list[dict]:
    """Add `free_until` (the latest live token's deadline, or None) to each."""
    tokens = runtime.delivery.tokens
    for conversation in conversations:
        conversation["free_until"] = tokens.free_until(conversation["chat_id"])
    return conversations


def queue_order(conversation: dict):
    """Sort key: live window first, soonest-lapsing first; then waiting time."""
    free_until = conversation.get("free_until")
    return (
        free_until is None,
        free_until or 0.0,
        conversation.get("waiting_since") or conversation.get("opened_at") or 0.0,
    )


def queued(runtime) -> list[dict]:
    """The queue, head first, each conversation with its `free_until`."""
    conversations = Conversations(runtime.redis, runtime.delivery.clock)
    items = with_window(runtime, conversations.many(conversations.ids(QUEUED)))
    return sorted(items, key=queue_order)


def maintain(runtime) -> dict:
    """Send due hand-off acknowledgements (every call); close silent
    conversations and requeue those whose agent is away.

    The upkeep runs at most once per `MAINTAIN_EVERY` seconds across all workers (a
    Redis mark decides), so every worker's sweeper may call it freely.
    Returns how many conversations it closed and requeued.
    """
    from handoff.routing import send_due_acks

    send_due_acks(runtime)
    done = {"closed": 0, "requeued": 0}
    if not runtime.redis.set(key("maintain"), "1", nx=True, ex=MAINTAIN_EVERY):
        return done
    return sweep(runtime)


def sweep(runtime) -> dict:
    """One pass of upkeep over every `bot` and `assigned` conversation."""
    redis = runtime.redis
    clock = runtime.delivery.clock
    conversations = Conversations(redis, clock)
    now = clock()
    close_after = settings.setting(redis, "handoff_auto_close_minutes") * 60
    idle_after = settings.setting(redis, "handoff_agent_idle_minutes") * 60
    done = {"closed": 0, "requeued": 0}

    if close_after:
        # `bot` conversations are scored by their last activity.
        for conversation_id in redis.zrangebyscore(
            key("conv", BOT), "-inf", now - close_after
        ):
            if conversations.close_if_silent(conversation_id, close_after):
                done["closed"] += 1

    agents = {}
    for conversation in conversations.many(conversations.ids(ASSIGNED, limit=100_000)):
        if silent_since(conversation) is not None:
            if close_after and conversations.close_if_silent(
                conversation["id"], close_after
            ):
                done["closed"] += 1
            continue
        assignee = conversation["assignee"]
        if assignee not in agents:
            agents[assignee] = _acted_since(redis, assignee)
        # Idle: the user has waited this long and the agent did nothing since.
        busy = max(
            agents[assignee] or 0,
            conversation["assigned_at"] or 0,
            conversation["first_unanswered_at"] or 0,
        )
        gone = agents[assignee] is None
        if gone or (idle_after and now - busy >= idle_after):
            conversations.requeue(conversation["id"], assignee, "agent_away")
            done["requeued"] += 1
            log.info(
                "queue: %s back in the queue, %s is away", conversation["id"], assignee
            )
    return done


def _acted_since(redis, username) -> float | None:
    """When the agent last acted (0 if never), or None if the account is gone."""
    from handoff.agents import Agents

    account = Agents(redis).get(username)
    if not account or not account.get("active", True):
        return None
    return last_acted(redis, username) or 0.0
