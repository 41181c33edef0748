"""/api/v1/rules: admins write, agents read and test; every change audited."""

import pytest

from api.audit import STREAM
from tests.rules.conftest import rule

SHIPPING = {
    "name": "送料",
    "priority": 5,
    "enabled": True,
    "match": {"kind": "contains", "patterns": ["送料"]},
    "reply": [{"type": "text", "text": "送料は全国一律500円です。"}],
}


def audit_entries(runtime, action):
    import json

    entries = runtime.redis.xrange(STREAM)
    return [
        {k: json.loads(v) if k in ("before", "after") else v for k, v in e.items()}
        for _, e in entries
        if e["action"] == action
    ]


def test_new_desk_lists_the_shipped_rules(client, agent):
    resp = client.get("/api/v1/rules", headers=agent)

    assert resp.status_code == 200
    ids = [r["id"] for r in resp.json["rules"]]
    assert "default-greeting" in ids and "default-fallback" in ids
    assert ids[-1] == "default-fallback"  # lowest priority last


def test_admin_creates_the_issue_example_and_it_answers(client, admin, runtime):
    resp = client.post("/api/v1/rules", json=SHIPPING, headers=admin)

    assert resp.status_code == 201
    created = resp.json
    assert created["name"] == "送料" and created["revision"] == 1
    assert client.get(f"/api/v1/rules/{created['id']}", headers=admin).json == created

    test = client.post(
        "/api/v1/rules/test", json={"text": "送料はいくら？"}, headers=admin
    )
    assert test.json["rule"] == created["id"]
    assert test.json["messages"] == SHIPPING["reply"]

    [entry] = audit_entries(runtime, "rule.create")
    assert entry["actor"] == "boss" and entry["target"] == created["id"]
    assert entry["after"]["match"] == SHIPPING["match"]


def test_agents_read_but_cannot_write(client, agent, admin):
    created = client.post("/api/v1/rules", json=SHIPPING, headers=admin).json
    path = f"/api/v1/rules/{created['id']}"

    assert client.get(path, headers=agent).status_code == 200
    assert client.post("/api/v1/rules", json=SHIPPING, headers=agent).status_code == 403
    assert client.put(path, json=SHIPPING, headers=agent).status_code == 403
    assert client.delete(path, headers=agent).status_code == 403
    assert client.get(path, headers=admin).json == created


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/rules"),
        ("post", "/api/v1/rules"),
        ("get", "/api/v1/rules/x"),
        ("put", "/api/v1/rules/x"),
        ("delete", "/api/v1/rules/x"),
        ("post", "/api/v1/rules/test"),
    ],
)
def test_every_rules_route_needs_a_login(client, method, path):
    resp = getattr(client, method)(path, json={})

    assert resp.status_code == 401


@pytest.mark.parametrize(
    "change, field",
    [
        (
            {"match": {"kind": "regex", "patterns": ["ok", "(unclosed"]}},
            "match.patterns[1]",
        ),
        ({"reply": [{"type": "text"}]}, "reply[0].text"),
        ({"reply": []}, "reply"),
        ({"priority": "high"}, "priority"),
        ({"schedule": {"timezone": "Nowhere/City"}}, "schedule.timezone"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_rule_is_422_naming_the_field_and_nothing_is_stored(
    client, admin, runtime, change, field
):
    before = client.get("/api/v1/rules", headers=admin).json

    resp = client.post("/api/v1/rules", json=SHIPPING | change, headers=admin)

    assert resp.status_code == 422
    assert resp.json["error"] == "invalid"
    assert resp.json["field"] == field
    assert field in [e["field"] for e in resp.json["errors"]]
    assert client.get("/api/v1/rules", headers=admin).json == before
    assert audit_entries(runtime, "rule.create") == []


def test_every_error_of_a_rule_is_listed(client, admin):
    body = SHIPPING | {"name": "", "reply": [{"type": "text"}]}

    resp = client.post("/api/v1/rules", json=body, headers=admin)

    fields = [e["field"] for e in resp.json["errors"]]
    assert fields == ["name", "reply[0].text"]
    assert "(and 1 more)" in resp.json["message"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_body_that_is_not_a_json_object_is_400(client, admin, body):
    resp = client.post(
        "/api/v1/rules", data=body, headers=admin | {"Content-Type": "application/json"}
    )

    assert resp.status_code == 400


def test_put_replaces_the_rule_and_audits_before_and_after(client, admin, runtime):
    created = client.post("/api/v1/rules", json=SHIPPING, headers=admin).json
    changed = SHIPPING | {"reply": [{"type": "text", "text": "送料無料です"}]}

    resp = client.put(f"/api/v1/rules/{created['id']}", json=changed, headers=admin)

    assert resp.status_code == 200
    assert resp.json["reply"] == changed["reply"] and resp.json["revision"] == 2
    test = client.post("/api/v1/rules/test", json={"text": "送料"}, headers=admin)
    assert test.json["messages"] == changed["reply"]
    [entry] = audit_entries(runtime, "rule.update")
    assert entry["before"]["reply"] == SHIPPING["reply"]
    assert entry["after"]["reply"] == changed["reply"]


def test_put_of_what_get_returned_is_accepted(client, admin):
    created = client.post("/api/v1/rules", json=SHIPPING, headers=admin).json

    resp = client.put(f"/api/v1/rules/{created['id']}", json=created, headers=admin)

    assert resp.status_code == 200


def test_put_with_a_stale_revision_is_409_and_changes_nothing(client, admin):
    created = client.post("/api/v1/rules", json=SHIPPING, headers=admin).json
    path = f"/api/v1/rules/{created['id']}"
    client.put(path, json=created | {"name": "first"}, headers=admin)

    resp = client.put(path, json=created | {"name": "second"}, headers=admin)

    assert resp.status_code == 409
    assert resp.json["field"] == "revision"
    assert client.get(path, headers=admin).json["name"] == "first"


def test_put_with_another_id_in_the_body_is_refused(client, admin):
    created = client.post("/api/v1/rules", json=SHIPPING, headers=admin).json

    resp = client.put(
        f"/api/v1/rules/{created['id']}", json=SHIPPING | {"id": "other"}, headers=admin
    )

    assert resp.status_code == 422 and resp.json["field"] == "id"


def test_delete_removes_the_rule_and_audits_it(client, admin, runtime):
    created = client.post("/api/v1/rules", json=SHIPPING, headers=admin).json
    path = f"/api/v1/rules/{created['id']}"

    assert client.delete(path, headers=admin).status_code == 204
    assert client.get(path, headers=admin).status_code == 404
    assert client.delete(path, headers=admin).status_code == 404
    [entry] = audit_entries(runtime, "rule.delete")
    assert entry["before"]["name"] == "送料"


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_rule_is_404(client, admin, method):
    resp = getattr(client, method)("/api/v1/rules/nope", json=SHIPPING, headers=admin)

    assert resp.status_code == 404
    assert resp.json["error"] == "not_found"


def test_rule_test_with_an_event_uses_event_rules(client, agent):
    resp = client.post(
        "/api/v1/rules/test", json={"event": {"type": "follow"}}, headers=agent
    )

    assert resp.json["rule"] == "default-greeting"
    assert resp.json["messages"][0]["text"].startswith("お客様さん")


def test_rule_test_reports_a_handoff_rule(client, agent):
    resp = client.post(
        "/api/v1/rules/test",
        json={"event": {"type": "postback", "postback": {"data": "action=handoff"}}},
        headers=agent,
    )

    assert resp.json["rule"] == "default-handoff-button"
    assert resp.json["handoff"] is True


def test_rule_test_with_no_match_answers_null(client, admin):
    resp = client.post(
        "/api/v1/rules/test",
        json={"event": {"type": "postback", "postback": {"data": "nothing"}}},
        headers=admin,
    )

    assert resp.json == {"rule": None, "name": None, "handoff": False, "messages": []}


def test_rule_test_at_a_given_time_honours_schedules(client, admin):
    night = rule(
        name="夜間",
        kind="fallback",
        priority=1,
        schedule={"times": ["18:00-09:00"]},
        reply=[{"type": "text", "text": "営業時間外です"}],
    )
    client.post("/api/v1/rules", json=night, headers=admin)

    late = client.post(
        "/api/v1/rules/test",
        json={"text": "ぽぽぽ", "at": "2026-12-07T20:00:00+09:00"},
        headers=admin,
    )
    noon = client.post(
        "/api/v1/rules/test",
        json={"text": "ぽぽぽ", "at": "2026-12-07T03:00:00Z"},
        headers=admin,
    )

    assert late.json["name"] == "夜間"
    assert noon.json["rule"] == "default-fallback"


def test_rule_test_sends_and_counts_nothing(client, admin, fake_line, runtime):
    for _ in range(3):
        client.post("/api/v1/rules/test", json={"text": "ぽぽぽ"}, headers=admin)

    assert fake_line.calls == []
    assert runtime.redis.keys("tsunagi:fallbacks:*") == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "text"),
        ({"text": "a", "event": {"type": "follow"}}, "text"),
        ({"text": ""}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"event": "follow"}, "event.type"),
        ({"event": {"type": "message", "message": "hi"}}, "event.message"),
        (
            {"event": {"type": "message", "message": {"type": "text", "text": 1}}},
            "event.message.text",
        ),
        ({"text": "a", "at": "tomorrow"}, "at"),
        ({"text": "a", "at": "2026-12-07T20:00:00"}, "at"),
        ({"text": "a", "colour": 1}, "colour"),
    ],
)
def test_bad_rule_test_body_is_422_naming_the_field(client, agent, body, field):
    resp = client.post("/api/v1/rules/test", json=body, headers=agent)

    assert resp.status_code == 422
    assert resp.json["field"] == field


def test_rules_routes_are_in_the_openapi_document(client, agent):
    paths = client.get("/api/v1/openapi.json", headers=agent).json["paths"]

    assert {"get", "post"} <= set(paths["/rules"])
    assert {"get", "put", "delete"} <= set(paths["/rules/{rule_id}"])
    assert "post" in paths["/rules/test"]
