"""The Failed events page on the server: admins only, and the nav's count."""

from api.settings import update_settings
from tests.api.conftest import panel_login
from tests.helpers import text_event
from tests.panel import test_pages
from tests.panel.test_pages import ADMIN_PASSWORD, AGENT_PASSWORD

USER = "U" + "e" * 32
#: The page tests' accounts: boss (admin, en) and aiko (agent, ja).
accounts = test_pages.accounts


def dead_letters(runtime, count):
    update_settings(runtime.redis, {"event_retry_delays": []})
    for _ in range(count):
        runtime.inbox.store([text_event(USER)])
        runtime.inbox.drain(USER, lambda payload: 1 / 0)


def test_anonymous_visitors_go_to_login(client):
    resp = client.get("/admin/failed-events")

    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_agents_are_refused_and_see_no_link(client, accounts, runtime):
    dead_letters(runtime, 1)
    panel_login(client, "aiko", AGENT_PASSWORD)

    assert client.get("/admin/failed-events").status_code == 403
    assert "/admin/failed-events" not in client.get("/").get_data(as_text=True)


def test_admins_get_the_page_in_japanese(client, accounts):
    accounts.update("boss", language="ja")
    panel_login(client, "boss", ADMIN_PASSWORD)

    page = client.get("/admin/failed-events").get_data(as_text=True)

    assert "<h1>処理できなかったイベント</h1>" in page
    assert "js/admin_failed_events.js" in page


def test_the_nav_link_counts_dead_letters_on_every_admin_page(
    client, accounts, runtime
):
    panel_login(client, "boss", ADMIN_PASSWORD)
    assert 'class="badge"' not in client.get("/admin/rules").get_data(as_text=True)

    dead_letters(runtime, 2)

    page = client.get("/admin/rules").get_data(as_text=True)
    link = page[page.index('id="nav-failed"') :]
    link = link[: link.index("</a>")]
    assert '<span class="badge"' in link and ">2</span>" in link


def test_an_older_desks_dead_letter_list_does_not_break_the_admin_pages(
    client, accounts, runtime
):
    from store import key

    # Until a worker's sweeper adopts it, the old list sits where the count
    # is read.
    runtime.redis.rpush(key("deadletter"), '{"chat_id": "U1", "event_id": "e1"}')
    panel_login(client, "boss", ADMIN_PASSWORD)

    assert client.get("/admin/rules").status_code == 200
