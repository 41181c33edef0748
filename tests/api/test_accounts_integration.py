"""Accounts and the API on a real desk: redis-server and gunicorn's workers."""

import re
import subprocess

import pytest
import requests

from tests.integration.desk import BIN, ROOT, Desk

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "integration-admin-pw"


class AccountsDesk(Desk):
    """A desk started with a bootstrap admin, one SECRET_KEY for every process."""

    def env(self) -> dict:
        return {
            **super().env(),
            "ADMIN_USERNAME": "root",
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "SECRET_KEY": "integration-secret-key",
        }

    def flask(self, *args, stdin=""):
        return subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args],
            cwd=ROOT,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    running = AccountsDesk(tmp_path_factory.mktemp("accounts"))
    try:
        running.start_redis()
        running.start_web()
        yield running
    finally:
        running.stop()


def token(desk, username, password):
    resp = requests.post(
        f"{desk.web}/api/v1/auth/token",
        json={"username": username, "password": password},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def test_bootstrap_admin_manages_agents_and_cli_sees_them(desk):
    admin = token(desk, "root", ADMIN_PASSWORD)
    created = requests.post(
        f"{desk.web}/api/v1/agents",
        json={
            "username": "hana",
            "password": "hana-password",
            "role": "agent",
            "display_name": "Hana",
        },
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201

    listed = desk.flask("agents", "list")
    reset = desk.flask(
        "agents", "reset-password", "hana", "--password-stdin", stdin="hana-new-pw-1\n"
    )

    assert re.search(r"^hana\tagent\tactive", listed.stdout, re.M), listed.stderr
    assert reset.returncode == 0, reset.stderr
    assert token(desk, "hana", "hana-new-pw-1")


def test_audit_pages_through_a_real_stream(desk):
    admin = token(desk, "root", ADMIN_PASSWORD)
    for _ in range(4):
        token(desk, "root", ADMIN_PASSWORD)

    seen, cursor = [], None
    while True:
        params = {"limit": 2, "action": "auth.login"}
        if cursor:
            params["before"] = cursor
        page = requests.get(
            f"{desk.web}/api/v1/audit", params=params, headers=admin, timeout=10
        ).json()
        seen += [e["id"] for e in page["entries"]]
        cursor = page["next"]
        if not cursor:
            break

    assert len(seen) == len(set(seen)) >= 5
    assert seen == sorted(
        seen, key=lambda i: tuple(map(int, i.split("-"))), reverse=True
    )


def test_panel_session_holds_across_gunicorn_workers(desk):
    browser = requests.Session()
    page = browser.get(f"{desk.web}/login", timeout=10).text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]

    login = browser.post(
        f"{desk.web}/login",
        data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf},
        allow_redirects=False,
        timeout=10,
    )

    assert login.status_code == 302
    for _ in range(10):
        assert browser.get(f"{desk.web}/", timeout=10).status_code == 200


def test_failed_logins_are_throttled_across_workers(desk):
    # Last in the module: it slows every login from 127.0.0.1 for a while.
    for _ in range(5):
        resp = requests.post(
            f"{desk.web}/api/v1/auth/token",
            json={"username": "nobody-here", "password": "wrong-password"},
            timeout=10,
        )
        assert resp.status_code == 401

    resp = requests.post(
        f"{desk.web}/api/v1/auth/token",
        json={"username": "nobody-here", "password": "wrong-password"},
        timeout=10,
    )

    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
