"""RQ job functions. Each is small: the work lives in the inbox and events."""

import logging

from bot import events
from bot.runtime import get_runtime

log = logging.getLogger(__name__)


def drain(chat_ids: list[str]) -> int:
    """Handle the pending events of `chat_ids`, each chat in LINE's order.

    Chats run side by side on the worker's pool when it has one; the job
    returns once each is dispatched, since events stay in the inbox (and
    are picked up by the sweeper) until handled.
    """
    runtime = get_runtime()
    for chat_id in chat_ids:
        runtime.dispatch(drain_chat, runtime, chat_id)
    return len(chat_ids)


def drain_pending() -> int:
    """Drain the chats whose webhooks queued no job of their own.

    Takes a share of the waiting chats the size of the worker's pool (and
    queues another job when more wait, for the next free worker), then
    dispatches each as `drain` does.
    """
    runtime = get_runtime()
    chats, more = runtime.inbox.take_pending(runtime.config.worker_concurrency)
    if more:
        runtime.queue_pending_drain()
    for chat_id in chats:
        runtime.dispatch(drain_chat, runtime, chat_id)
    return len(chats)


def drain_chat(runtime, chat_id: str) -> int:
    """Drain one chat's inbox through `events.handle`."""
    return runtime.inbox.drain(chat_id, lambda payload: events.handle(runtime, payload))
