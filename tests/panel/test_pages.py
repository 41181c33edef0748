"""The panel's pages on the server: guards, language, the quota page, words."""

import gettext
import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from agents_ui import quota, words
from handoff.agents import Agents
from tests.api.conftest import panel_login

ADMIN_PASSWORD = "admin-password-1"
AGENT_PASSWORD = "agent-password-1"
CATALOGUE = (
    Path(__file__).resolve().parents[2]
    / "agents_ui/translations/ja/LC_MESSAGES/messages.po"
)
ADMIN_PAGES = [
    "/admin/rules",
    "/admin/rules/new",
    "/admin/rules/default-greeting",
    "/admin/agents",
    "/admin/canned",
    "/admin/settings",
    "/admin/audit",
    "/admin/quota",
]


@pytest.fixture
def accounts(runtime):
    store = Agents(runtime.redis)
    store.create("boss", ADMIN_PASSWORD, "admin", "The Boss", "en")
    store.create("aiko", AGENT_PASSWORD, "agent", "Aiko <b>&</b>", "ja")
    return store


@pytest.mark.parametrize("path", ["/", "/conversations/01ABC", *ADMIN_PAGES])
def test_every_page_sends_anonymous_visitors_to_login(client, path):
    resp = client.get(path)

    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_refuse_agents(client, accounts, path):
    panel_login(client, "aiko", AGENT_PASSWORD)

    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_open_for_admins(client, accounts, path):
    panel_login(client, "boss", ADMIN_PASSWORD)

    resp = client.get(path)

    assert resp.status_code == 200
    assert '<html lang="en">' in resp.get_data(as_text=True)


def test_agents_see_no_admin_links(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    page = client.get("/").get_data(as_text=True)

    assert "/admin/rules" not in page
    assert "受信箱" in page


def test_display_names_are_escaped_in_pages(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    page = client.get("/").get_data(as_text=True)

    assert "Aiko &lt;b&gt;&amp;&lt;/b&gt;" in page
    assert "<b>&</b>" not in page


def test_language_switch_changes_the_accounts_language(client, accounts):
    csrf = panel_login(client, "aiko", AGENT_PASSWORD)

    resp = client.post(
        "/language", data={"language": "en", "next": "/", "csrf_token": csrf}
    )

    assert resp.status_code == 302
    assert accounts.get("aiko")["language"] == "en"
    assert "Queue" in client.get("/").get_data(as_text=True)


def test_language_switch_before_login_is_kept_in_a_cookie(client):
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf_token"]

    client.post("/language", data={"language": "en", "csrf_token": csrf})
    page = client.get("/login", headers={"Accept-Language": "ja"})

    assert '<html lang="en">' in page.get_data(as_text=True)


def test_language_switch_needs_the_csrf_token(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    resp = client.post("/language", data={"language": "en"})

    assert resp.status_code == 403
    assert accounts.get("aiko")["language"] == "ja"


def test_language_switch_refuses_other_languages(client, accounts):
    csrf = panel_login(client, "aiko", AGENT_PASSWORD)

    resp = client.post("/language", data={"language": "fr", "csrf_token": csrf})

    assert resp.status_code == 400


def test_language_switch_does_not_redirect_off_site(client, accounts):
    csrf = panel_login(client, "aiko", AGENT_PASSWORD)

    resp = client.post(
        "/language",
        data={"language": "en", "next": "https://evil.example/", "csrf_token": csrf},
    )

    assert resp.headers["Location"] == "/"


def test_script_words_arrive_in_the_accounts_language(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    page = client.get("/").get_data(as_text=True)
    table = re.search(
        r'<script type="application/json" id="panel-words">(.*?)</script>', page
    ).group(1)

    assert json.loads(table)["Claimed."] == "担当しました。"


def test_every_word_has_a_japanese_translation():
    with open(CATALOGUE, "rb") as handle:
        catalogue = read_po(handle)

    untranslated = [m.id for m in catalogue if m.id and not m.string]
    missing = [w for w in words.SCRIPT_WORDS if w not in catalogue]

    assert untranslated == []
    assert missing == []


def test_quota_page_shows_the_days_sends_and_the_ledger(client, accounts, runtime):
    ledger = runtime.delivery.ledger
    pipe = runtime.redis.pipeline()
    for method, reason in (("reply", "token_live"), ("push", "operator_choice")):
        ledger.record(
            pipe,
            chat_id="U" + "1" * 32,
            method=method,
            messages=[{"type": "text", "text": "<script>x</script>"}],
            reason=reason,
            origin="agent",
            actor="aiko",
        )
    pipe.execute()
    panel_login(client, "boss", ADMIN_PASSWORD)

    page = client.get("/admin/quota").get_data(as_text=True)
    only_pushes = client.get("/admin/quota?reason=operator_choice").get_data(
        as_text=True
    )

    assert page.count('class="free"') == 1
    assert page.count('class="billable"') == 1
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
    assert only_pushes.count('<td class="mono nowrap">operator_choice</td>') == 1
    assert '<td class="mono nowrap">token_live</td>' not in only_pushes


def test_chart_stacks_billable_on_free_and_scales_to_a_round_top():
    chart = quota.chart(
        [{"date": "2026-12-02", "free": 7, "billable": 3, "held": 0}], "2026-12"
    )

    day = chart["bars"][1]
    assert len(chart["bars"]) == 31
    assert chart["top"] == 10
    assert day["free_h"] == pytest.approx(quota.CHART_HEIGHT * 0.7)
    assert day["bill_y"] + day["bill_h"] == pytest.approx(day["free_y"])
    assert [t["value"] for t in chart["ticks"]] == [0, 5, 10]
    assert chart["bars"][0]["free_h"] == 0


@pytest.mark.parametrize(
    ("largest", "top"), [(0, 2), (1, 2), (3, 4), (5, 6), (10, 10), (11, 20), (99, 100)]
)
def test_chart_scale_is_even_so_its_middle_tick_is_whole(largest, top):
    rows = [{"date": "2026-12-01", "free": largest, "billable": 0, "held": 0}]

    assert quota.chart(rows, "2026-12")["top"] == top


def test_compiled_catalogue_matches_the_translations():
    with open(CATALOGUE, "rb") as handle:
        catalogue = read_po(handle)
    with open(CATALOGUE.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    stale = [m.id for m in catalogue if m.id and compiled.gettext(m.id) != m.string]

    assert stale == [], "run: pybabel compile -d agents_ui/translations"


@pytest.mark.parametrize("before", ["garbage", "1-x", "-"])
def test_quota_page_refuses_a_cursor_that_is_not_a_ledger_id(client, accounts, before):
    panel_login(client, "boss", ADMIN_PASSWORD)

    resp = client.get("/admin/quota", query_string={"before": before})

    assert resp.status_code == 400


def test_quota_page_pages_with_its_own_older_link(client, accounts, runtime):
    ledger = runtime.delivery.ledger
    pipe = runtime.redis.pipeline()
    for n in range(quota.LEDGER_PAGE + 3):
        ledger.record(
            pipe,
            chat_id="U" + "1" * 32,
            method="reply",
            messages=[{"type": "text", "text": f"bubble {n}"}],
            reason="token_live",
            origin="bot",
        )
    pipe.execute()
    panel_login(client, "boss", ADMIN_PASSWORD)

    first = client.get("/admin/quota").get_data(as_text=True)
    older = re.search(r'href="\?([^"]+)">', first).group(1).replace("&amp;", "&")
    second = client.get("/admin/quota?" + older)

    assert second.status_code == 200
    assert second.get_data(as_text=True).count("bubble ") == 3
