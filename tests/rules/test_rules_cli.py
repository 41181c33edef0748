"""`flask rules export|import`: YAML out and in, with a diff and a dry run."""

import json

import pytest

from api.audit import STREAM
from bot.rules import Rules, default_rules, export_yaml
from tests.rules.conftest import rule


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def test_export_of_a_new_desk_is_the_shipped_rules(cli):
    result = cli.invoke(args=["rules", "export"])

    assert result.exit_code == 0
    assert "default-greeting" in result.output
    assert "友だち追加ありがとうございます" in result.output


def test_export_to_a_file_and_import_back_changes_nothing(cli, tmp_path, runtime):
    path = tmp_path / "rules.yml"
    cli.invoke(args=["rules", "export", str(path)])
    version = Rules(runtime.redis).version()

    result = cli.invoke(args=["rules", "import", str(path)])

    assert result.exit_code == 0, result.output
    assert "0 to create, 0 to update, 0 to delete" in result.output
    assert Rules(runtime.redis).version() == version


def test_dry_run_shows_the_diff_and_changes_nothing(cli, tmp_path, runtime):
    rules = Rules(runtime.redis)
    cli.invoke(args=["rules", "export"])  # seeds the defaults
    before = rules.all()
    edited = [dict(r) for r in default_rules()]
    edited[0]["priority"] = 1
    path = tmp_path / "rules.yml"
    path.write_text(export_yaml(edited + [rule(name="送料")]), encoding="utf-8")

    result = cli.invoke(args=["rules", "import", "--dry-run", str(path)])

    assert result.exit_code == 0, result.output
    assert "+ " in result.output and "送料" in result.output
    assert f"~ {edited[0]['id']}" in result.output and "(priority)" in result.output
    assert "(nothing changed)" in result.output
    assert rules.all() == before


def test_import_applies_and_audits_each_change(cli, tmp_path, runtime):
    path = tmp_path / "rules.yml"
    path.write_text(export_yaml([rule(name="送料", patterns=["送料"])]), "utf-8")

    result = cli.invoke(args=["rules", "import", "--replace", str(path)])

    assert result.exit_code == 0, result.output
    assert [r["name"] for r in Rules(runtime.redis).all()] == ["送料"]
    actions = [e["action"] for _, e in runtime.redis.xrange(STREAM)]
    assert actions.count("rule.create") == 1
    assert actions.count("rule.delete") == len(default_rules())
    entries = [
        e for _, e in runtime.redis.xrange(STREAM) if e["action"] == "rule.create"
    ]
    assert json.loads(entries[0]["after"])["name"] == "送料"
    assert entries[0]["actor"] == "cli"


def test_import_of_an_invalid_file_names_fields_and_changes_nothing(
    cli, tmp_path, runtime
):
    cli.invoke(args=["rules", "export"])
    version = Rules(runtime.redis).version()
    path = tmp_path / "rules.yml"
    path.write_text(
        export_yaml([rule(name="ok"), rule(name="bad", kind="regex", patterns=["(x"])]),
        "utf-8",
    )

    result = cli.invoke(args=["rules", "import", str(path)])

    assert result.exit_code != 0
    assert "rules[1].match.patterns[0]" in result.output
    assert "nothing was changed" in result.output
    assert Rules(runtime.redis).version() == version


def test_import_of_a_missing_file_is_a_clear_error(cli, tmp_path):
    result = cli.invoke(args=["rules", "import", str(tmp_path / "nope.yml")])

    assert result.exit_code != 0
    assert "cannot read" in result.output
