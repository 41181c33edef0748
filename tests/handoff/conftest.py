"""A desk with a hand-moved clock, agents with bearer tokens, and a user who writes.

Everything runs the real code on fakeredis: webhooks are signed and posted,
then drained as a worker would; only LINE's network side is `FakeLine`.
"""

import pytest

from api.tokens import Tokens
from app import create_app
from bot import jobs
from handoff.agents import Agents
from tests.conftest import SECRET, Clock
from tests.helpers import body_of, sign, text_event

USER = "U" + "a" * 32
PASSWORD = "a-long-password-1"


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)


@pytest.fixture
def app(config, server, fake_line, clock):
    from bot.runtime import Runtime

    runtime = Runtime(config, server=server, clock=clock)
    runtime.line = fake_line
    runtime.delivery.line = fake_line
    application = create_app(config, runtime=runtime, start_workers=False)
    application.config["TESTING"] = True
    application.config["TSUNAGI_CLOCK"] = clock
    return application


class Desk:
    """The people and the user of one test desk."""

    def __init__(self, app, runtime, fake_line, clock):
        self.app = app
        self.runtime = runtime
        self.line = fake_line
        self.clock = clock
        self.client = app.test_client()
        self.agents = Agents(runtime.redis, clock=clock)
        self.headers = {}

    def account(self, username, role="agent"):
        """Create an account and keep its bearer headers under its name."""
        self.agents.create(username, PASSWORD, role, username.title())
        epoch = self.agents.epoch(username)
        token = Tokens(self.runtime.redis, self.clock).issue(username, epoch, 86400)
        self.headers[username] = {"Authorization": f"Bearer {token['token']}"}
        return self.headers[username]

    def say(self, text="hello", user_id=USER, **kwargs):
        """The user writes; the event is handled as a worker would. Returns it."""
        token = self.line.issue(f"rt-{len(self.line.valid_tokens)}-{user_id[-4:]}")
        event = text_event(user_id, text, reply_token=token, **kwargs)
        event["timestamp"] = int(self.clock() * 1000)
        return self.deliver(event)

    def postback(self, data="action=handoff", user_id=USER):
        event = text_event(user_id, "")
        event.pop("message")
        event["type"] = "postback"
        event["postback"] = {"data": data}
        event["replyToken"] = self.line.issue(f"rt-pb-{len(self.line.valid_tokens)}")
        event["timestamp"] = int(self.clock() * 1000)
        return self.deliver(event)

    def deliver(self, event):
        body = body_of(event)
        response = self.client.post(
            "/callback", data=body, headers={"X-Line-Signature": sign(SECRET, body)}
        )
        assert response.status_code == 200
        jobs.drain_chat(self.runtime, event["source"].get("userId"))
        return event

    def api(self, method, path, who, **kwargs):
        call = getattr(self.client, method)
        return call(f"/api/v1{path}", headers=self.headers[who], **kwargs)

    def conversation(self, user_id=USER):
        from handoff.conversations import Conversations

        return Conversations(self.runtime.redis).open_for(user_id)


@pytest.fixture
def desk(app, runtime, fake_line, clock):
    desk = Desk(app, runtime, fake_line, clock)
    desk.account("aiko")
    desk.account("ben")
    desk.account("boss", "admin")
    return desk
