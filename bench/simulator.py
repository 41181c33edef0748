"""What `make run` feels like: phone message to the bot's answer on the phone.

Starts the desk as `make run` does (no LINE credentials: the simulator is on,
embedded Redis and workers), makes `--users` simulated users who each send
`--messages` texts one after another, all users at once, and measures the time
from the phone's send to the answer arriving in the simulator, and what the
answers cost.

    .venv/bin/python -m bench.simulator --users 20 --messages 5
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_desk(port: int) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LINE_") and k != "REDIS_URL"
    }
    env |= {
        "TSUNAGI_ENV": "development",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "LINE_CHANNEL_SECRET": "",
        "LINE_CHANNEL_ACCESS_TOKEN": "",
        "REDIS_URL": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/simulator/api"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/stats", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the desk did not start")


def one_user(api: str, index: int, messages: int) -> list[float]:
    session = requests.Session()
    user = session.post(
        api + "/users", json={"displayName": f"bench{index}"}, timeout=10
    ).json()["userId"]
    received = api + f"/users/{user}/messages"
    session.get(received, params={"wait": 20, "min": 1}, timeout=30)
    took = []
    for n in range(messages):
        start = time.perf_counter()
        session.post(
            api + f"/users/{user}/text", json={"text": f"質問 {n}"}, timeout=10
        ).raise_for_status()
        got = session.get(received, params={"wait": 20, "min": n + 2}, timeout=30)
        if got.json()["count"] < n + 2:
            raise RuntimeError(f"user {user} got no answer to message {n}")
        took.append(time.perf_counter() - start)
    return took


def pct(values, share) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def server_side(api: str) -> tuple[list[float], list[float]]:
    """From the simulator's clock: phone send -> webhook answered 2xx, and
    webhook answered -> the bot's answer arriving (milliseconds)."""
    answered = {
        d["eventIds"][0]: d["time"]
        for d in requests.get(api + "/webhooks", timeout=5).json()["deliveries"]
        if d["status"] == 200
    }
    to_desk, in_desk = [], []
    for user in requests.get(api + "/users", timeout=5).json()["users"]:
        chat = requests.get(api + f"/users/{user['userId']}/chat", timeout=5).json()
        entries = chat["entries"]
        for n, entry in enumerate(entries):
            if entry["from"] != "user" or entry["kind"] != "message":
                continue
            answer = next((e for e in entries[n + 1 :] if e["from"] == "bot"), None)
            delivered = answered.get(entry["webhookEventId"])
            if answer and delivered:
                to_desk.append(delivered - entry["time"])
                in_desk.append(answer["time"] - delivered)
    return to_desk, in_desk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args()

    port = free_port()
    process = start_desk(port)
    api = f"http://127.0.0.1:{port}/simulator/api"
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(args.users) as pool:
            runs = list(
                pool.map(lambda i: one_user(api, i, args.messages), range(args.users))
            )
        wall = time.perf_counter() - started
        stats = requests.get(api + "/stats", timeout=5).json()
        to_desk, in_desk = server_side(api)
    finally:
        process.terminate()
        process.wait(15)

    took = sorted(t * 1000 for run in runs for t in run)
    p95 = pct(took, 0.95)
    print(
        f"{args.users} users x {args.messages} messages, all users at once\n"
        f"  send -> answer on the phone: p50 {statistics.median(took):.0f} ms, "
        f"p95 {p95:.0f} ms, max {took[-1]:.0f} ms\n"
        f"  inside: phone -> desk's 200 p50 {statistics.median(to_desk):.0f} ms, "
        f"desk's 200 -> answer p50 {statistics.median(in_desk):.0f} ms "
        f"(p95 {pct(to_desk, 0.95):.0f} / {pct(in_desk, 0.95):.0f} ms)\n"
        f"  answers: {stats['replies']} replies, {stats['pushes']} pushes, "
        f"billed this month {stats['totalUsage']}, refused calls {stats['refused']}\n"
        f"  wall time {wall:.1f} s"
    )


if __name__ == "__main__":
    main()
