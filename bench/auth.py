"""What logging in and being let in cost.

    .venv/bin/python -m bench.auth [--requests 2000]

Times, with the production Argon2 parameters: one password hash, one
`POST /api/v1/auth/token` (a hash check plus the throttle and the token
write), and the per-request overhead of a bearer token (`GET
/api/v1/auth/me`, whose view does nothing but answer the account) beside
`GET /healthz`, which authenticates nothing. Runs in process on fakeredis,
so the figures are the desk's own work without network or Redis latency.
"""

import argparse
import time

from argon2 import PasswordHasher

from app import create_app
from config import Config
from handoff.agents import Agents

PASSWORD = "bench-password-1"


def _timed(fn, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


def _ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)

    hasher = PasswordHasher()
    p50, p99 = _timed(lambda: hasher.hash(PASSWORD), 20)
    print(f"argon2 hash (production parameters): p50 {_ms(p50)}  p99 {_ms(p99)}")

    config = Config(env="development", secret_key="bench", testing=True)
    config.check()
    app = create_app(config, start_workers=False)
    Agents(app.extensions["tsunagi"].redis).create("bench", PASSWORD, "agent", "Bench")
    client = app.test_client()
    body = {"username": "bench", "password": PASSWORD}

    def login():
        resp = client.post("/api/v1/auth/token", json=body)
        assert resp.status_code == 200, resp.json
        return resp.json["token"]

    p50, p99 = _timed(login, 20)
    print(f"POST /api/v1/auth/token: p50 {_ms(p50)}  p99 {_ms(p99)}")

    headers = {"Authorization": f"Bearer {login()}"}
    me = _timed(lambda: client.get("/api/v1/auth/me", headers=headers), args.requests)
    health = _timed(lambda: client.get("/healthz"), args.requests)
    print(f"GET /api/v1/auth/me (bearer): p50 {_ms(me[0])}  p99 {_ms(me[1])}")
    print(f"GET /healthz (no auth):      p50 {_ms(health[0])}  p99 {_ms(health[1])}")
    print(f"authentication overhead at p50: {_ms(me[0] - health[0])}")


if __name__ == "__main__":
    main()
