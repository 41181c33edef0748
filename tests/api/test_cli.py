"""`flask agents create|list|disable|reset-password`."""

import pytest

from handoff.agents import Agents


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


@pytest.fixture
def store(runtime):
    return Agents(runtime.redis)


def test_create_reads_the_password_from_stdin(cli, store):
    result = cli.invoke(
        args=[
            "agents",
            "create",
            "kenji",
            "--role",
            "admin",
            "--display-name",
            "Kenji T",
            "--password-stdin",
        ],
        input="kenji-password\n",
    )

    assert result.exit_code == 0, result.output
    assert store.get("kenji")["role"] == "admin"
    assert store.get("kenji")["display_name"] == "Kenji T"
    assert store.authenticate("kenji", "kenji-password")


def test_create_prompts_twice_for_the_password(cli, store):
    result = cli.invoke(
        args=["agents", "create", "kenji"], input="kenji-password\nkenji-password\n"
    )

    assert result.exit_code == 0, result.output
    assert "kenji-password" not in result.output
    assert store.authenticate("kenji", "kenji-password")["role"] == "agent"


def test_create_refuses_a_short_password(cli, store):
    result = cli.invoke(
        args=["agents", "create", "kenji", "--password-stdin"], input="short\n"
    )

    assert result.exit_code != 0
    assert "password" in result.output
    assert store.get("kenji") is None


def test_create_refuses_a_taken_username(cli, accounts):
    result = cli.invoke(
        args=["agents", "create", "aiko", "--password-stdin"], input="long-password\n"
    )

    assert result.exit_code != 0
    assert "exists" in result.output


def test_list_shows_each_account(cli, accounts):
    accounts.disable("aiko")

    result = cli.invoke(args=["agents", "list"])

    lines = result.output.splitlines()
    assert lines[0].split("\t")[:3] == ["aiko", "agent", "disabled"]
    assert lines[1].split("\t")[:3] == ["boss", "admin", "active"]


def test_disable_stops_logins(cli, accounts):
    result = cli.invoke(args=["agents", "disable", "aiko"])

    assert result.exit_code == 0
    assert accounts.authenticate("aiko", "agent-password-1") is None


def test_disable_of_unknown_account_fails(cli, accounts):
    result = cli.invoke(args=["agents", "disable", "ghost"])

    assert result.exit_code != 0
    assert "ghost" in result.output


def test_reset_password_replaces_it(cli, accounts):
    result = cli.invoke(
        args=["agents", "reset-password", "boss", "--password-stdin"],
        input="fresh-admin-pw\n",
    )

    assert result.exit_code == 0, result.output
    assert accounts.authenticate("boss", "admin-password-1") is None
    assert accounts.authenticate("boss", "fresh-admin-pw")


def test_cli_changes_are_audited_as_cli(cli, accounts, client, admin):
    cli.invoke(args=["agents", "disable", "aiko"])

    entry = client.get("/api/v1/audit?action=agent.disable", headers=admin).json[
        "entries"
    ][0]

    assert entry["actor"] == "cli"
    assert entry["target"] == "aiko"


def test_the_last_active_admin_cannot_be_disabled(cli, accounts):
    result = cli.invoke(args=["agents", "disable", "boss"])

    assert result.exit_code != 0
    assert "last active admin" in result.output
    assert accounts.get("boss")["active"] is True


def test_enable_lets_a_disabled_account_log_in_again(cli, accounts):
    cli.invoke(args=["agents", "disable", "aiko"])

    result = cli.invoke(args=["agents", "enable", "aiko"])

    assert result.exit_code == 0
    assert accounts.authenticate("aiko", "agent-password-1")
