"""A whole desk in real processes: redis-server, gunicorn, `rq worker`s, simulator.

Each part runs as it would in production (the Procfile's commands), reached
over HTTP and Redis's own protocol, so integration tests exercise what ships.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
import requests

from bench.common import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Desk:
    """Starts and stops the parts of one desk; every port is free and private."""

    def __init__(self, logs: Path, *, token_ttl: float = 50.0):
        self.logs = logs
        self.secret = uuid.uuid4().hex
        self.access_token = uuid.uuid4().hex
        self.redis_port = free_port()
        self.web_port = free_port()
        self.sim_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.sim = f"http://127.0.0.1:{self.sim_port}"
        self.web = f"http://127.0.0.1:{self.web_port}"
        self.token_ttl = token_ttl
        self.procs = {}
        self.workers = []
        self.extra_env = {}

    # -- processes -----------------------------------------------------------

    def env(self) -> dict:
        return {
            **os.environ,
            "TSUNAGI_ENV": "production",
            "REDIS_URL": self.redis_url,
            "LINE_CHANNEL_SECRET": self.secret,
            "LINE_CHANNEL_ACCESS_TOKEN": self.access_token,
            "LINE_API_HOST": f"{self.sim}/simulator/line",
            "LINE_DATA_API_HOST": f"{self.sim}/simulator/line",
            "LINE_REPLY_TOKEN_TTL": str(self.token_ttl),
            "SECRET_KEY": uuid.uuid4().hex,
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    def _spawn(self, name, argv):
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        proc.log_file = log
        return proc

    def start_redis(self):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.procs["redis"] = self._spawn(
            "redis",
            [
                binary,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        deadline = time.time() + 10
        while True:
            try:
                redis.Redis.from_url(self.redis_url).ping()
                return
            except redis.ConnectionError:
                assert time.time() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop_redis(self):
        self._stop("redis", signal.SIGKILL)

    def start_simulator(self, *extra):
        self.procs["simulator"] = self._spawn(
            "simulator",
            [
                str(BIN / "python"),
                "-m",
                "simulator",
                "--port",
                str(self.sim_port),
                "--channel-secret",
                self.secret,
                "--access-token",
                self.access_token,
                "--webhook-url",
                f"{self.web}/callback",
                *extra,
            ],
        )
        wait_for_port(self.sim_port)

    def start_web(self):
        self.procs["web"] = self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "app:app",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--worker-class",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "8",
            ],
        )
        wait_for_port(self.web_port)

    def start_workers(self, count: int):
        for _ in range(count):
            number = len(self.workers)
            name = f"worker-{number}"
            proc = self._spawn(
                name,
                [
                    str(BIN / "rq"),
                    "worker",
                    "--worker-class",
                    "bot.worker.Worker",
                    "--url",
                    self.redis_url,
                    "--name",
                    f"it-{uuid.uuid4().hex[:8]}",
                    "tsunagi",
                ],
            )
            self.workers.append(proc)
            self.procs[name] = proc
        self.wait_for_workers()

    def wait_for_workers(self, timeout=60):
        """Wait until every live worker process has registered with Redis."""
        from rq import Worker

        connection = redis.Redis.from_url(self.redis_url)
        deadline = time.time() + timeout
        alive = {w.pid for w in self.workers if w.poll() is None}
        while not alive <= {w.pid for w in Worker.all(connection=connection)}:
            assert time.time() < deadline, "rq workers did not register"
            time.sleep(0.1)

    def kill_workers(self):
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(5)

    def _stop(self, name, sig=signal.SIGTERM):
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        proc.log_file.close()

    def stop(self):
        """Stop everything at once: tests need no graceful shutdown."""
        for name in list(self.procs):
            # SIGQUIT is gunicorn's quick shutdown (its workers go too).
            self._stop(name, signal.SIGQUIT if name == "web" else signal.SIGKILL)

    def ensure_workers(self, count: int):
        """Bring the number of live workers back to `count` after a test."""
        self.workers = [w for w in self.workers if w.poll() is None]
        if len(self.workers) < count:
            self.start_workers(count - len(self.workers))

    # -- the simulator's control API ----------------------------------------

    def api(self, method, path, **kwargs):
        response = requests.request(
            method, f"{self.sim}/simulator/api{path}", timeout=30, **kwargs
        )
        assert response.status_code < 400, response.text
        return response.json()

    def new_user(self, name="テスト", follow=False):
        return self.api("post", "/users", json={"displayName": name, "follow": follow})[
            "userId"
        ]

    def say(self, user_id, text):
        return self.api("post", f"/users/{user_id}/text", json={"text": text})

    def received(self, user_id, at_least=1, wait=15):
        return self.api(
            "get",
            f"/users/{user_id}/messages",
            params={"min": at_least, "wait": wait},
        )["messages"]

    def stats(self):
        return self.api("get", "/stats")

    def fault(self, **spec):
        return self.api("post", "/faults", json=spec)

    def redis(self):
        return redis.Redis.from_url(self.redis_url, decode_responses=True)
