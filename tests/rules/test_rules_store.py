"""Rules: validation naming fields, Redis storage, versions, YAML, defaults."""

import fakeredis
import pytest

from bot.rules import (
    RuleConflict,
    RuleInvalid,
    Rules,
    default_rules,
    export_yaml,
    parse_yaml,
    plan_import,
    seed_defaults,
    validate_rule,
)
from tests.rules.conftest import rule


@pytest.fixture
def redis_client():
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def rules(redis_client):
    return Rules(redis_client)


def test_issue_example_body_is_valid_and_gets_defaults():
    body = {
        "name": "送料",
        "priority": 5,
        "enabled": True,
        "match": {"kind": "contains", "patterns": ["送料"]},
        "reply": [{"type": "text", "text": "送料は全国一律500円です。"}],
    }

    cleaned, errors = validate_rule(body)

    assert errors == []
    assert cleaned["handoff"] is False
    assert cleaned["tags"] == []
    assert cleaned["schedule"] is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"priority": "5"}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": -1}, "priority"),
        ({"enabled": "yes"}, "enabled"),
        ({"handoff": 1}, "handoff"),
        ({"match": None}, "match"),
        ({"match": {"kind": "startswith", "patterns": ["a"]}}, "match.kind"),
        ({"match": {"kind": "contains"}}, "match.patterns"),
        ({"match": {"kind": "contains", "patterns": []}}, "match.patterns"),
        ({"match": {"kind": "contains", "patterns": ["a", 3]}}, "match.patterns[1]"),
        ({"match": {"kind": "exact", "patterns": ["！？ ー"]}}, "match.patterns[0]"),
        ({"match": {"kind": "regex", "patterns": ["ok", "(a"]}}, "match.patterns[1]"),
        ({"match": {"kind": "regex", "patterns": ["(?<=a)b"]}}, "match.patterns[0]"),
        ({"match": {"kind": "regex", "patterns": ["(a)\\1"]}}, "match.patterns[0]"),
        ({"match": {"kind": "postback", "patterns": ["x" * 301]}}, "match.patterns[0]"),
        (
            {"match": {"kind": "postback", "patterns": ["a"], "prefix": "y"}},
            "match.prefix",
        ),
        ({"match": {"kind": "event", "events": ["follow", "x"]}}, "match.events[1]"),
        ({"match": {"kind": "event", "events": ["unfollow"]}}, "match.events[0]"),
        ({"match": {"kind": "fallback", "patterns": ["a"]}}, "match.patterns"),
        ({"reply": []}, "reply"),
        ({"reply": [{"type": "text"}]}, "reply[0].text"),
        ({"reply": [{"type": "gif", "url": "x"}]}, "reply[0].type"),
        ({"schedule": {"times": ["late"]}}, "schedule.times[0]"),
        ({"tags": "vip"}, "tags"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"tags": ["ok", "a\nb"]}, "tags[1]"),
        ({"tags": ["x" * 51]}, "tags[0]"),
        ({"pattern": "typo"}, "pattern"),
    ],
)
def test_every_invalid_field_is_named(change, field):
    cleaned, errors = validate_rule(rule(**change))

    assert cleaned is None
    assert field in [e["field"] for e in errors], errors


def test_regex_error_says_why_it_does_not_compile():
    _, errors = validate_rule(rule(kind="regex", patterns=["(a"]))

    assert "missing )" in errors[0]["message"]


def test_create_stores_rule_and_bumps_version(rules):
    before = rules.version()

    created = rules.create(rule(name="送料"), actor="admin")

    assert rules.version() == before + 1
    assert rules.get(created["id"]) == created
    assert created["revision"] == 1
    assert created["updated_by"] == "admin"


def test_create_refuses_invalid_rule_and_stores_nothing(rules):
    with pytest.raises(RuleInvalid) as refused:
        rules.create(rule(kind="regex", patterns=["(a"]))

    assert refused.value.errors[0]["field"] == "match.patterns[0]"
    assert rules.all() == []
    assert rules.version() == 0


def test_update_replaces_rule_and_returns_before_and_after(rules):
    created = rules.create(rule(name="old"))

    before, after = rules.update(created["id"], rule(name="new"), actor="admin")

    assert before["name"] == "old"
    assert after["name"] == "new"
    assert after["revision"] == 2
    assert after["created_at"] == created["created_at"]
    assert rules.get(created["id"])["name"] == "new"


def test_update_with_stale_revision_is_refused(rules):
    created = rules.create(rule(name="old"))
    rules.update(created["id"], rule(name="first edit"))

    with pytest.raises(RuleConflict):
        rules.update(created["id"], rule(name="second edit", revision=1))
    assert rules.get(created["id"])["name"] == "first edit"


def test_update_with_a_revision_that_is_not_a_number_names_the_field(rules):
    created = rules.create(rule(name="old"))

    with pytest.raises(RuleInvalid) as refused:
        rules.update(created["id"], rule(name="edit", revision="1"))
    assert refused.value.errors[0]["field"] == "revision"


def test_update_or_delete_of_missing_rule_returns_none(rules):
    assert rules.update("nope", rule()) is None
    assert rules.delete("nope") is None


def test_delete_removes_rule_and_bumps_version(rules):
    created = rules.create(rule())
    version = rules.version()

    assert rules.delete(created["id"])["id"] == created["id"]
    assert rules.get(created["id"]) is None
    assert rules.all() == []
    assert rules.version() == version + 1


def test_all_lists_rules_in_matching_order(rules):
    rules.create(rule(name="late", priority=50))
    rules.create(rule(name="early", priority=1))

    assert [r["name"] for r in rules.all()] == ["early", "late"]


def test_yaml_round_trip_keeps_every_rule_field(rules):
    rules.create(
        rule(
            name="夜間",
            kind="regex",
            patterns=[r"注文\d+"],
            handoff=True,
            tags=["order"],
            schedule={"weekdays": ["mon"], "times": ["18:00-09:00"]},
            reply=[
                {
                    "type": "text",
                    "text": "{display_name}さん",
                    "quickReply": {
                        "items": [
                            {
                                "type": "action",
                                "action": {
                                    "type": "message",
                                    "label": "a",
                                    "text": "a",
                                },
                            }
                        ]
                    },
                },
                {"type": "sticker", "packageId": "446", "stickerId": "1988"},
            ],
        )
    )
    rules.create(rule(name="postback", kind="postback", patterns=["faq="]))
    original = rules.all()

    text = export_yaml(original)
    parsed = parse_yaml(text)
    plan = plan_import(original, parsed)

    assert "夜間" in text  # readable, not escaped
    assert plan.empty and plan.unchanged == 2
    fields = ("id", "name", "priority", "enabled", "match", "reply", "handoff")
    for before, after in zip(original, parsed, strict=True):
        for name in fields + ("schedule", "tags"):
            assert after[name] == before[name]


def test_yaml_errors_name_the_rule_and_field():
    text = """
rules:
  - name: ok
    match: {kind: contains, patterns: [a]}
    reply: [{type: text, text: hi}]
  - name: broken
    match: {kind: regex, patterns: ["(a"]}
    reply: [{type: text, text: hi}]
"""
    with pytest.raises(RuleInvalid) as refused:
        parse_yaml(text)

    assert [e["field"] for e in refused.value.errors] == ["rules[1].match.patterns[0]"]


@pytest.mark.parametrize("text", ["rules: [", "just words", "rules: {a: 1}"])
def test_malformed_yaml_is_refused_with_a_reason(text):
    with pytest.raises(RuleInvalid) as refused:
        parse_yaml(text)

    assert refused.value.errors[0]["message"]


def test_yaml_with_repeated_names_or_ids_is_refused():
    text = export_yaml([{"id": "a", **rule(name="x")}, {"id": "a", **rule(name="x")}])

    with pytest.raises(RuleInvalid) as refused:
        parse_yaml(text)

    fields = [e["field"] for e in refused.value.errors]
    assert fields == ["rules[1].id", "rules[1].name"]


def test_import_plan_matches_by_id_then_name_and_can_replace(rules):
    kept = rules.create(rule(name="kept"))
    renamed = rules.create(rule(name="old name"))
    rules.create(rule(name="by name", priority=1))
    gone = rules.create(rule(name="gone"))
    incoming = parse_yaml(
        export_yaml(
            [
                {"id": kept["id"], **rule(name="kept")},
                {"id": renamed["id"], **rule(name="new name")},
                rule(name="by name", priority=2),
                rule(name="brand new"),
            ]
        )
    )

    plan = plan_import(rules.all(), incoming, replace=True)

    assert [r["name"] for r in plan.create] == ["brand new"]
    assert sorted(a["name"] for _, a in plan.update) == ["by name", "new name"]
    assert [r["id"] for r in plan.delete] == [gone["id"]]
    assert plan.unchanged == 1
    assert any(line.startswith("~") and "priority" in line for line in plan.describe())
    assert "    priority: 1 -> 2" in plan.describe()

    version = rules.version()
    rules.apply(plan)

    assert rules.version() == version + 1
    names = sorted(r["name"] for r in rules.all())
    assert names == ["brand new", "by name", "kept", "new name"]


def test_import_without_replace_keeps_rules_the_file_omits(rules):
    rules.create(rule(name="kept"))

    plan = plan_import(rules.all(), parse_yaml(export_yaml([rule(name="new")])))

    assert plan.delete == []


def test_an_import_planned_before_an_edit_is_refused_and_writes_nothing(rules):
    """An admin saved the rule in the console between the dry run and the
    import: the import must not overwrite that edit silently."""
    edited = rules.create(rule(name="edited"))
    incoming = parse_yaml(
        export_yaml(
            [{"id": edited["id"], **rule(name="edited", priority=7)}, rule(name="new")]
        )
    )
    plan = plan_import(rules.all(), incoming)
    rules.update(edited["id"], rule(name="edited", priority=3))
    version = rules.version()

    with pytest.raises(RuleConflict, match=edited["id"]):
        rules.apply(plan)

    assert rules.get(edited["id"])["priority"] == 3
    assert sorted(r["name"] for r in rules.all()) == ["edited"]
    assert rules.version() == version


def test_shipped_defaults_are_valid_and_cover_the_issue():
    defaults = {r["id"]: r for r in default_rules()}
    handoff = defaults["default-handoff"]["match"]["patterns"]

    assert defaults["default-greeting"]["match"]["events"] == ["follow"]
    assert defaults["default-handoff"]["handoff"] is True
    for phrase in ("オペレーター", "担当者", "人と話したい", "human", "agent"):
        assert phrase in handoff
    assert "talk to a person" in handoff
    assert defaults["default-fallback"]["match"]["kind"] == "fallback"
    assert defaults["default-handoff-button"]["match"]["patterns"] == ["action=handoff"]


def test_seed_defaults_loads_once_on_a_new_desk(redis_client, rules):
    assert seed_defaults(redis_client) is True
    count = len(rules.all())

    assert count == len(default_rules())
    assert seed_defaults(redis_client) is False
    assert len(rules.all()) == count


def test_seed_defaults_leaves_an_emptied_desk_empty(redis_client, rules):
    seed_defaults(redis_client)
    for existing in rules.all():
        rules.delete(existing["id"])

    assert seed_defaults(redis_client) is False
    assert rules.all() == []


def test_seed_defaults_leaves_existing_rules_alone(redis_client, rules):
    rules.create(rule(name="mine"))

    assert seed_defaults(redis_client) is False
    assert [r["name"] for r in rules.all()] == ["mine"]
