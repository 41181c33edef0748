"""POST /callback throughput and latency, beside an empty Flask endpoint.

Both run under the same gunicorn settings, measured by the same client in one
run; the ratio is what counts (absolute numbers depend on the machine).
Targets: throughput at least 0.5x the empty endpoint; p99 under 100 ms at
500 events/s (50 signed 10-event bodies a second).

    .venv/bin/python -m bench.webhook [--rounds 5 --seconds 3]
"""

import argparse
import http.client
import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import islice

from bench.common import gunicorn, redis_server
from tests.helpers import sign, text_event

SECRET = "bench-channel-secret"
EVENTS_PER_BODY = 10


def make_bodies(count: int) -> list[tuple[bytes, str]]:
    """Signed 10-event bodies, each event unique so none is a duplicate."""
    bodies = []
    for n in range(count):
        events = [
            text_event(
                f"U{(n * EVENTS_PER_BODY + i) % 5000:032d}", text="送料はいくら？"
            )
            for i in range(EVENTS_PER_BODY)
        ]
        body = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
        bodies.append((body, sign(SECRET, body)))
    return bodies


def post(conn, body, signature) -> float:
    start = time.perf_counter()
    conn.request(
        "POST",
        "/callback",
        body,
        {"X-Line-Signature": signature, "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}")
    return time.perf_counter() - start


def closed_loop(port, bodies, seconds, connections) -> float:
    """Requests per second with `connections` clients sending back to back."""
    lock = threading.Lock()
    done = [0]
    stop = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < stop:
            with lock:
                item = next(bodies, None)
            if item is None:
                raise RuntimeError("ran out of bodies; raise the count")
            post(conn, *item)
            with lock:
                done[0] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        futures = [pool.submit(client) for _ in range(connections)]
        for future in futures:
            future.result()
    return done[0] / (time.perf_counter() - start)


def open_loop(port, bodies, rate, seconds) -> list[float]:
    """Latencies when bodies arrive at `rate` a second, as LINE would send them."""
    batch = list(islice(bodies, int(rate * seconds)))
    latencies = []
    lock = threading.Lock()
    conns = threading.local()

    def send(item):
        if not hasattr(conns, "conn"):
            conns.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latency = post(conns.conn, *item)
        with lock:
            latencies.append(latency)

    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        futures = []
        for index, item in enumerate(batch):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(send, item))
        for future in futures:
            future.result()  # a failed request fails the benchmark
    return latencies


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50.0, help="bodies per second")
    args = parser.parse_args()

    # Enough unique bodies for every round at a generous rate, plus the
    # open-loop phase; none is ever sent twice (it would be deduplicated).
    needed = int(args.rounds * args.seconds * 6000) + int(args.rate * 10) + 100
    bodies = iter(make_bodies(needed))
    names = ("empty Flask", "POST /callback")
    rates = {name: [] for name in names}
    rows = {}
    with redis_server() as redis_url, ExitStack() as stack:
        env = {
            "TSUNAGI_ENV": "production",
            "REDIS_URL": redis_url,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": "bench-token",
            "LINE_API_HOST": "http://127.0.0.1:9",
            "SECRET_KEY": uuid.uuid4().hex,
            "LOG_LEVEL": "WARNING",
        }
        ports = {
            names[0]: stack.enter_context(gunicorn("bench.empty_app:app", env)),
            names[1]: stack.enter_context(gunicorn("app:app", env)),
        }
        for port in ports.values():  # warm up
            conn = http.client.HTTPConnection("127.0.0.1", port)
            for _ in range(20):
                post(conn, *next(bodies))
        # Rounds alternate between the two, so that the machine's drifting
        # load weighs on both alike; the median round counts.
        for _ in range(args.rounds):
            for name in names:
                rates[name].append(
                    closed_loop(ports[name], bodies, args.seconds, args.connections)
                )
        for name in names:
            latencies = open_loop(ports[name], bodies, args.rate, 10.0)
            rows[name] = (
                statistics.median(rates[name]),
                percentile(latencies, 0.5),
                percentile(latencies, 0.99),
            )
    print(
        f"{'endpoint':<16} {'req/s':>8} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f"   (open loop at {args.rate:.0f} req/s = "
        f"{args.rate * EVENTS_PER_BODY:.0f} events/s)"
    )
    for name, (rps, p50, p99) in rows.items():
        print(
            f"{name:<16} {rps:>8.0f} {rps * EVENTS_PER_BODY:>9.0f}"
            f" {p50 * 1000:>8.1f} {p99 * 1000:>8.1f}"
        )
    ratio = rows["POST /callback"][0] / rows["empty Flask"][0]
    p99 = rows["POST /callback"][2] * 1000
    print(f"throughput ratio /callback : empty = {ratio:.2f}  (target >= 0.50)")
    print(
        f"/callback p99 at {args.rate * EVENTS_PER_BODY:.0f} events/s = {p99:.1f} ms"
        "  (target < 100 ms)"
    )


if __name__ == "__main__":
    main()
