"""Hand-off figures on a real redis-server: listing the queue, and claim races.

    .venv/bin/python -m bench.handoff [--queued 500] [--agents 16]

Prints the time to list N queued conversations through the API (windows,
profiles and tags included, in the queue's order), and how many claims per
second `--agents` threads make when all of them go for every conversation
(each conversation must end with exactly one owner).
"""

import argparse
import statistics
import threading
import time

from api.tokens import Tokens
from app import create_app
from bench.common import redis_server
from bot.runtime import Runtime
from config import Config
from handoff.agents import Agents
from handoff.conversations import Conflict, Conversations


def build(url):
    config = Config(
        env="development",
        line_channel_secret="bench",
        line_channel_access_token="bench",
        line_api_host="http://127.0.0.1:9/line",
        secret_key="bench",
        redis_url=url,
    )
    config.check()
    runtime = Runtime(config)
    app = create_app(config, runtime=runtime, start_workers=False)
    return app, runtime


def queue_up(runtime, count):
    conversations = Conversations(runtime.redis)
    now = time.time()
    ids = []
    for n in range(count):
        chat_id = f"U{n:032x}"
        conversation = conversations.ensure_open(chat_id, chat_id)
        conversations.handoff(conversation["id"], "bench")
        if n % 3 == 0:
            runtime.delivery.tokens.add(chat_id, f"tok-{n}", now + 30 + n % 20)
        ids.append(conversation["id"])
    return ids


def list_timings(app, runtime, rounds=20):
    Agents(runtime.redis).create("bench", "bench-password-1", "agent", "Bench")
    token = Tokens(runtime.redis, time.time).issue(
        "bench", Agents(runtime.redis).epoch("bench"), 3600
    )["token"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get("/api/v1/conversations?status=queued", headers=headers)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    return timings, len(response.json["conversations"])


def claim_race(runtime, ids, agents):
    barrier = threading.Barrier(agents)
    won = [0] * agents

    def run(index):
        conversations = Conversations(runtime.redis)
        barrier.wait()
        for conversation_id in ids:
            try:
                conversations.claim(conversation_id, f"agent{index}")
                won[index] += 1
            except Conflict:
                pass

    threads = [threading.Thread(target=run, args=(i,)) for i in range(agents)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    owners = Conversations(runtime.redis).many(ids)
    assert all(c["status"] == "assigned" for c in owners)
    assert sum(won) == len(ids), "every conversation has exactly one owner"
    return elapsed, len(ids) * agents


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=500)
    parser.add_argument("--agents", type=int, default=16)
    args = parser.parse_args()
    with redis_server() as url:
        app, runtime = build(url)
        ids = queue_up(runtime, args.queued)
        timings, listed = list_timings(app, runtime)
        print(
            f"list {listed} queued: median {statistics.median(timings) * 1000:.1f} ms, "
            f"max {max(timings) * 1000:.1f} ms"
        )
        elapsed, attempts = claim_race(runtime, ids, args.agents)
        print(
            f"claim race: {attempts} attempts by {args.agents} agents on "
            f"{len(ids)} conversations in {elapsed:.2f} s "
            f"({attempts / elapsed:.0f} attempts/s), one owner each"
        )


if __name__ == "__main__":
    main()
