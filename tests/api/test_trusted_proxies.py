"""TRUSTED_PROXIES: whose X-Forwarded-For and -Proto the desk believes.

With 0 (the default) a client's forwarded headers change nothing; with N the
address the N-th proxy from the app saw is the client's, for the login
throttle, the audit and the session cookie's Secure flag.
"""

import pytest

from api import audit
from config import Config, ConfigError
from tests.api.conftest import AGENT_PASSWORD, panel_login

PROXY = "10.0.0.1"
WRONG = "wrong-password"


@pytest.fixture
def config(config, request):
    """The conftest's config with `trusted_proxies` from the test's parameter."""
    config.trusted_proxies = getattr(request, "param", 0)
    return config


def attempt(client, username, password=WRONG, forwarded=None, proto=None):
    headers = {}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    if proto:
        headers["X-Forwarded-Proto"] = proto
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": PROXY},
    )


def fail_as(client, forwarded_for, times=5):
    """`times` failures from one client, each under a new username, so that
    only the address limit (login_slow_after = 5) can stop the next one."""
    for n in range(times):
        forwarded = forwarded_for(n)
        assert attempt(client, f"nobody{n}", forwarded=forwarded).status_code == 401


def login_addresses(runtime, username):
    found, _ = audit.entries(runtime.redis, action="auth.login", target=username)
    return [entry["detail"]["address"] for entry in found]


def test_the_setting_is_read_from_the_environment():
    def read(value=None):
        environ = {"TSUNAGI_ENV": "development"}
        if value is not None:
            environ["TRUSTED_PROXIES"] = value
        return Config.from_env(environ, dotenv=False).trusted_proxies

    assert read() == 0
    assert read("2") == 2
    for bad in ("-1", "one"):
        with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
            read(bad)


def test_with_no_trusted_proxy_a_forged_forwarded_for_is_ignored(
    client, accounts, runtime
):
    fail_as(client, lambda n: f"203.0.113.{n}")

    resp = attempt(
        client, "aiko", AGENT_PASSWORD, forwarded="198.51.100.77, 203.0.113.99"
    )

    assert resp.status_code == 429  # the proxy's own address is the one slowed
    keys = sorted(runtime.redis.scan_iter("tsunagi:login_failures:addr:*"))
    assert keys == [f"tsunagi:login_failures:addr:{PROXY}"]


@pytest.mark.parametrize("config", [1], indirect=True)
def test_behind_one_proxy_each_client_is_throttled_on_its_own(
    client, accounts, runtime
):
    # The attacker writes a header of its own; the proxy appends what it saw.
    fail_as(client, lambda n: f"192.0.2.{n}, 198.51.100.7")

    locked_out = attempt(client, "aiko", AGENT_PASSWORD, forwarded="198.51.100.7")
    other_client = attempt(client, "aiko", AGENT_PASSWORD, forwarded="203.0.113.9")

    assert locked_out.status_code == 429
    assert other_client.status_code == 200
    assert login_addresses(runtime, "aiko") == ["203.0.113.9"]
    keys = sorted(runtime.redis.scan_iter("tsunagi:login_failures:addr:*"))
    assert keys == ["tsunagi:login_failures:addr:198.51.100.7"]


@pytest.mark.parametrize("config", [2], indirect=True)
def test_behind_two_proxies_the_address_the_outer_one_saw_counts(
    client, accounts, runtime
):
    resp = attempt(
        client,
        "aiko",
        AGENT_PASSWORD,
        forwarded="192.0.2.66, 203.0.113.9, 10.0.0.2",
    )

    assert resp.status_code == 200
    assert login_addresses(runtime, "aiko") == ["203.0.113.9"]


@pytest.mark.parametrize("config", [1], indirect=True)
def test_a_panel_login_behind_a_proxy_is_audited_with_the_clients_address(
    client, accounts, runtime
):
    client.environ_base.update(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.50")

    panel_login(client, "aiko", AGENT_PASSWORD)

    assert login_addresses(runtime, "aiko") == ["203.0.113.50"]


def panel_cookie(client, proto):
    client.environ_base.update(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO=proto)
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf_token"]
    resp = client.post(
        "/login",
        data={"username": "aiko", "password": AGENT_PASSWORD, "csrf_token": csrf},
    )
    assert resp.status_code == 302
    assert not resp.headers["Location"].startswith("http:")
    return resp.headers["Set-Cookie"]


@pytest.mark.parametrize("config", [1], indirect=True)
def test_behind_a_tls_proxy_the_session_cookie_is_secure(client, accounts):
    assert "Secure" in panel_cookie(client, "https")


def test_with_no_trusted_proxy_a_forged_https_does_not_mark_the_cookie(
    client, accounts
):
    assert "Secure" not in panel_cookie(client, "https")
