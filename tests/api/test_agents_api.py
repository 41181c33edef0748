"""Managing accounts through /api/v1/agents (admins only)."""

import pytest

from tests.api.conftest import AGENT_PASSWORD, panel_login, token_for

NEW = {
    "username": "kenji",
    "password": "kenji-password",
    "role": "agent",
    "display_name": "Kenji",
}


def test_admin_creates_an_agent_who_can_then_log_in(client, admin):
    resp = client.post("/api/v1/agents", json=NEW, headers=admin)

    assert resp.status_code == 201
    assert resp.json == {
        **resp.json,
        "username": "kenji",
        "role": "agent",
        "display_name": "Kenji",
        "language": "ja",
        "active": True,
    }
    assert "password_hash" not in resp.json
    assert token_for(client, "kenji", "kenji-password")


def test_list_shows_every_account_without_hashes(client, admin):
    resp = client.get("/api/v1/agents", headers=admin)

    assert [a["username"] for a in resp.json["agents"]] == ["aiko", "boss"]
    assert "hash" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"password": "nine-char"}, "password"),
        ({"username": "No Spaces"}, "username"),
        ({"username": "ab"}, "username"),
        ({"role": "owner"}, "role"),
        ({"display_name": "  "}, "display_name"),
        ({"language": "fr"}, "language"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_new_account_is_422_naming_the_field(client, admin, change, field):
    resp = client.post("/api/v1/agents", json={**NEW, **change}, headers=admin)

    assert resp.status_code == 422
    assert resp.json["field"] == field
    assert client.get("/api/v1/agents/kenji", headers=admin).status_code == 404


def test_missing_field_is_422_naming_it(client, admin):
    body = {k: v for k, v in NEW.items() if k != "display_name"}

    resp = client.post("/api/v1/agents", json=body, headers=admin)

    assert resp.status_code == 422
    assert resp.json["field"] == "display_name"


def test_agents_cannot_manage_accounts(client, agent):
    assert client.post("/api/v1/agents", json=NEW, headers=agent).status_code == 403
    assert (
        client.patch(
            "/api/v1/agents/aiko", json={"role": "admin"}, headers=agent
        ).status_code
        == 403
    )
    assert client.delete("/api/v1/agents/boss", headers=agent).status_code == 403


def test_patch_changes_the_given_fields_only(client, admin):
    resp = client.patch(
        "/api/v1/agents/aiko",
        json={"display_name": "Aiko S.", "language": "en"},
        headers=admin,
    )

    assert resp.status_code == 200
    assert resp.json["display_name"] == "Aiko S."
    assert resp.json["language"] == "en"
    assert resp.json["role"] == "agent"


def test_promoted_agent_reaches_admin_routes(client, admin, agent):
    client.patch("/api/v1/agents/aiko", json={"role": "admin"}, headers=admin)

    assert client.get("/api/v1/agents", headers=agent).status_code == 200


def test_bad_patch_changes_nothing(client, admin):
    resp = client.patch(
        "/api/v1/agents/aiko",
        json={"display_name": "New", "password": "short"},
        headers=admin,
    )

    assert resp.status_code == 422
    assert resp.json["field"] == "password"
    assert client.get("/api/v1/agents/aiko", headers=admin).json["display_name"] == (
        "Aiko"
    )


def test_patch_of_unknown_account_is_404(client, admin):
    resp = client.patch("/api/v1/agents/ghost", json={"role": "admin"}, headers=admin)

    assert resp.status_code == 404


def test_last_admin_cannot_be_demoted_or_disabled(client, admin):
    demote = client.patch("/api/v1/agents/boss", json={"role": "agent"}, headers=admin)
    disable = client.delete("/api/v1/agents/boss", headers=admin)

    assert demote.status_code == disable.status_code == 409
    assert client.get("/api/v1/agents/boss", headers=admin).json["role"] == "admin"


def test_an_invalid_role_for_the_last_admin_is_a_422_naming_role(client, admin):
    resp = client.patch("/api/v1/agents/boss", json={"role": "owner"}, headers=admin)

    assert resp.status_code == 422
    assert resp.json["field"] == "role"


def test_an_admin_can_be_disabled_while_another_remains(client, admin):
    client.post(
        "/api/v1/agents",
        json={**NEW, "username": "ren", "role": "admin"},
        headers=admin,
    )

    assert client.delete("/api/v1/agents/boss", headers=admin).status_code == 204
    assert client.get("/api/v1/agents", headers=admin).status_code == 401


def test_delete_disables_and_keeps_the_account(client, admin):
    resp = client.delete("/api/v1/agents/aiko", headers=admin)

    assert resp.status_code == 204
    assert client.get("/api/v1/agents/aiko", headers=admin).json["active"] is False
    assert client.delete("/api/v1/agents/aiko", headers=admin).status_code == 204


def test_disabled_account_can_be_enabled_again(client, admin):
    client.delete("/api/v1/agents/aiko", headers=admin)

    resp = client.patch("/api/v1/agents/aiko", json={"active": True}, headers=admin)

    assert resp.json["active"] is True
    assert token_for(client, "aiko", AGENT_PASSWORD)


def test_account_changes_are_audited(client, admin):
    client.post("/api/v1/agents", json=NEW, headers=admin)
    client.patch("/api/v1/agents/kenji", json={"role": "admin"}, headers=admin)
    client.delete("/api/v1/agents/kenji", headers=admin)

    log = client.get("/api/v1/audit?target=kenji", headers=admin).json["entries"]

    assert [e["action"] for e in log] == [
        "agent.disable",
        "agent.update",
        "agent.create",
    ]
    assert {e["actor"] for e in log} == {"boss"}
    assert log[1]["before"] == {"role": "agent"}
    assert log[1]["after"] == {"role": "admin"}
    assert "kenji-password" not in str(log)


def test_agent_changes_own_display_name_and_language(client, agent):
    resp = client.patch(
        "/api/v1/auth/me",
        json={"display_name": "あいこ", "language": "en"},
        headers=agent,
    )

    assert resp.status_code == 200
    assert resp.json["display_name"] == "あいこ"


def test_agent_cannot_change_own_role(client, agent):
    resp = client.patch("/api/v1/auth/me", json={"role": "admin"}, headers=agent)

    assert resp.status_code == 422
    assert resp.json["field"] == "role"


def test_display_name_is_escaped_on_pages(client, accounts):
    accounts.update("aiko", display_name="<script>alert(1)</script>")
    panel_login(client, "aiko", AGENT_PASSWORD)

    page = client.get("/").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
