"""The settings document: agents read, admins write, every key validated."""

import pytest

from api.settings import get_setting, get_settings, register_setting, registered


def test_agents_read_the_whole_document(client, agent):
    resp = client.get("/api/v1/settings", headers=agent)

    assert resp.status_code == 200
    assert resp.json["api_token_ttl_hours"] == 12
    assert resp.json["login_max_failures"] == 10
    assert set(resp.json) == set(registered())


def test_agents_cannot_write(client, agent):
    resp = client.put("/api/v1/settings", json={"login_slow_after": 3}, headers=agent)

    assert resp.status_code == 403


def test_admin_changes_a_key_and_the_rest_keep_their_values(client, admin, runtime):
    resp = client.put("/api/v1/settings", json={"login_slow_after": 3}, headers=admin)

    assert resp.status_code == 200
    assert resp.json["login_slow_after"] == 3
    assert resp.json["login_max_failures"] == 10
    assert get_setting(runtime.redis, "login_slow_after") == 3


def test_unknown_key_is_422_naming_it_and_nothing_changes(client, admin):
    resp = client.put(
        "/api/v1/settings",
        json={"login_slow_after": 3, "no_such_setting": True},
        headers=admin,
    )

    assert resp.status_code == 422
    assert resp.json["field"] == "no_such_setting"
    assert client.get("/api/v1/settings", headers=admin).json["login_slow_after"] == 5


@pytest.mark.parametrize("value", [0, 721, "12", 1.5, True, "twelve", [], {}])
def test_bad_value_is_422_naming_the_key(client, admin, value):
    resp = client.put(
        "/api/v1/settings", json={"api_token_ttl_hours": value}, headers=admin
    )

    assert resp.status_code == 422
    assert resp.json["field"] == "api_token_ttl_hours"
    assert "api_token_ttl_hours" in resp.json["message"]


def test_null_returns_a_key_to_its_default(client, admin):
    client.put("/api/v1/settings", json={"login_lock_minutes": 30}, headers=admin)

    resp = client.put(
        "/api/v1/settings", json={"login_lock_minutes": None}, headers=admin
    )

    assert resp.json["login_lock_minutes"] == 15


def test_changes_are_audited_with_before_and_after(client, admin):
    client.put(
        "/api/v1/settings",
        json={"login_lock_minutes": 30, "login_slow_after": 5},
        headers=admin,
    )

    entry = client.get("/api/v1/audit?action=settings.update", headers=admin).json[
        "entries"
    ][0]

    assert entry["actor"] == "boss"
    assert entry["before"] == {"login_lock_minutes": 15}
    assert entry["after"] == {"login_lock_minutes": 30}


def test_keys_endpoint_describes_each_setting(client, agent):
    keys = client.get("/api/v1/settings/keys", headers=agent).json

    assert keys["api_token_ttl_hours"]["default"] == 12
    assert keys["api_token_ttl_hours"]["description"]


def test_stored_value_that_no_longer_validates_reads_as_default(runtime):
    runtime.redis.hset("tsunagi:settings", "login_slow_after", "5000")

    assert get_settings(runtime.redis)["login_slow_after"] == 5


def test_a_key_cannot_be_registered_twice_with_another_default():
    with pytest.raises(ValueError, match="login_slow_after"):
        register_setting("login_slow_after", 99, int)
