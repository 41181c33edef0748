"""Repeated failed logins are slowed, then locked (per username and address)."""

import pytest

from tests.api.conftest import AGENT_PASSWORD

WRONG = "wrong-password"


def attempt(client, username="aiko", password=None, address="10.0.0.1"):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password or WRONG},
        environ_base={"REMOTE_ADDR": address},
    )


def fail(client, times, **kwargs):
    for _ in range(times):
        assert attempt(client, **kwargs).status_code == 401


def test_four_failures_do_not_slow_the_next_attempt(client, accounts):
    fail(client, 4)

    assert attempt(client, password=AGENT_PASSWORD).status_code == 200


def test_after_five_failures_the_next_attempt_waits_with_retry_after(
    client, accounts, clock
):
    fail(client, 5)

    resp = attempt(client, password=AGENT_PASSWORD)

    assert resp.status_code == 429
    assert resp.json["error"] == "too_many_requests"
    assert resp.headers["Retry-After"] == "5"
    clock.advance(5)
    assert attempt(client, password=AGENT_PASSWORD).status_code == 200


def test_each_failure_past_five_doubles_the_wait(client, accounts, clock):
    fail(client, 5)
    clock.advance(5)
    fail(client, 1)
    clock.advance(10)
    fail(client, 1)

    assert attempt(client).headers["Retry-After"] == "20"


def test_ten_failures_lock_the_username_for_fifteen_minutes(client, accounts, clock):
    for n in range(10):
        if n >= 5:
            clock.advance(5 * 2 ** (n - 5))
        assert attempt(client).status_code == 401

    locked = attempt(client, password=AGENT_PASSWORD, address="10.9.9.9")
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(15 * 60)
    clock.advance(15 * 60 - 1)
    assert (
        attempt(client, password=AGENT_PASSWORD, address="10.9.9.9").status_code == 429
    )
    clock.advance(1)
    assert (
        attempt(client, password=AGENT_PASSWORD, address="10.9.9.9").status_code == 200
    )


def test_throttled_attempts_are_not_checked_or_counted(client, accounts, clock):
    fail(client, 5)
    for _ in range(20):
        assert attempt(client).status_code == 429

    clock.advance(5)

    assert attempt(client, password=AGENT_PASSWORD).status_code == 200


def test_one_address_guessing_many_usernames_is_slowed(client, accounts):
    for n in range(5):
        assert attempt(client, username=f"guess{n}").status_code == 401

    resp = attempt(client, username="boss", password="admin-password-1")

    assert resp.status_code == 429


def test_locked_username_is_locked_from_every_address(client, accounts):
    for n in range(5):
        assert attempt(client, address=f"10.0.0.{n}").status_code == 401

    assert (
        attempt(client, address="10.1.1.1", password=AGENT_PASSWORD).status_code == 429
    )


def test_success_forgets_the_usernames_failures(client, accounts, clock):
    fail(client, 4)
    assert attempt(client, password=AGENT_PASSWORD).status_code == 200

    fail(client, 4, address="10.0.0.2")

    assert (
        attempt(client, password=AGENT_PASSWORD, address="10.0.0.2").status_code == 200
    )


def test_failures_older_than_the_window_are_forgotten(client, accounts, clock):
    fail(client, 4)
    clock.advance(15 * 60 + 1)
    fail(client, 4)

    assert attempt(client, password=AGENT_PASSWORD).status_code == 200


@pytest.mark.parametrize("address", ["10.0.0.1"])
def test_failed_logins_are_audited_without_the_password(
    client, accounts, admin, address
):
    attempt(client, password="secret-guess-123", address=address)

    log = client.get("/api/v1/audit?action=auth.login_failed", headers=admin).json
    assert log["entries"][0]["actor"] == "aiko"
    assert log["entries"][0]["detail"] == {"address": address}
    assert "secret-guess-123" not in str(log)


def test_a_failed_login_under_an_unknown_name_is_audited_as_a_digest(
    client, accounts, admin
):
    """The name field may hold a password typed in the wrong place."""
    attempt(client, username="Hunter2-password!", password="whatever-123")

    log = client.get("/api/v1/audit?action=auth.login_failed", headers=admin).json
    assert log["entries"][0]["actor"].startswith("unknown:")
    assert "Hunter2" not in str(log)


def test_attempts_in_flight_count_before_their_password_is_checked(
    client, accounts, runtime, clock
):
    from api.throttle import Throttle

    guard = Throttle(
        runtime.redis, clock, slow_after=5, max_failures=10, window_minutes=15
    )
    for _ in range(5):
        guard.begin("aiko", "10.0.0.7")

    resp = attempt(client, password=AGENT_PASSWORD, address="10.0.0.8")

    assert resp.status_code == 429


def test_a_successful_login_does_not_count_against_its_address(client, accounts):
    for _ in range(4):
        assert (
            attempt(client, username="boss", password="admin-password-1").status_code
            == 200
        )

    fail(client, 4, username="aiko")

    assert (
        attempt(client, username="boss", password="admin-password-1").status_code == 200
    )


def test_a_name_shaped_like_a_lock_key_does_not_block_the_real_account(
    client, accounts, clock
):
    # "aiko:locked" once pointed at the key of aiko's own lock.
    fail(client, 1, username="aiko:locked", address="10.0.0.2")

    assert attempt(client, password=AGENT_PASSWORD).status_code == 200


def test_a_lock_key_shaped_name_is_throttled_like_any_other(client, accounts, clock):
    for n in range(10):
        if n >= 5:
            clock.advance(5 * 2 ** (n - 5))
        attempt(client, username="aiko:locked", address=f"10.1.0.{n}")

    assert attempt(client, username="aiko:locked").status_code == 429
    assert attempt(client, password=AGENT_PASSWORD).status_code == 200
