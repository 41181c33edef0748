"""Where the simulator exists: development without LINE credentials only.
In production its routes do not exist at all."""

import fakeredis
import pytest

import simulator
from app import create_app
from bot.runtime import Runtime
from config import SIMULATOR_LINE_PATH, Config


def simulator_rules(app) -> list[str]:
    return [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/simulator")]


def build(**fields):
    """The desk for `fields`, on a Redis of its own (never the process-wide one)."""
    config = Config(**fields)
    config.check()
    runtime = Runtime(config, server=fakeredis.FakeServer())
    return config, create_app(config, runtime=runtime, start_workers=False)


def test_production_desk_has_no_simulator_routes():
    config, app = build(
        env="production",
        line_channel_secret="secret",
        line_channel_access_token="token",
        secret_key="key",
        redis_url="redis://127.0.0.1:1/0",
    )

    assert config.simulator is False
    assert simulator_rules(app) == []
    assert "simulator" not in app.extensions
    client = app.test_client()
    assert client.get("/simulator").status_code == 404
    assert client.get("/simulator/api/stats").status_code == 404
    assert client.post("/simulator/line/v2/bot/message/push").status_code == 404


def test_init_app_refuses_production_even_when_asked():
    config = Config(
        env="production",
        line_channel_secret="secret",
        line_channel_access_token="token",
        secret_key="key",
        redis_url="redis://127.0.0.1:1/0",
    )
    config.check()
    config.simulator = True
    runtime = Runtime(config, server=fakeredis.FakeServer())
    app = create_app(config, runtime=runtime, start_workers=False)

    assert simulator_rules(app) == []
    assert simulator.init_app(app, config) is None


def test_development_with_line_credentials_has_no_simulator():
    config, app = build(
        env="development",
        line_channel_secret="secret",
        line_channel_access_token="token",
    )
    assert config.simulator is False
    assert simulator_rules(app) == []


def test_development_without_credentials_mounts_the_simulator():
    config, app = build(env="development", port=8123)

    rules = simulator_rules(app)
    assert "/simulator" in rules
    assert f"{SIMULATOR_LINE_PATH}/v2/bot/message/reply" in rules
    assert "/simulator/api/users" in rules
    sim = app.extensions["simulator"]
    assert sim.settings.webhook_url == "http://127.0.0.1:8123/callback"
    assert sim.settings.access_token == config.line_channel_access_token
    assert sim.settings.channel_secret == config.line_channel_secret
    assert config.line_api_host == f"http://127.0.0.1:8123{SIMULATOR_LINE_PATH}"
    sim.webhooks.stop()


@pytest.mark.parametrize("path", ["/simulator", "/simulator/api/stats"])
def test_simulator_pages_need_no_login_in_development(path):
    _, app = build(env="development")
    response = app.test_client().get(path)
    assert response.status_code == 200
    app.extensions["simulator"].webhooks.stop()
