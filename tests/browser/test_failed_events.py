"""The Failed events page in a real browser: the list shows, Retry works.

The dead letter is made for real (tests/integration/failing.py: the simulator
fails every reply and push while a worker handles the user's message); the
admin sees it in the list and in the nav's badge, presses Retry, and the user
on the simulator receives the answer.
"""

import re
import shutil

import pytest

from tests.browser.browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

pytestmark = pytest.mark.browser

WAIT = 20_000  # ms


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    need_chromium()
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    from tests.integration.failing import failing_desk

    with failing_desk(tmp_path_factory.mktemp("failed-events-desk")) as running:
        yield running


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 820})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == []


def wait_ready(page):
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=WAIT)


def test_admin_sees_a_failed_event_and_retries_it(desk, page):
    from playwright.sync_api import expect

    from tests.integration.failing import ADMIN, admin_session, make_dead_letter

    user = desk.new_user("リトライ 花子", follow=True)
    desk.received(user, 1)  # the greeting
    dead = make_dead_letter(desk, admin_session(desk), user, "届きません")

    page.goto(f"{desk.web}/login?next=/admin/failed-events")
    page.fill("#username", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(re.escape(desk.web) + "/admin/failed-events$"))
    wait_ready(page)

    row = page.locator(f'#failed tr[data-event-id="{dead["event_id"]}"]')
    expect(row).to_contain_text(user)
    expect(row).to_contain_text("message · text")
    expect(row).to_contain_text("DeliveryError")
    expect(page.locator("#nav-failed .badge")).to_have_text("1")
    expect(page.locator("#failed")).not_to_contain_text("届きません")

    row.get_by_role("button", name="Retry").click()

    expect(page.locator("#notice")).to_have_text("Handed to a worker again.")
    expect(row).to_have_count(0)
    expect(page.locator("#failed")).to_contain_text("No failed events.")
    expect(page.locator("#nav-failed .badge")).to_have_count(0)
    [_, answer] = desk.received(user, 2, wait=30)
    assert answer["method"] == "push"
