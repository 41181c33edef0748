"""The desk's shared parts for one process: Redis, LINE, the queue, delivery.

The web app and the worker build the same `Runtime` from the same `Config`, so
the embedded default and a deployment run the very same code.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from redis.exceptions import NoScriptError, RedisError
from rq import Queue

import store
from bot.delivery import Delivery
from bot.inbox import Inbox
from bot.line_api import LineClient
from config import Config

log = logging.getLogger(__name__)

#: The RQ queue webhook work goes through.
QUEUE_NAME = "tsunagi"
#: How long a drain job may run before RQ gives up on it.
JOB_TIMEOUT = 600


class Runtime:
    """Holds the connections and services one process shares across threads."""

    def __init__(self, config: Config, *, server=None, clock=None):
        self.config = config
        self.redis = store.connect(config.redis_url, server=server)
        self.web_redis = store.connect(config.redis_url, web=True, server=server)
        self.rq_redis = store.connect(config.redis_url, decode=False, server=server)
        self.queue = Queue(QUEUE_NAME, connection=self.rq_redis)
        web_rq = store.connect(config.redis_url, decode=False, web=True, server=server)
        self.web_queue = Queue(QUEUE_NAME, connection=web_rq)
        self.line = LineClient(
            config.line_channel_access_token,
            config.line_api_host,
            config.line_data_api_host,
            timeout=config.line_request_timeout,
            max_connections=config.line_max_connections,
        )
        extra = {"clock": clock} if clock else {}
        self.delivery = Delivery(
            self.redis,
            self.line,
            timezone=config.timezone,
            retention_days=config.history_retention_days,
            **extra,
        )
        retention = {"retention_days": config.history_retention_days}
        self.inbox = Inbox(self.redis, **extra, **retention)
        self.web_inbox = Inbox(self.web_redis, **extra, **retention)
        try:
            self.inbox.load_scripts()
        except RedisError:
            log.warning("runtime: Redis unreachable at start; scripts load later")
        self._executor = None
        self._slots = None
        self._executor_lock = threading.Lock()

    def enqueue_drains(self, chat_ids) -> None:
        """Queue one job that drains `chat_ids` (the sweeper's restarts).

        The chats must already be kicked (`Inbox.sweep` does it).
        """
        if chat_ids:
            self.queue.enqueue_call(
                "bot.jobs.drain",
                args=(list(chat_ids),),
                timeout=JOB_TIMEOUT,
                result_ttl=0,
                failure_ttl=24 * 3600,
            )

    def intake(self, events: list[dict], destination: str = "") -> list[str]:
        """Store webhook events, and queue a drain job unless one is coming.

        On the web connection (short time-outs). Returns once every event is
        safe in Redis — one Lua call — and raises RedisError when they are
        not. The job is queued only when no drain job is queued already (see
        bot/inbox.py); failing to queue it loses nothing, since the stored
        events are the record and the sweeper queues a job for them within
        seconds. Returns the chats that got new events.
        """
        try:
            chats, wake = self.web_inbox.store(events, destination)
        except NoScriptError:
            # Redis restarted and forgot the script; nothing was stored.
            self.web_inbox.load_scripts(self.web_redis)
            chats, wake = self.web_inbox.store(events, destination)
        if wake:
            try:
                self.queue_pending_drain(self.web_queue)
            except RedisError:
                log.warning(
                    "runtime: %d chats stored but their drain not queued; "
                    "the sweeper queues it",
                    len(chats),
                )
        return chats

    def queue_pending_drain(self, queue=None) -> None:
        """Queue a job that drains the chats waiting in `drain:pending`."""
        (self.queue if queue is None else queue).enqueue_call(
            "bot.jobs.drain_pending",
            timeout=JOB_TIMEOUT,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )

    # -- concurrency inside one worker process --------------------------------

    def start_pool(self, size: int) -> None:
        """Let `dispatch` run up to `size` chats at once in this process."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(size, thread_name_prefix="chat")
                self._slots = threading.BoundedSemaphore(size)

    def dispatch(self, fn, *args) -> None:
        """Run `fn(*args)` on the pool (waiting for a free slot), else inline.

        Waiting for a slot keeps a busy worker from taking more jobs than it
        can run; work dispatched here is durable because events stay in the
        inbox until handled.
        """
        if self._executor is None:
            fn(*args)
            return
        self._slots.acquire()

        def run():
            try:
                fn(*args)
            except Exception:
                log.exception("runtime: dispatched work failed")
            finally:
                self._slots.release()

        self._executor.submit(run)

    def stop_pool(self, wait: bool = True) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=wait)
                self._executor = None


_runtime = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """This process's runtime, built from the environment on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(Config.from_env())
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install `runtime` as this process's (the app factory and tests do)."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime
