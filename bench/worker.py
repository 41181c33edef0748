"""Answers per second from ONE `rq worker` when every LINE call takes 100 ms.

A campaign brings many users at once and each reply to LINE takes tens to
hundreds of milliseconds, so a worker must keep many calls in flight. This
runs the real processes (redis-server, gunicorn, one worker, the simulator
with 100 ms added to every reply) twice in one run — the worker running one
chat at a time, then its default pool — and prints both and the ratio.

    .venv/bin/python -m bench.worker --users 150
"""

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.desk import Desk


def run(users: int, concurrency: int, latency: float) -> float:
    """Seconds from the first follow to the last greeting received."""
    desk = Desk(Path(tempfile.mkdtemp(prefix="bench-worker-")))
    desk.extra_env = {"WORKER_CONCURRENCY": str(concurrency), "LOG_LEVEL": "WARNING"}
    try:
        desk.start_redis()
        desk.start_simulator("--redelivery-delays", "")
        desk.start_web()
        desk.start_workers(1)
        desk.fault(path="/v2/bot/message/reply", latency=latency, count=None)
        ids = [desk.new_user(f"user{n}", follow=False) for n in range(users)]
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda u: desk.api("post", f"/users/{u}/follow"), ids))
        print(f"  follows sent in {time.perf_counter() - start:.2f} s")
        for user_id in ids:
            desk.received(user_id, 1, wait=120)
        return time.perf_counter() - start
    finally:
        desk.kill_workers()
        desk.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    serial = run(args.users, 1, args.latency)
    pooled = run(args.users, 32, args.latency)
    print(f"{args.users} users, every reply {args.latency * 1000:.0f} ms inside LINE")
    for name, seconds in (("one chat at a time", serial), ("pool of 32", pooled)):
        rate = args.users / seconds
        print(f"{name:<20} {seconds:6.2f} s  {rate:7.1f} answers/s")
    print(f"speed-up {serial / pooled:.1f}x")


if __name__ == "__main__":
    main()
