"""Accounts and logged-in callers for the API tests."""

import pytest

from handoff.agents import Agents
from tests.conftest import Clock

ADMIN_PASSWORD = "admin-password-1"
AGENT_PASSWORD = "agent-password-1"


@pytest.fixture
def cheap_hashing(cheap_password_hashing):
    """Kept for test packages that import it: tests/conftest.py now makes
    password hashing cheap for every test."""


@pytest.fixture
def clock(app):
    """The clock the app's auth code reads; tests move it by hand."""
    now = Clock(1_800_000_000.0)
    app.config["TSUNAGI_CLOCK"] = now
    return now


@pytest.fixture
def accounts(runtime, clock):
    store = Agents(runtime.redis, clock=clock)
    store.create("boss", ADMIN_PASSWORD, "admin", "The Boss", "en")
    store.create("aiko", AGENT_PASSWORD, "agent", "Aiko", "ja")
    return store


def token_for(client, username, password) -> str:
    resp = client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )
    assert resp.status_code == 200, resp.json
    return resp.json["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(client, accounts):
    """Headers of a logged-in admin."""
    return bearer(token_for(client, "boss", ADMIN_PASSWORD))


@pytest.fixture
def agent(client, accounts):
    """Headers of a logged-in agent."""
    return bearer(token_for(client, "aiko", AGENT_PASSWORD))


def panel_login(client, username, password):
    """Log in through the panel's form, as a browser does; returns the CSRF token."""
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf_token"]
    resp = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf},
    )
    assert resp.status_code == 302, resp.data
    with client.session_transaction() as session:
        return session["csrf_token"]
