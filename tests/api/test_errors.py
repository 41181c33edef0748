"""Errors under /api are JSON `{"error", "message", "field"?}`, never a trace."""

import pytest

import api.audit_routes
from tests.api.conftest import AGENT_PASSWORD


def assert_json_error(resp, status, code=None):
    assert resp.status_code == status
    assert resp.mimetype == "application/json"
    body = resp.json
    assert set(body) <= {"error", "message", "field"}
    assert body["error"] and body["message"]
    assert "Traceback" not in resp.get_data(as_text=True)
    if code:
        assert body["error"] == code


@pytest.mark.parametrize(
    "data, content_type",
    [("{not json", "application/json"), ("[1, 2]", "application/json"), ("", None)],
)
def test_400_for_a_body_that_is_not_a_json_object(client, data, content_type):
    resp = client.post("/api/v1/auth/token", data=data, content_type=content_type)

    assert_json_error(resp, 400, "bad_request")


def test_401_without_credentials(client):
    assert_json_error(client.get("/api/v1/agents"), 401, "unauthorized")


def test_403_for_a_role_too_low(client, agent):
    assert_json_error(client.get("/api/v1/agents", headers=agent), 403, "forbidden")


def test_404_for_an_unknown_api_path(client):
    assert_json_error(client.get("/api/v1/no/such/thing"), 404, "not_found")


def test_404_for_an_unknown_account(client, admin):
    assert_json_error(client.get("/api/v1/agents/ghost", headers=admin), 404)


def test_405_names_the_allowed_methods(client):
    resp = client.put("/api/v1/openapi.json")

    assert_json_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


def test_409_for_a_taken_username(client, admin):
    body = {
        "username": "aiko",
        "password": "long-enough-pw",
        "role": "agent",
        "display_name": "Again",
    }

    resp = client.post("/api/v1/agents", json=body, headers=admin)

    assert_json_error(resp, 409)
    assert resp.json["field"] == "username"


def test_413_for_a_body_over_the_limit(client):
    resp = client.post(
        "/api/v1/auth/token",
        data=b'{"username": "' + b"a" * (1024 * 1024 + 10) + b'"}',
        content_type="application/json",
    )

    assert_json_error(resp, 413, "payload_too_large")


def test_422_names_the_field(client, admin):
    body = {
        "username": "kenji",
        "password": "short",
        "role": "agent",
        "display_name": "Kenji",
    }

    resp = client.post("/api/v1/agents", json=body, headers=admin)

    assert_json_error(resp, 422, "invalid")
    assert resp.json["field"] == "password"


def test_429_after_too_many_failures(client, accounts):
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "aiko", "password": "x"})

    resp = client.post(
        "/api/v1/auth/token", json={"username": "aiko", "password": AGENT_PASSWORD}
    )

    assert_json_error(resp, 429, "too_many_requests")
    assert resp.headers["Retry-After"]


def test_500_hides_the_exception(client, admin, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.audit_routes, "entries", broken)

    resp = client.get("/api/v1/audit", headers=admin)

    assert_json_error(resp, 500, "internal_error")
    assert "secret internals" not in resp.get_data(as_text=True)
    assert "secret internals" in caplog.text


def test_pages_outside_the_api_keep_html_errors(client):
    resp = client.get("/no/such/page")

    assert resp.status_code == 404
    assert resp.mimetype == "text/html"


def test_401_tells_the_client_to_send_a_bearer_token(client):
    resp = client.get("/api/v1/auth/me")

    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_answers_are_not_cached_and_pages_cannot_be_framed(client, accounts):
    from tests.api.conftest import AGENT_PASSWORD

    token = client.post(
        "/api/v1/auth/token", json={"username": "aiko", "password": AGENT_PASSWORD}
    )
    page = client.get("/login")

    assert token.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_503_when_redis_is_unreachable(client, admin, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down(*args, **kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(api.audit_routes, "entries", down)

    resp = client.get("/api/v1/audit", headers=admin)

    assert_json_error(resp, 503, "unavailable")
    assert resp.headers["Retry-After"]
