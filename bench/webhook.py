"""POST /callback throughput and latency, beside an empty Flask endpoint.

Both run under the same gunicorn settings, measured by the same client in one
run; the ratio is what counts (absolute numbers depend on the machine).
Targets: throughput at least 0.5x the empty endpoint; p99 under 100 ms at
500 events/s (50 signed 10-event bodies a second).

    make bench          # or: .venv/bin/python -m bench.webhook --seconds 10
"""

import argparse
import http.client
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

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
    counter = iter(range(len(bodies)))
    lock = threading.Lock()
    done = [0]
    stop = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < stop:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            post(conn, *bodies[index])
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
    latencies = []
    lock = threading.Lock()
    conns = threading.local()

    def send(index):
        if not hasattr(conns, "conn"):
            conns.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latency = post(conns.conn, *bodies[index])
        with lock:
            latencies.append(latency)

    total = min(int(rate * seconds), len(bodies))
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        futures = []
        for index in range(total):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(send, index))
        for future in futures:
            future.result()  # a failed request fails the benchmark
    return latencies


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50.0, help="bodies per second")
    args = parser.parse_args()

    needed = int(args.seconds * 3000) + int(args.rate * args.seconds) + 100
    bodies = make_bodies(needed)
    rows = {}
    with redis_server() as redis_url:
        env = {
            "TSUNAGI_ENV": "production",
            "REDIS_URL": redis_url,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": "bench-token",
            "LINE_API_HOST": "http://127.0.0.1:9",
            "SECRET_KEY": uuid.uuid4().hex,
            "LOG_LEVEL": "WARNING",
        }
        for name, target in (
            ("empty Flask", "bench.empty_app:app"),
            ("POST /callback", "app:app"),
        ):
            with gunicorn(target, env) as port:
                for body, signature in bodies[:20]:  # warm up
                    post(http.client.HTTPConnection("127.0.0.1", port), body, signature)
                throughput = closed_loop(
                    port, bodies[20:], args.seconds, args.connections
                )
                rest = bodies[20 + int(throughput * args.seconds) + 10 :]
                latencies = open_loop(port, rest, args.rate, args.seconds)
                rows[name] = (
                    throughput,
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
