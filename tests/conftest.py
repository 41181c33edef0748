"""Fixtures: a desk on its own in-process Redis, and LINE stand-ins.

Unit tests run the real code on fakeredis; only LINE's network side is
replaced (by `FakeLine`, which keeps LINE's rules: a token works once and
pushes are counted). Integration tests (tests/integration) use a real
redis-server, real `rq worker` processes and the simulator over HTTP.
"""

import threading
import time

import fakeredis
import pytest

from app import create_app
from bot.line_api import LineError, classify
from config import Config

SECRET = "test-channel-secret"
TOKEN = "test-access-token"


class FakeLine:
    """LINE's network side for unit tests, with LINE's rules kept.

    A reply token works once (`valid_tokens` are the ones LINE issued);
    `failures` is a list of LineErrors raised, in order, before succeeding.
    """

    def __init__(self):
        self.calls = []
        self.valid_tokens = set()
        self.used_tokens = set()
        self.failures = []
        self.accepted_retry_keys = set()
        self.lock = threading.Lock()

    def issue(self, token):
        self.valid_tokens.add(token)
        return token

    def _fail(self):
        if self.failures:
            raise self.failures.pop(0)

    def reply(self, reply_token, messages):
        with self.lock:
            self.calls.append(("reply", reply_token, messages))
            self._fail()
            if reply_token not in self.valid_tokens or reply_token in self.used_tokens:
                raise classify(400, '{"message": "Invalid reply token"}')
            self.used_tokens.add(reply_token)
            return {"x-line-request-id": f"req-{len(self.calls)}"}

    def push(self, to, messages, retry_key):
        with self.lock:
            self.calls.append(("push", to, messages, retry_key))
            self._fail()
            if retry_key in self.accepted_retry_keys:
                return {"x-line-request-id": "", "retried": "1"}
            self.accepted_retry_keys.add(retry_key)
            return {"x-line-request-id": f"req-{len(self.calls)}"}

    def pushes(self):
        return [c for c in self.calls if c[0] == "push"]

    def replies(self):
        return [c for c in self.calls if c[0] == "reply"]


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start=None):
        self.now = start or time.time()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Argon2 at its smallest cost: the same code path as production, fast
    enough that tests may create and log in accounts freely."""
    from argon2 import PasswordHasher

    from handoff import agents

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(agents, "_hasher", hasher)


@pytest.fixture
def config():
    cfg = Config(
        env="development",
        line_channel_secret=SECRET,
        line_channel_access_token=TOKEN,
        line_api_host="http://127.0.0.1:9/line",
        secret_key="test-secret-key",
        testing=True,
    )
    cfg.check()
    return cfg


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def fake_line():
    return FakeLine()


@pytest.fixture
def app(config, server, fake_line):
    from bot.runtime import Runtime

    runtime = Runtime(config, server=server)
    runtime.line = fake_line
    runtime.delivery.line = fake_line
    application = create_app(config, runtime=runtime, start_workers=False)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def runtime(app):
    return app.extensions["tsunagi"]


@pytest.fixture
def client(app):
    return app.test_client()


__all__ = ["FakeLine", "Clock", "LineError", "SECRET", "TOKEN"]
