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


def drain_chat(runtime, chat_id: str) -> int:
    """Drain one chat's inbox through `events.handle`."""
    return runtime.inbox.drain(chat_id, lambda payload: events.handle(runtime, payload))
