"""API tokens: issue, expiry, revocation, and what ends them."""

from datetime import UTC, datetime

from tests.api.conftest import AGENT_PASSWORD, bearer, token_for


def test_token_login_answers_token_and_expiry_twelve_hours_ahead(
    client, accounts, clock
):
    resp = client.post(
        "/api/v1/auth/token", json={"username": "aiko", "password": AGENT_PASSWORD}
    )

    assert resp.status_code == 200
    assert set(resp.json) == {"token", "expires_at"}
    expires = datetime.strptime(resp.json["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=UTC).timestamp() == clock.now + 12 * 3600
    assert (
        client.get("/api/v1/auth/me", headers=bearer(resp.json["token"])).json[
            "username"
        ]
        == "aiko"
    )


def test_token_is_stored_only_as_its_hash(client, accounts, runtime):
    token = token_for(client, "aiko", AGENT_PASSWORD)

    keys = runtime.redis.keys("tsunagi:token:*")
    assert len(keys) == 1
    assert token not in keys[0]
    assert token not in str(runtime.redis.hgetall(keys[0]))


def test_unknown_user_and_wrong_password_get_the_same_401(client, accounts):
    wrong = client.post(
        "/api/v1/auth/token", json={"username": "aiko", "password": "not-her-password"}
    )
    unknown = client.post(
        "/api/v1/auth/token", json={"username": "nobody", "password": AGENT_PASSWORD}
    )

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_username_is_matched_case_insensitively(client, accounts):
    resp = client.post(
        "/api/v1/auth/token", json={"username": " Aiko ", "password": AGENT_PASSWORD}
    )

    assert resp.status_code == 200


def test_expired_token_is_refused(client, accounts, clock):
    token = token_for(client, "aiko", AGENT_PASSWORD)
    clock.advance(12 * 3600 - 1)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    clock.advance(1)
    resp = client.get("/api/v1/auth/me", headers=bearer(token))

    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"


def test_token_lifetime_follows_the_setting(client, accounts, clock, admin):
    client.put("/api/v1/settings", json={"api_token_ttl_hours": 1}, headers=admin)
    token = token_for(client, "aiko", AGENT_PASSWORD)

    clock.advance(3600)

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_revoked_token_is_refused_and_others_keep_working(client, accounts):
    first = token_for(client, "aiko", AGENT_PASSWORD)
    second = token_for(client, "aiko", AGENT_PASSWORD)

    resp = client.delete("/api/v1/auth/token", headers=bearer(first))

    assert resp.status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(second)).status_code == 200


def test_disabling_an_account_ends_its_tokens(client, accounts, admin):
    token = token_for(client, "aiko", AGENT_PASSWORD)

    client.delete("/api/v1/agents/aiko", headers=admin)

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    again = client.post(
        "/api/v1/auth/token", json={"username": "aiko", "password": AGENT_PASSWORD}
    )
    assert again.status_code == 401


def test_password_reset_by_admin_ends_the_agents_tokens(client, accounts, admin):
    token = token_for(client, "aiko", AGENT_PASSWORD)

    resp = client.patch(
        "/api/v1/agents/aiko", json={"password": "a-brand-new-one"}, headers=admin
    )

    assert resp.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert token_for(client, "aiko", "a-brand-new-one")


def test_own_password_change_needs_current_password_and_keeps_caller_in(
    client, accounts
):
    token = token_for(client, "aiko", AGENT_PASSWORD)
    other = token_for(client, "aiko", AGENT_PASSWORD)

    refused = client.patch(
        "/api/v1/auth/me",
        json={"password": "another-password", "current_password": "wrong-one!!"},
        headers=bearer(token),
    )
    changed = client.patch(
        "/api/v1/auth/me",
        json={"password": "another-password", "current_password": AGENT_PASSWORD},
        headers=bearer(token),
    )

    assert refused.status_code == 422
    assert refused.json["field"] == "current_password"
    assert changed.status_code == 200
    fresh = changed.json["token"]["token"]
    assert client.get("/api/v1/auth/me", headers=bearer(fresh)).status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(other)).status_code == 401


def test_malformed_authorization_header_is_401(client, accounts):
    for header in ("Basic Zm9vOmJhcg==", "Bearer", "Bearer    ", "token"):
        resp = client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert resp.status_code == 401, header
        assert resp.json["error"] == "unauthorized"


def test_unknown_token_is_401(client, accounts):
    resp = client.get("/api/v1/auth/me", headers=bearer("x" * 43))

    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"


def test_revoking_needs_a_bearer_token(client, accounts):
    resp = client.delete("/api/v1/auth/token")

    assert resp.status_code == 401


def test_guessing_the_current_password_is_throttled_like_logins(client, accounts):
    token = token_for(client, "aiko", AGENT_PASSWORD)
    guess = {"password": "another-password", "current_password": "a-guess-0000"}
    for _ in range(5):
        resp = client.patch("/api/v1/auth/me", json=guess, headers=bearer(token))
        assert resp.status_code == 422

    resp = client.patch("/api/v1/auth/me", json=guess, headers=bearer(token))

    assert resp.status_code == 429
