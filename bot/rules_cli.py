"""`flask --app app rules import|export`: reply rules as a YAML file.

Export writes every rule in matching order; import validates the whole file
first (nothing changes if any rule is refused), prints what would change and,
unless `--dry-run`, applies it in one step that every process picks up within
a second. The file format is what `export` writes (see bot/default_rules.yml).
"""

import logging
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from api.audit import audit
from bot.rules import (
    RuleConflict,
    RuleInvalid,
    Rules,
    export_yaml,
    parse_yaml,
    plan_import,
    seed_defaults,
)

log = logging.getLogger(__name__)

rules_cli = AppGroup("rules", help="Import and export the bot's reply rules (YAML).")
ACTOR = "cli"


def _runtime():
    """The app's runtime, its desk holding the shipped rules if it never had any."""
    runtime = current_app.extensions["tsunagi"]
    if runtime.config.embedded and not current_app.config.get("TESTING"):
        click.echo(
            "warning: REDIS_URL is not set; this command works on a private "
            "in-process store and its changes end with it",
            err=True,
        )
    seed_defaults(runtime.redis)
    return runtime


@rules_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True), default="-")
def export_command(path):
    """Write every rule to PATH (default: standard output)."""
    text = export_yaml(Rules(_runtime().redis).all())
    if path == "-":
        click.echo(text, nl=False)
        return
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
    click.echo(f"exported to {path}", err=True)


@rules_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Show the changes, change nothing.")
@click.option(
    "--replace",
    is_flag=True,
    help="Also delete stored rules the file does not contain.",
)
def import_command(path, dry_run, replace):
    """Load rules from PATH ("-" for standard input).

    A rule in the file updates the stored rule with the same id, else the one
    with the same name; others are created.
    """
    text = _read(path)
    try:
        incoming = parse_yaml(text)
    except RuleInvalid as exc:
        for error in exc.errors:
            click.echo(f"{error['field']}: {error['message']}", err=True)
        raise click.ClickException(
            f"{len(exc.errors)} error(s) in {path}; nothing was changed"
        ) from None

    runtime = _runtime()
    rules = Rules(runtime.redis)
    plan = plan_import(rules.all(), incoming, replace=replace)
    for line in plan.describe():
        click.echo(line)
    summary = (
        f"{len(plan.create)} to create, {len(plan.update)} to update, "
        f"{len(plan.delete)} to delete, {plan.unchanged} unchanged"
    )
    if dry_run or plan.empty:
        click.echo(f"{summary} (nothing changed)")
        return

    try:
        rules.apply(plan, actor=ACTOR)
    except RuleConflict as exc:
        raise click.ClickException(str(exc)) from None
    for rule in plan.create:
        audit(ACTOR, "rule.create", rule["id"], after=rule, redis=runtime.redis)
    for before, after in plan.update:
        audit(ACTOR, "rule.update", before["id"], before, after, redis=runtime.redis)
    for rule in plan.delete:
        audit(ACTOR, "rule.delete", rule["id"], before=rule, redis=runtime.redis)
    click.echo(summary.replace(" to ", " ") + " (applied)")


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text") from None


def init_app(app) -> None:
    """Add the `rules` command group to `flask`."""
    app.cli.add_command(rules_cli)
