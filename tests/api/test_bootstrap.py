"""The bootstrap admin from ADMIN_USERNAME / ADMIN_PASSWORD."""

import logging

import pytest

from app import create_app
from bot.runtime import Runtime
from config import ConfigError
from handoff.agents import Agents, ensure_admin

BOOTSTRAP_PASSWORD = "bootstrap-pw-1"


def build(config, server, password=None):
    config.admin_username = "root"
    config.admin_password = password or BOOTSTRAP_PASSWORD
    runtime = Runtime(config, server=server)
    return create_app(config, runtime=runtime, start_workers=False), runtime


def test_start_creates_the_admin_when_none_exists(config, server, caplog):
    caplog.set_level(logging.INFO)

    _, runtime = build(config, server)

    account = Agents(runtime.redis).authenticate("root", "bootstrap-pw-1")
    assert account["role"] == "admin"
    assert "bootstrap admin root created" in caplog.text
    assert "bootstrap-pw-1" not in caplog.text


def test_later_starts_leave_the_admin_alone(config, server, caplog):
    build(config, server)
    caplog.clear()
    caplog.set_level(logging.INFO)

    _, runtime = build(config, server, password="a-changed-password")

    store = Agents(runtime.redis)
    assert store.authenticate("root", "bootstrap-pw-1")
    assert store.authenticate("root", "a-changed-password") is None
    assert "bootstrap" not in caplog.text


def test_no_admin_is_created_when_another_admin_exists(config, server):
    runtime = Runtime(config, server=server)
    Agents(runtime.redis).create("boss", "admin-password-1", "admin", "Boss")

    build(config, server)

    assert Agents(runtime.redis).get("root") is None


def test_an_agent_with_that_username_is_not_promoted(config, server, caplog):
    runtime = Runtime(config, server=server)
    Agents(runtime.redis).create("root", "agent-password-1", "agent", "Root")

    assert ensure_admin(runtime.redis, "root", "bootstrap-pw-1") is None
    assert Agents(runtime.redis).get("root")["role"] == "agent"
    assert "taken by a non-admin" in caplog.text


def test_bootstrap_admin_can_log_in_to_the_api(config, server):
    app, _ = build(config, server)

    resp = app.test_client().post(
        "/api/v1/auth/token", json={"username": "root", "password": "bootstrap-pw-1"}
    )

    assert resp.status_code == 200


def test_a_short_admin_password_stops_the_start_naming_the_variable(config, server):
    with pytest.raises(ConfigError, match="ADMIN_PASSWORD"):
        build(config, server, password="short")


def test_a_second_process_starting_at_once_stays_quiet(config, server, caplog):
    runtime = Runtime(config, server=server)
    runtime.redis.sadd("tsunagi:accounts", "root")

    assert ensure_admin(runtime.redis, "root", BOOTSTRAP_PASSWORD) is None
    assert "taken" not in caplog.text
