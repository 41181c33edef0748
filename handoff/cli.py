"""`flask --app app agents ...`: manage accounts from a shell.

For the first admin on a desk without ADMIN_USERNAME, for locked-out admins,
and for scripts. Passwords are prompted (hidden, asked twice) or read from
stdin with `--password-stdin`, never taken as an argument where `ps` and
shell history would keep them.
"""

import logging
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from api.audit import audit
from handoff.agents import (
    LANGUAGES,
    ROLES,
    AccountExists,
    Agents,
    InvalidAccount,
)

log = logging.getLogger(__name__)

agents_cli = AppGroup("agents", help="Manage agent and admin accounts.")
ACTOR = "cli"


def _agents() -> Agents:
    runtime = current_app.extensions["tsunagi"]
    if runtime.config.embedded and not current_app.config.get("TESTING"):
        click.echo(
            "warning: REDIS_URL is not set; this command works on a private "
            "in-process store and its changes end with it",
            err=True,
        )
    return Agents(runtime.redis)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _fail(message: str):
    raise click.ClickException(message)


@agents_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
@click.option("--display-name", help="Shown to colleagues (default: the username).")
@click.option(
    "--language", type=click.Choice(LANGUAGES), default="ja", show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def create(username, role, display_name, language, password_stdin):
    """Create an account."""
    password = _password(password_stdin)
    try:
        account = _agents().create(
            username, password, role, display_name or username, language
        )
    except InvalidAccount as exc:
        _fail(f"{exc.field}: {exc.message}")
    except AccountExists:
        _fail(f"an account named {username!r} exists")
    audit(
        ACTOR,
        "agent.create",
        username,
        after={k: account[k] for k in ("display_name", "role", "language", "active")},
    )
    click.echo(f"created {account['role']} {account['username']}")


@agents_cli.command("list")
def list_():
    """List every account."""
    for a in _agents().list():
        state = "active" if a["active"] else "disabled"
        click.echo(
            f"{a['username']}\t{a['role']}\t{state}\t{a['language']}\t"
            f"{a['display_name']}"
        )


@agents_cli.command("disable")
@click.argument("username")
def disable(username):
    """Disable an account; its sessions and tokens end."""
    store = _agents()
    account = store.get(username)
    if account is None:
        _fail(f"no account named {username!r}")
    if store.active_admins() == [username]:
        _fail(f"{username} is the last active admin; create another admin first")
    store.disable(username)
    if account["active"]:
        audit(
            ACTOR,
            "agent.disable",
            username,
            before={"active": True},
            after={"active": False},
        )
    click.echo(f"disabled {username}")


@agents_cli.command("enable")
@click.argument("username")
def enable(username):
    """Enable a disabled account again."""
    store = _agents()
    account = store.get(username)
    if account is None:
        _fail(f"no account named {username!r}")
    if not account["active"]:
        store.update(username, active=True)
        audit(
            ACTOR,
            "agent.update",
            username,
            before={"active": False},
            after={"active": True},
        )
    click.echo(f"enabled {username}")


@agents_cli.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def reset_password(username, password_stdin):
    """Set a new password; the account's sessions and tokens end."""
    if _agents().get(username) is None:
        _fail(f"no account named {username!r}")
    password = _password(password_stdin)
    try:
        _agents().set_password(username, password)
    except InvalidAccount as exc:
        _fail(f"{exc.field}: {exc.message}")
    audit(ACTOR, "agent.password", username)
    click.echo(f"password of {username} replaced")


def init_app(app) -> None:
    """Add the `agents` command group to `flask`."""
    app.cli.add_command(agents_cli)
