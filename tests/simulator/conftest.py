"""Fixtures for the simulator: the standalone app, a clock, a live server and a
webhook receiver that answers what the test scripts.
"""

import json
import threading

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from simulator.__main__ import create_app
from simulator.state import Settings
from tests.conftest import Clock

SECRET = "sim-channel-secret"
TOKEN = "sim-access-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Served:
    """A WSGI app served on a free port in a thread; `url` is its base."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Receiver:
    """A stand-in desk `/callback`: records deliveries, answers scripted codes."""

    def __init__(self):
        self.deliveries = []
        self.statuses = []
        self.arrived = threading.Condition()
        app = Flask("receiver")
        app.add_url_rule("/callback", "callback", self._callback, methods=["POST"])
        self.served = Served(app)
        self.url = self.served.url + "/callback"

    def _callback(self):
        with self.arrived:
            self.deliveries.append(
                {
                    "raw": request.get_data(),
                    "signature": request.headers.get("x-line-signature"),
                    "body": json.loads(request.get_data()),
                }
            )
            status = self.statuses.pop(0) if self.statuses else 200
            self.arrived.notify_all()
        return "", status

    def wait_for(self, count, timeout=10.0):
        """The deliveries once there are `count` of them (fails after `timeout`)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert len(self.deliveries) >= count, self.deliveries
            return list(self.deliveries)


@pytest.fixture
def clock():
    return Clock(1_796_000_000.0)


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.served.close()


@pytest.fixture
def settings(receiver):
    return Settings(
        channel_secret=SECRET,
        access_token=TOKEN,
        webhook_url=receiver.url,
        redelivery_delays=(0.01, 0.01, 0.01),
        webhook_timeout=2.0,
    )


@pytest.fixture
def sim_app(settings, clock):
    app = create_app(settings)
    sim = app.extensions["simulator"]
    sim.clock = clock
    app.config["TESTING"] = True
    yield app
    sim.webhooks.stop()


@pytest.fixture
def sim(sim_app):
    return sim_app.extensions["simulator"]


@pytest.fixture
def client(sim_app):
    return sim_app.test_client()


@pytest.fixture
def live(sim_app):
    """The simulator served over HTTP, for the SDK."""
    served = Served(sim_app)
    yield served
    served.close()


def make_user(client, name="Aiko", follow=True) -> str:
    response = client.post(
        "/simulator/api/users", json={"displayName": name, "follow": follow}
    )
    assert response.status_code == 201, response.json
    return response.json["userId"]


def text(body="hi"):
    return {"type": "text", "text": body}
