"""Reply rules across real processes: edited through the web, answered by workers.

The admin edits rules through gunicorn's processes while a user keeps writing;
the `rq worker` processes answer from each change soon after it is made. For
up to the check interval (0.5 s) after an edit two workers may still differ,
so the order of old and new answers in that window is not asserted.
"""

import time

import pytest
import requests

from bot.matcher import CHECK_INTERVAL
from bot.rules import default_rules
from handoff.agents import Agents

pytestmark = pytest.mark.integration

PASSWORD = "rules-admin-password-1"


def texts(entries):
    return [m.get("text") for entry in entries for m in entry["messages"]]


@pytest.fixture(scope="module")
def admin(desk):
    if Agents(desk.redis()).get("rulesboss") is None:
        Agents(desk.redis()).create("rulesboss", PASSWORD, "admin", "Rules Boss")
    response = requests.post(
        f"{desk.web}/api/v1/auth/token",
        json={"username": "rulesboss", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_follow_is_greeted_by_name_from_the_shipped_rules(desk):
    user = desk.new_user("花子", follow=True)

    [greeting] = texts(desk.received(user, 1))

    assert greeting.startswith("花子さん、友だち追加ありがとうございます")


def test_rule_edits_reach_the_workers_while_messages_flow(desk, admin):
    user = desk.new_user(follow=True)
    desk.received(user, 1)
    body = {
        "name": "送料 (live)",
        "priority": 5,
        "match": {"kind": "contains", "patterns": ["送料"]},
        "reply": [{"type": "text", "text": "送料 v0"}],
    }
    response = requests.post(
        f"{desk.web}/api/v1/rules", json=body, headers=admin, timeout=10
    )
    assert response.status_code == 201, response.text
    rule = response.json()

    answers, sent, missed = [], 1, []
    for version in range(1, 6):
        edited = body | {"reply": [{"type": "text", "text": f"送料 v{version}"}]}
        response = requests.put(
            f"{desk.web}/api/v1/rules/{rule['id']}",
            json=edited,
            headers=admin,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        deadline = time.time() + 10
        while True:
            desk.say(user, "送料はいくらですか")
            sent += 1
            answer = texts(desk.received(user, sent))[-1]
            answers.append(answer)
            if answer == f"送料 v{version}":
                break
            if time.time() > deadline:
                missed.append(version)
                break
            time.sleep(0.2)

    assert missed == []
    # In the window after an edit a worker that has not looked yet answers
    # from the rules it has: an older version, or the fallback just after
    # the rule was created. Nothing else.
    fallback = [r for r in default_rules() if r["id"] == "default-fallback"][0]
    older = {f"送料 v{n}" for n in range(6)} | {fallback["reply"][0]["text"]}
    assert set(answers) <= older, answers
    time.sleep(2 * CHECK_INTERVAL)  # every worker has looked at the version since
    desk.say(user, "送料")
    assert texts(desk.received(user, sent + 1))[-1] == "送料 v5"
