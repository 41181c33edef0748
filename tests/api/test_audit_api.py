"""The audit log: admins page through it and filter by actor and action."""

import pytest

from api.audit import audit


@pytest.fixture
def entries(runtime):
    for n in range(7):
        audit("boss", "rule.update", f"rule-{n}", redis=runtime.redis, n=n)
        audit("aiko", "handoff.claim", f"chat-{n}", redis=runtime.redis)


def test_agents_cannot_read_the_log(client, agent):
    assert client.get("/api/v1/audit", headers=agent).status_code == 403


def test_entries_are_newest_first_with_who_what_when(client, admin, entries):
    resp = client.get("/api/v1/audit?limit=1", headers=admin)

    [entry] = resp.json["entries"]
    assert entry["action"] == "handoff.claim"
    assert entry["actor"] == "aiko"
    assert entry["target"] == "chat-6"
    assert entry["at"].endswith("+00:00")


def test_pages_follow_the_next_cursor_to_the_end(client, admin, entries):
    seen, cursor = [], None
    while True:
        query = {"limit": 3, "actor": "boss", "action": "rule.update"}
        if cursor:
            query["before"] = cursor
        page = client.get("/api/v1/audit", query_string=query, headers=admin).json
        seen += [e["target"] for e in page["entries"]]
        cursor = page["next"]
        if cursor is None:
            break

    assert seen == [f"rule-{n}" for n in reversed(range(7))]


def test_filter_by_actor(client, admin, entries):
    page = client.get("/api/v1/audit?actor=aiko&limit=200", headers=admin).json

    assert len(page["entries"]) == 7
    assert {e["action"] for e in page["entries"]} == {"handoff.claim"}


def test_action_ending_in_a_dot_matches_the_area(client, admin, entries):
    page = client.get("/api/v1/audit?action=rule.&limit=200", headers=admin).json

    assert len(page["entries"]) == 7
    assert page["entries"][0]["detail"] == {"n": 6}


def test_logins_are_audited(client, admin):
    page = client.get("/api/v1/audit?action=auth.login", headers=admin).json

    assert page["entries"][0]["target"] == "boss"
    assert page["entries"][0]["detail"]["method"] == "token"


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=x", "limit"),
        ("before=abc", "before"),
    ],
)
def test_bad_paging_is_422(client, admin, query, field):
    resp = client.get(f"/api/v1/audit?{query}", headers=admin)

    assert resp.status_code == 422
    assert resp.json["field"] == field
