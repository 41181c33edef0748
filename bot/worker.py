"""The RQ worker class Tsunagi runs: `rq worker -w bot.worker.Worker tsunagi`.

It differs from RQ's stock worker in three ways, each for LINE's sake:
- no fork per job, and chats run side by side on a thread pool, so one worker
  keeps many LINE calls in flight (each takes tens to hundreds of ms);
- a sweeper thread restarts chats whose drain died, within seconds — a reply
  token is worth something for only about a minute — and files failed events
  back into their chats' inboxes when their retry is due (bot/inbox.py);
- a Redis outage is waited out, not a reason to exit.
"""

import logging
import threading
import time
import uuid

import redis
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from bot import quota
from bot.runtime import QUEUE_NAME, Runtime, get_runtime, set_runtime
from handoff import queue as handoff_queue
from handoff import tap

log = logging.getLogger(__name__)

SWEEP_EVERY = 1.0
REDIS_WAIT = 0.5


class Worker(SimpleWorker):
    """A non-forking RQ worker with a chat pool, a sweeper and outage handling."""

    max_connection_wait_time = 2.0

    def __init__(self, *args, runtime: Runtime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.runtime = runtime
        self._sweeper = None
        self._stop_event = threading.Event()

    def _install_signal_handlers(self):
        if threading.current_thread() is threading.main_thread():
            super()._install_signal_handlers()

    def work(self, burst: bool = False, **kwargs) -> bool:
        """Work until asked to stop, riding out Redis outages."""
        runtime = self.runtime or get_runtime()
        if self.runtime is not None:
            set_runtime(runtime)
        runtime.start_pool(runtime.config.worker_concurrency)
        self._start_sweeper(runtime)
        worked = False
        try:
            while True:
                try:
                    worked = super().work(burst=burst, **kwargs) or worked
                except redis.exceptions.RedisError:
                    log.warning(
                        "worker: Redis failed under %s", self.name, exc_info=True
                    )
                if burst or self._stop_requested:
                    return worked
                self._wait_for_redis()
                # The old registration may linger; come back under a new name.
                self.name = uuid.uuid4().hex
                self._stop_requested = False
        finally:
            self._stop_event.set()
            runtime.stop_pool(wait=True)

    def _wait_for_redis(self):
        log.warning("worker: waiting for Redis to come back")
        while not self._stop_requested:
            try:
                self.connection.ping()
                log.info("worker: Redis is back")
                return
            except redis.exceptions.RedisError:
                time.sleep(REDIS_WAIT)

    def _start_sweeper(self, runtime):
        if self._sweeper is not None:
            return

        def sweep_forever():
            while not self._stop_event.wait(SWEEP_EVERY):
                sweep_once(runtime)

        self._sweeper = threading.Thread(
            target=sweep_forever, name="sweeper", daemon=True
        )
        self._sweeper.start()


def sweep_once(runtime: Runtime) -> None:
    """One pass of the sweeper; a task that fails does not skip the others."""
    tasks = (
        lambda: runtime.inbox.sweep(
            runtime.enqueue_drains, runtime.queue_pending_drain
        ),
        lambda: handoff_queue.maintain(runtime),
        lambda: quota.maybe_sync(runtime),
        lambda: tap.upkeep(runtime),
    )
    for task in tasks:
        try:
            task()
        except redis.exceptions.RedisError:
            return  # the main loop reports and waits out outages
        except Exception:
            log.exception("worker: sweep failed")


def start_embedded(runtime: Runtime, count: int) -> list[threading.Thread]:
    """Run `count` workers as threads of this process (the embedded default)."""
    from rq import Queue

    threads = []
    for number in range(count):
        queue = Queue(QUEUE_NAME, connection=runtime.rq_redis)
        worker = Worker(
            [queue],
            connection=runtime.rq_redis,
            runtime=runtime,
            name=f"embedded-{number}-{uuid.uuid4().hex[:8]}",
        )
        # SIGALRM works only in the main thread; time jobs with a timer.
        worker.death_penalty_class = TimerDeathPenalty
        thread = threading.Thread(
            target=worker.work,
            kwargs={"logging_level": "WARNING"},
            name=f"worker-{number}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    return threads


def wait_for_redis(url: str, interval: float = REDIS_WAIT) -> None:
    """Return once the Redis at `url` answers, however long that takes.

    The worker's start (`rq worker`) gives up at once when Redis is down,
    which a platform then counts as a crash; the Procfile runs this first so a
    worker started during an outage waits it out like a running one does.
    """
    client = redis.Redis.from_url(url, socket_connect_timeout=2.0)
    told = False
    while True:
        try:
            client.ping()
            log.info("worker: Redis answers")
            return
        except redis.exceptions.RedisError:
            if not told:
                log.warning("worker: Redis does not answer yet; waiting")
                told = True
            time.sleep(interval)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "wait":
        sys.exit("usage: python -m bot.worker wait REDIS_URL")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    wait_for_redis(sys.argv[2])
