"""The quota API and the budget guard: counts, LINE's figures, forecast, advice."""

import json
from datetime import date

from api.events import CHANNEL
from bot import quota
from tests.economics.conftest import USER

TEXT = {"type": "text", "text": "Here is the answer."}


def _assigned(desk, who="aiko"):
    desk.postback()
    conversation_id = desk.conversation()["id"]
    response = desk.api("post", f"/conversations/{conversation_id}/claim", who)
    assert response.status_code == 200
    return conversation_id


def _push(desk, conversation_id, who="aiko"):
    desk.clock.advance(120)
    response = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        who,
        json={"messages": [TEXT], "if_expired": "push"},
    )
    assert response.status_code == 200
    return response.json


def _sync(desk):
    response = desk.api("post", "/quota/sync", "boss")
    assert response.status_code == 200
    return response.json


def _settings(desk, **changes):
    response = desk.api("put", "/settings", "boss", json=changes)
    assert response.status_code == 200, response.json


def test_quota_needs_a_login_and_sync_needs_an_admin(desk):
    assert desk.client.get("/api/v1/quota").status_code == 401
    assert desk.api("post", "/quota/sync", "aiko").status_code == 403
    assert desk.api("get", "/quota", "aiko").status_code == 200


def test_counts_come_from_the_ledger_by_month_and_day(desk):
    conversation_id = _assigned(desk)
    _push(desk, conversation_id)

    report = desk.api("get", "/quota", "aiko").json

    assert report["billable_this_month"] == 1
    assert report["free_this_month"] == 1  # the hand-off acknowledgement
    today = report["by_day"][-1]
    assert today["billable"] == 1 and today["free"] == 1
    assert all(day["billable"] == 0 for day in report["by_day"][:-1])
    assert report["by_day"][0]["date"].endswith("-01")


def test_billable_this_month_equals_what_line_counted_for_the_desk(desk):
    conversation_id = _assigned(desk)
    for _ in range(3):
        _push(desk, conversation_id)

    report = _sync(desk)

    assert report["billable_this_month"] == 3
    assert report["line"]["total_usage"] == 3
    assert report["line"]["outside_desk"] == 0


def test_plan_is_read_from_line_when_not_set(desk):
    desk.line.limit = 5000

    report = _sync(desk)

    assert report["plan"]["name"] == "light"
    assert report["plan"]["source"] == "line"
    assert report["limit"] == 5000


def test_plan_set_in_settings_wins_over_line(desk):
    desk.line.limit = 5000
    _settings(desk, quota_plan="standard")

    report = _sync(desk)

    assert report["plan"]["name"] == "standard"
    assert report["plan"]["source"] == "settings"
    assert report["limit"] == 30000


def test_custom_plans_replace_the_shipped_ones(desk):
    plans = [
        {"name": "basic", "limit": 500, "fee": 10, "extra_price": 0.05},
        {"name": "pro", "limit": 10000, "fee": 50, "extra_price": 0.03},
    ]
    _settings(desk, quota_plans=plans, quota_plan="basic")

    report = desk.api("get", "/quota", "aiko").json

    assert report["plan"]["name"] == "basic" and report["limit"] == 500


def test_a_bad_custom_catalog_is_refused_naming_the_setting(desk):
    response = desk.api(
        "put", "/settings", "boss", json={"quota_plans": [{"name": "x", "limit": -1}]}
    )

    assert response.status_code == 422
    assert response.json["field"] == "quota_plans"


def test_managers_sends_are_reconciled_and_later_pushes_added(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 7
    conversation_id = _assigned(desk)
    _push(desk, conversation_id)
    _sync(desk)

    _push(desk, conversation_id)
    report = desk.api("get", "/quota", "aiko").json

    assert report["line"]["outside_desk"] == 7
    assert report["billable_this_month"] == 2
    assert report["used_this_month"] == 7 + 2


def test_forecast_projects_the_month_from_the_days_gone(desk):
    # 1_800_000_000 is 2027-01-15 17:00 in Tokyo: 14.71 of January's 31 days.
    desk.line.limit = 200
    desk.line.manager_sends = 10
    _sync(desk)

    report = desk.api("get", "/quota", "aiko").json

    assert report["month"] == "2027-01"
    assert report["forecast_month_end"] == 22


def test_advice_downgrades_from_next_month(desk):
    desk.line.limit = 5000
    desk.line.manager_sends = 10

    advice = _sync(desk)["advice"]

    assert advice["plan"] == "communication"
    assert advice["change"] == "downgrade"
    assert advice["applies"] == "2027-02-01"


def test_advice_upgrades_at_once_when_the_plan_cannot_carry_the_month(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 150

    advice = _sync(desk)["advice"]

    assert advice["forecast"] > 200
    assert advice["plan"] == "light"
    assert advice["change"] == "upgrade"
    assert advice["applies"] == "2027-01-15"


def test_advice_weighs_extra_messages_against_a_bigger_plan():
    plans = quota.CATALOGS["JP"]
    light = plans[1]

    big = quota.advise(plans, light, 6000, date(2027, 1, 15))
    small = quota.advise(plans, light, 4000, date(2027, 1, 15))

    assert big["plan"] == "standard" and big["change"] == "upgrade"
    assert big["cost"] == 15000
    assert small["change"] == "keep"
    assert quota.cost(plans[2], 31000) == 15000 + 1000 * 3
    assert quota.cost(plans[0], 201) is None


def test_guard_holds_agents_pushes_near_the_limit(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 190
    _sync(desk)
    conversation_id = _assigned(desk)

    answer = _push(desk, conversation_id)
    report = desk.api("get", "/quota", "aiko").json

    assert answer["delivery"] == "held"
    assert desk.line.pushes() == []
    assert report["guard"]["state"] == "hold"
    [held] = desk.runtime.delivery.held(USER)
    assert held["reason"] == "budget_guard"


def test_an_admins_approval_pushes_held_answers_as_one_bundle(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 190
    _sync(desk)
    conversation_id = _assigned(desk)
    _push(desk, conversation_id)
    _push(desk, conversation_id)

    response = desk.api("post", f"/conversations/{conversation_id}/held/push", "boss")

    assert response.status_code == 200
    assert response.json["delivery"] == "push"
    assert response.json["billable"] == 1
    [push] = desk.line.pushes()
    assert push[2] == [TEXT, TEXT]
    assert desk.runtime.delivery.held(USER) == []
    again = desk.api("post", f"/conversations/{conversation_id}/held/push", "boss")
    assert again.status_code == 409


def test_an_agent_cannot_approve_a_push(desk):
    conversation_id = _assigned(desk)

    response = desk.api("post", f"/conversations/{conversation_id}/held/push", "aiko")

    assert response.status_code == 403


def test_an_admins_own_push_passes_the_guard(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 190
    _sync(desk)
    conversation_id = _assigned(desk)

    answer = _push(desk, conversation_id, who="boss")

    assert answer["delivery"] == "push"


def test_guard_warns_the_panels_once_past_the_warning_share(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 165
    listener = desk.runtime.redis.pubsub()
    listener.subscribe(CHANNEL)
    listener.get_message(timeout=0.1)
    _sync(desk)
    conversation_id = _assigned(desk)

    first = _push(desk, conversation_id)
    _push(desk, conversation_id)

    kinds = []
    while message := listener.get_message(timeout=0.1):
        kinds.append(json.loads(message["data"])["kind"])
    assert first["delivery"] == "push"
    assert kinds.count("quota.warning") == 1


def test_daily_push_cap_holds_an_agents_pushes_until_the_next_day(desk):
    _settings(desk, agent_daily_push_cap=1)
    conversation_id = _assigned(desk)

    first = _push(desk, conversation_id)
    second = _push(desk, conversation_id)
    desk.clock.advance(8 * 3600)  # past midnight in Tokyo
    third = _push(desk, conversation_id)

    assert [first["delivery"], second["delivery"], third["delivery"]] == [
        "push",
        "held",
        "push",
    ]
    [held] = desk.runtime.delivery.ledger.entries(method="held")
    assert held["reason"] == "push_cap"
    # The held answer went first, in the same push as the next day's answer.
    assert [len(push[2]) for push in desk.line.pushes()] == [1, 2]
    assert desk.runtime.delivery.held(USER) == []


def test_the_cap_is_per_agent(desk):
    _settings(desk, agent_daily_push_cap=1)
    conversation_id = _assigned(desk)
    _push(desk, conversation_id)
    desk.api(
        "post", f"/conversations/{conversation_id}/transfer", "aiko", json={"to": "ben"}
    )

    answer = _push(desk, conversation_id, who="ben")

    assert answer["delivery"] == "push"


def test_the_workers_upkeep_syncs_at_most_every_few_minutes(desk):
    desk.line.limit = 200
    desk.line.manager_sends = 4

    first = quota.maybe_sync(desk.runtime)
    desk.line.manager_sends = 9
    second = quota.maybe_sync(desk.runtime)

    assert (first, second) == (True, False)
    assert quota.line_state(desk.runtime.redis)["total_usage"] == 4


def test_an_unknown_plan_gives_no_limit_no_guard_and_no_advice(desk):
    report = desk.api("get", "/quota", "aiko").json

    assert report["plan"]["source"] == "unknown"
    assert report["limit"] is None
    assert report["guard"]["state"] == "ok"
    assert report["advice"] is None


def test_a_line_failure_during_sync_keeps_the_last_figures(desk):
    from bot.line_api import LineError

    desk.line.limit = 200
    desk.line.manager_sends = 3
    _sync(desk)

    def refuse():
        raise LineError("server_error", 500, "down")

    desk.line.get_quota = refuse
    report = _sync(desk)

    assert report["line"]["total_usage"] == 3
    assert report["limit"] == 200


def test_a_named_plan_missing_from_the_catalog_has_no_limit(desk):
    desk.line.limit = 5000
    _settings(desk, quota_plan="premium")

    report = _sync(desk)

    assert report["plan"]["name"] == "premium"
    assert report["plan"]["source"] == "settings"
    assert report["limit"] is None and report["advice"] is None
