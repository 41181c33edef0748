"""The agents' panel and the admin console in a real browser.

A whole desk runs in real processes (redis-server, gunicorn, `rq worker`s and
the simulator standing in for LINE, see tests/integration/desk.py); Debian's
Chromium, driven by Playwright, logs in and works the desk as agents and
admins do. The last test saves the screenshots shown in the README.
"""

import io
import re
import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.browser.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    need_chromium,
    screenshot_path,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("chief", "chief-password-1")
AGENT = ("aiko", "aiko-password-1")
HOSTILE = "<img src=x onerror=alert(1)>"
WAIT = 20_000  # ms: how long a live update may take to show
PUBLIC_URL = "https://desk.example"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A desk in production shape with an admin and an agent."""
    need_chromium()
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    from tests.integration.desk import Desk

    running = Desk(tmp_path_factory.mktemp("panel-desk"))
    running.extra_env = {
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        # Where LINE would fetch uploaded photos; nothing resolves it in tests,
        # the desk serves the same paths itself.
        "PUBLIC_URL": PUBLIC_URL,
    }
    try:
        running.start_redis()
        running.start_simulator()
        running.start_web()
        running.start_workers(2)
        admin = _session(running, *ADMIN)
        resp = admin.post(
            f"{running.web}/api/v1/agents",
            json={
                "username": AGENT[0],
                "password": AGENT[1],
                "role": "agent",
                "display_name": "Aiko",
                "language": "en",
            },
        )
        assert resp.status_code == 201, resp.text
        resp = admin.patch(f"{running.web}/api/v1/auth/me", json={"language": "en"})
        assert resp.status_code == 200, resp.text
        yield running
    finally:
        running.kill_workers()
        running.stop()


def _session(desk, username, password) -> requests.Session:
    """An API session with a bearer token (for setting the stage, not testing)."""
    session = requests.Session()
    for _attempt in range(20):
        resp = session.post(
            f"{desk.web}/api/v1/auth/token",
            json={"username": username, "password": password},
            timeout=10,
        )
        if resp.status_code != 401:
            break
        # Each gunicorn worker builds the app (and the bootstrap admin) on its
        # first request; a login racing that can miss the admin being created.
        time.sleep(0.25)
    assert resp.status_code == 200, resp.text
    session.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    return session


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watch:
    """What a page did that it must not: script errors and alert() dialogs."""

    def __init__(self, page):
        self.errors = []
        self.dialogs = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 820})
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.watch = Watch(page)
    yield page
    assert page.watch.errors == [], page.watch.errors


def login(page, desk, username, password, next_path="/"):
    page.goto(f"{desk.web}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(re.escape(desk.web) + re.escape(next_path) + "$"))
    wait_ready(page)


def wait_ready(page):
    """Wait until the page's first load has settled (body[data-ready]), so what
    a test types is not overwritten by data arriving after it."""
    # A function, not an expression: Playwright evaluates an expression with
    # eval(), which the panel's Content-Security-Policy refuses.
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=WAIT)


def goto(page, url):
    page.goto(url)
    wait_ready(page)


def wait_live(page):
    """Wait until the page's event stream is connected."""
    page.wait_for_function("() => document.body.dataset.live === 'on'", timeout=WAIT)


def hand_off(desk, name, first="hello"):
    """A new friend who writes, then asks for a person; returns the user id."""
    user = desk.new_user(name, follow=True)
    desk.received(user, 1)  # the greeting
    desk.say(user, first)
    desk.received(user, 2)
    desk.say(user, "I want to talk to a person")
    return user


def count_received(desk, user) -> int:
    return len(desk.received(user, 0, wait=0))


def set_settings(desk, **values):
    admin = _session(desk, *ADMIN)
    resp = admin.put(f"{desk.web}/api/v1/settings", json=values, timeout=10)
    assert resp.status_code == 200, resp.text


def quiet(page):
    """Hide the passing notice so that a screenshot shows the page itself."""
    page.evaluate("document.getElementById('notice').hidden = true")


def row_of(page, name):
    return page.locator("#conversations .row", has_text=name)


def claimed_by_agent(desk, page, name):
    """The agent logs in, a new user `name` asks for a person, and the agent
    claims the conversation; returns the user id."""
    from playwright.sync_api import expect

    login(page, desk, *AGENT)
    wait_live(page)
    user = hand_off(desk, name)
    row = row_of(page, name)
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    page.click("#claim")
    expect(page.locator("#thread-state")).to_have_text("Assigned to you")
    return user


# -- tests ----------------------------------------------------------------------


def test_screenshots_of_the_inbox_a_conversation_and_the_quota(desk, page, browser):
    """Saves panel-*.png (into docs/ with TSUNAGI_SCREENSHOTS=1, for the README).

    First in the module, so the pictures show only the desk it sets up.
    """
    from playwright.sync_api import expect

    set_settings(desk, handoff_agent_wait_seconds=0)
    try:
        for name, first in (
            ("田中 陽子", "注文した商品がまだ届きません"),
            ("Sam Lee", "Can I change my delivery address?"),
        ):
            hand_off(desk, name, first=first)
    finally:
        set_settings(desk, handoff_agent_wait_seconds=None)
    login(page, desk, *AGENT)
    wait_live(page)
    user = hand_off(desk, "佐藤 健", first="予約の変更をしたいです")
    row = row_of(page, "佐藤 健")
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    page.click("#claim")
    page.fill("#tag-input", "予約")
    page.click("#tag-form button")
    expect(page.locator("#tags li")).to_have_count(1)
    page.fill("#note-input", "Regular customer; prefers evenings.")
    page.click("#note-form button")
    expect(page.locator("#notes li")).to_have_count(1)
    page.fill(
        "#draft", "佐藤様、担当の Aiko です。ご希望の日時を教えていただけますか？"
    )
    page.click("#send")
    expect(page.locator("#messages .message.out").last).to_contain_text(
        "担当の Aiko", timeout=WAIT
    )
    desk.say(user, "12月10日の18時はどうでしょう？")
    expect(page.locator("#messages .message.in").last).to_contain_text(
        "12月10日", timeout=WAIT
    )
    page.fill("#draft", "ご用意できます。")
    page.click("#add-bubble")
    page.fill("#draft", "ほかにご質問はありますか？")
    expect(page.locator("#cost")).to_contain_text("free")
    quiet(page)
    page.screenshot(path=screenshot_path("panel-conversation.png"))

    page.fill("#draft", "")
    page.click("#bundle button")  # the drafted bubble is not sent
    page.click("[data-tab=queue]")
    row_of(page, "Sam Lee").click()
    page.click("#claim")
    page.fill("#draft", "Hi Sam, yes: send us the new address and we will update it.")
    page.click("#send")
    page.click("#confirm-push-button")
    expect(page.locator("#messages .message.out").last).to_contain_text(
        "paid · push", timeout=WAIT
    )

    page.click("[data-tab=all]")
    row_of(page, "田中 陽子").click()
    expect(page.locator("#thread-name")).to_have_text("田中 陽子")
    quiet(page)
    page.screenshot(path=screenshot_path("panel-inbox.png"))

    other = browser.new_context(viewport={"width": 1360, "height": 820})
    try:
        admin = other.new_page()
        login(admin, desk, *ADMIN, next_path="/admin/quota")
        expect(admin.locator("#chart rect").first).to_be_visible()
        admin.set_viewport_size({"width": 1360, "height": 1000})
        admin.screenshot(path=screenshot_path("panel-quota.png"))
    finally:
        other.close()


def test_login_with_a_wrong_password_stays_on_the_form(desk, page):
    from playwright.sync_api import expect

    page.goto(f"{desk.web}/", wait_until="load")
    assert "/login" in page.url
    page.fill("#username", AGENT[0])
    page.fill("#password", "not-the-password")
    page.click("form.login button[type=submit]")

    expect(page.locator(".login .error")).to_be_visible()
    login(page, desk, *AGENT)
    expect(page.locator(".bar .name")).to_have_text("Aiko")
    expect(page.locator("[data-tab=queue]")).to_contain_text("Queue")


def test_queue_shows_a_new_handoff_live_without_a_reload(desk, page):
    from playwright.sync_api import expect

    login(page, desk, *AGENT)
    wait_live(page)
    page.evaluate("window.stillTheSamePage = true")

    hand_off(desk, "Live Lena")
    hand_off(desk, "Live Leo")

    row = row_of(page, "Live Lena")
    expect(row).to_be_visible(timeout=WAIT)
    expect(row.locator(".status")).to_have_text("queued")
    expect(row.locator(".waiting")).to_contain_text("waiting")
    expect(row_of(page, "Live Leo")).to_be_visible(timeout=WAIT)
    assert page.evaluate("window.stillTheSamePage") is True

    # Keyboard: Alt+C claims the open conversation, Alt+N opens the next one.
    row.click()
    expect(page.locator("#thread-name")).to_have_text("Live Lena")
    page.keyboard.press("Alt+c")
    expect(page.locator("#thread-state")).to_have_text("Assigned to you")
    page.keyboard.press("Alt+n")
    expect(page.locator("#thread-name")).not_to_have_text("Live Lena")
    expect(page.locator("#thread-state")).to_have_text("Waiting in the queue")


def test_agent_claims_answers_free_and_closes(desk, page):
    from playwright.sync_api import expect

    user = claimed_by_agent(desk, page, "Free Fumi")
    page.click("[data-tab=mine]")
    expect(row_of(page, "Free Fumi")).to_be_visible()
    cost = page.locator("#cost")
    expect(cost).to_have_text(re.compile(r"^free · \d+:\d\d left$"))

    page.fill("#draft", "Hello Fumi, happy to help.")
    page.locator("#draft").press("Control+Enter")

    answer = page.locator("#messages .message.out").last
    expect(answer).to_contain_text("Hello Fumi, happy to help.", timeout=WAIT)
    expect(answer.locator(".stamp")).to_contain_text("free · reply")
    got = desk.received(user, 3)
    assert got[-1]["messages"] == [
        {"type": "text", "text": "Hello Fumi, happy to help."}
    ]
    assert got[-1]["method"] == "reply"

    page.click("#close")
    expect(page.locator("#thread-state")).to_have_text("Closed", timeout=WAIT)
    page.click("[data-tab=closed]")
    expect(row_of(page, "Free Fumi")).to_be_visible(timeout=WAIT)
    page.click("[data-tab=mine]")
    expect(row_of(page, "Free Fumi")).to_have_count(0)


def test_the_chosen_colleague_stays_chosen_when_the_user_writes(desk, page):
    """A live reload of the conversation redraws the transfer list; the agent's
    choice survives it, so Transfer hands over instead of requeueing."""
    from playwright.sync_api import expect

    user = claimed_by_agent(desk, page, "Transfer Toru")
    page.select_option("#transfer-to", ADMIN[0])

    desk.say(user, "Are you still there?")
    expect(page.locator("#messages .message.in").last).to_contain_text(
        "Are you still there?", timeout=WAIT
    )

    expect(page.locator("#transfer-to")).to_have_value(ADMIN[0])
    page.click("#transfer")
    expect(page.locator("#thread-state")).to_have_text(
        f"Assigned to {ADMIN[0]}", timeout=WAIT
    )


def test_the_every_second_countdowns_are_not_read_out(desk, page):
    """The list's and the cost badge's clocks tick every second; nothing that
    changes with them may sit in a live region, or a screen reader would say
    it every second."""
    from playwright.sync_api import expect

    claimed_by_agent(desk, page, "Quiet Kumi")
    cost = page.locator("#cost")
    expect(cost).to_have_text(re.compile(r"^free · \d+:\d\d left$"))
    before = cost.text_content()
    page.evaluate(
        """() => {
          window.announced = [];
          const live = "[aria-live], [role=status], [role=alert], [role=log]";
          const observer = new MutationObserver((records) => {
            for (const record of records) {
              window.announced.push(record.target.textContent);
            }
          });
          for (const node of document.querySelectorAll(live)) {
            const changes = { childList: true, characterData: true, subtree: true };
            observer.observe(node, changes);
          }
        }"""
    )

    expect(cost).not_to_have_text(before, timeout=5000)  # the clock ticked
    page.wait_for_timeout(1500)

    assert page.evaluate("() => window.announced") == []


def test_agent_uploads_a_photo_and_line_gets_its_public_address(desk, page, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    user = claimed_by_agent(desk, page, "Photo Pia")
    photo = tmp_path / "map.png"
    Image.new("RGB", (120, 80), (0, 128, 255)).save(photo)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all")

    expect(page.locator("#upload-button")).to_be_enabled()
    page.set_input_files("#upload-file", str(photo))
    expect(page.locator("#bundle li")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#upload-button")).to_be_enabled()
    # A refused file says why and leaves the bundle as it was.
    page.set_input_files("#upload-file", str(broken))
    expect(page.locator("#notice")).to_contain_text("JPEG and PNG", timeout=WAIT)
    expect(page.locator("#upload-button")).to_be_enabled()
    expect(page.locator("#bundle li")).to_have_count(1)
    page.click("#send")

    got = desk.received(user, 3)
    assert got[-1]["method"] == "reply"
    [image] = got[-1]["messages"]
    assert image["type"] == "image"
    assert image["originalContentUrl"].startswith(PUBLIC_URL + "/media/")
    assert image["originalContentUrl"].endswith(".png")
    assert image["previewImageUrl"].startswith(PUBLIC_URL + "/media/")
    original = requests.get(
        desk.web + image["originalContentUrl"][len(PUBLIC_URL) :], timeout=10
    )
    assert original.status_code == 200
    assert original.headers["Content-Type"] == "image/png"
    shown = Image.open(io.BytesIO(original.content))
    assert (shown.format, shown.size) == ("PNG", (120, 80))
    assert shown.convert("RGB").getpixel((60, 40)) == (0, 128, 255)
    preview = requests.get(
        desk.web + image["previewImageUrl"][len(PUBLIC_URL) :], timeout=10
    )
    assert preview.status_code == 200
    assert preview.headers["Content-Type"] == "image/jpeg"


def test_paid_push_is_asked_for_before_it_is_sent(desk, page):
    from playwright.sync_api import expect

    # No wait for agents: the acknowledgement spends the user's token at once.
    set_settings(desk, handoff_agent_wait_seconds=0)
    admin = _session(desk, *ADMIN)
    resp = admin.post(
        f"{desk.web}/api/v1/canned",
        json={"code": "first", "title": "Opening", "text": "First bubble"},
    )
    assert resp.status_code in (201, 409), resp.text
    try:
        user = hand_off(desk, "Paid Pia")
        desk.received(user, 3)  # the acknowledgement took the reply token
        login(page, desk, *AGENT)
        row = row_of(page, "Paid Pia")
        expect(row).to_be_visible(timeout=WAIT)
        row.click()
        page.click("#claim")
        expect(page.locator("#thread-state")).to_have_text("Assigned to you")

        page.fill("#draft", "/fir")
        menu = page.locator("#canned-menu")
        expect(menu).to_be_visible()
        expect(menu.locator(".canned-item")).to_have_count(1)
        page.locator("#draft").press("Enter")
        expect(page.locator("#draft")).to_have_value("First bubble")
        page.click("#add-bubble")
        page.fill("#draft", "Second bubble")
        expect(page.locator("#bundle li")).to_have_count(1)
        expect(page.locator("#cost")).to_have_text("paid push (1 message)")
        page.select_option("#if-expired", "hold")
        expect(page.locator("#cost")).to_have_text("held until the user writes")
        # The change of kind is what a screen reader hears, once.
        expect(page.locator("#cost-change")).to_have_text("held until the user writes")
        page.select_option("#if-expired", "ask")

        page.click("#send")
        dialog = page.locator("#confirm-push")
        expect(dialog).to_be_visible()
        expect(page.locator("#confirm-text")).to_contain_text("paid push")
        assert count_received(desk, user) == 3  # nothing went out yet

        page.click("#confirm-push-button")
        expect(page.locator("#messages .message.out").last).to_contain_text(
            "Second bubble", timeout=WAIT
        )
        got = desk.received(user, 4)
        assert got[-1]["method"] == "push"
        assert [m["text"] for m in got[-1]["messages"]] == [
            "First bubble",
            "Second bubble",
        ]
    finally:
        set_settings(desk, handoff_agent_wait_seconds=None)


def test_the_paid_push_badge_counts_the_held_answers_it_carries(desk, page):
    """A push carries the chat's held answers first: an answer held while the
    conversation is open makes the badge count its bubbles into the pushes."""
    from playwright.sync_api import expect

    # No wait for agents: the acknowledgement spends the user's token at once.
    set_settings(desk, handoff_agent_wait_seconds=0)
    try:
        user = claimed_by_agent(desk, page, "Held Hana")
        desk.received(user, 3)  # the acknowledgement took the reply token
        page.select_option("#if-expired", "ask")
        page.fill("#draft", "One more thing")
        cost = page.locator("#cost")
        expect(cost).to_have_text("paid push (1 message)")

        conversation_id = page.url.rsplit("/", 1)[-1]
        agent = _session(desk, *AGENT)
        resp = agent.post(
            f"{desk.web}/api/v1/conversations/{conversation_id}/messages",
            json={
                "messages": [{"type": "text", "text": f"held {n}"} for n in range(5)],
                "if_expired": "hold",
            },
            timeout=10,
        )
        assert resp.json()["delivery"] == "held", resp.text

        # Five held bubbles and the new one: two pushes, held answers first.
        expect(cost).to_have_text(
            "paid push (2 messages, held answers first)", timeout=WAIT
        )
        expect(page.locator("#held")).to_contain_text("held 4")
        assert count_received(desk, user) == 3  # nothing went out
    finally:
        set_settings(desk, handoff_agent_wait_seconds=None)


def test_an_answer_edited_after_a_lost_response_is_sent_as_written(desk, page):
    """The desk sent the first answer but the browser never heard; the agent
    corrects the draft and sends again: the correction is a new answer (held
    for the user's next message), not a retry of the first one."""
    from playwright.sync_api import expect

    login(page, desk, *AGENT)
    wait_live(page)
    user = hand_off(desk, "Lost Lena")
    row = row_of(page, "Lost Lena")
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    page.click("#claim")
    expect(page.locator("#thread-state")).to_have_text("Assigned to you")
    keys = []

    def lose_the_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the desk sends it through the reply token...
            route.abort("connectionreset")  # ...and its answer is lost
        else:
            route.continue_()

    page.route("**/api/v1/conversations/*/messages", lose_the_first_answer)
    page.select_option("#if-expired", "hold")
    page.fill("#draft", "The price is 100 yen.")
    page.click("#send")
    first = desk.received(user, 3)
    assert first[-1]["messages"] == [{"type": "text", "text": "The price is 100 yen."}]

    page.fill("#draft", "Sorry: the price is 1000 yen.")
    page.click("#send")
    expect(page.locator("#held")).to_contain_text("1000 yen", timeout=WAIT)
    desk.say(user, "Which is it?")

    got = desk.received(user, 4)
    assert got[-1]["messages"] == [
        {"type": "text", "text": "Sorry: the price is 1000 yen."}
    ]
    assert got[-1]["method"] == "reply"
    assert keys[0] != keys[1]


def test_admin_creates_a_rule_and_the_tester_finds_it(desk, page):
    from playwright.sync_api import expect

    login(page, desk, *ADMIN, next_path="/admin/rules")
    page.click("a[href='/admin/rules/new'] button")
    page.wait_for_url(re.compile(r"/admin/rules/new$"))
    wait_ready(page)
    page.fill("#f-id", "parking")
    page.fill("#f-name", "Parking")
    page.fill("#f-priority", "40")
    page.select_option("#f-kind", "contains")
    page.fill("#f-patterns", "parking\n駐車場")
    page.click("#reply-json summary")  # the replies' JSON, for power users
    page.fill(
        "#f-reply",
        '[{"type": "text", "text": "We have 12 spaces behind the shop.",'
        ' "quickReply": {"items": [{"type": "action", "action":'
        ' {"type": "message", "label": "Map", "text": "map"}}]}},'
        ' {"type": "flex", "altText": "Parking", "contents": {"type": "bubble",'
        ' "body": {"type": "box", "layout": "vertical", "contents":'
        ' [{"type": "text", "text": "Open 24 hours", "weight": "bold"}]}}}]',
    )
    expect(page.locator("#preview .bubble.text")).to_have_text(
        "We have 12 spaces behind the shop."
    )
    expect(page.locator("#preview .chip")).to_have_text("Map")
    expect(page.locator("#preview .flex-card")).to_have_text("Open 24 hours")
    # The cards cannot show a Flex message, so the JSON is the editor.
    expect(page.locator("#reply-note")).to_be_visible()
    expect(page.locator("#reply-cards")).to_be_hidden()
    page.click("#replay button[type=submit]")
    expect(page.locator("#replay-result [data-figure=events]")).to_have_text(
        re.compile(r"^\d+$")
    )
    page.click("#save")
    page.wait_for_url(re.compile(r"/admin/rules/parking$"))
    wait_ready(page)

    goto(page, f"{desk.web}/admin/rules")
    page.fill("#rule-search", "parking")
    expect(page.locator("#rules tbody tr")).to_have_count(1)
    page.fill("#tester-text", "Is there parking nearby?")
    page.click("#tester button[type=submit]")
    result = page.locator("#tester-result")
    expect(result.locator(".tester-rule")).to_contain_text("parking")
    expect(result.locator(".bubble.text")).to_have_text(
        "We have 12 spaces behind the shop."
    )

    # Switched off, the rule no longer answers.
    page.locator("#rules tbody tr[data-id=parking] input.enabled").uncheck()
    expect(page.locator("#notice")).to_have_text("Saved.")
    page.click("#tester button[type=submit]")
    expect(result.locator(".tester-rule")).not_to_contain_text("parking")


def test_a_new_rule_keeps_what_was_typed_before_its_script_ran(desk, page):
    """A slow network: the admin types into the new-rule form while its script
    is still loading; the script must not reset the form when it arrives."""
    from playwright.sync_api import expect

    login(page, desk, *ADMIN, next_path="/admin/rules")
    held = []
    page.route("**/js/admin_rule_edit.js", lambda route: held.append(route))
    # DOMContentLoaded waits for module scripts, so only the commit is awaited.
    page.goto(f"{desk.web}/admin/rules/new", wait_until="commit")
    page.fill("#f-id", "early")
    page.fill("#f-name", "Typed early")
    page.select_option("#f-kind", "exact")
    for _ in range(100):  # the script's request reaches the route soon after
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    expect(page.locator("#f-id")).to_have_value("early")  # the script has not run
    held[0].continue_()
    wait_ready(page)
    expect(page.locator("#f-id")).to_have_value("early")
    expect(page.locator("#f-name")).to_have_value("Typed early")
    expect(page.locator("#f-kind")).to_have_value("exact")
    expect(page.locator("#preview .bubble")).to_have_count(1)


def test_hostile_display_name_shows_as_text_and_runs_nothing(desk, page):
    from playwright.sync_api import expect

    from handoff.profiles import Profiles

    user = hand_off(desk, "Mallory", first=HOSTILE)

    class HostileLine:
        """LINE's profile as an attacker could shape it (the simulator caps
        names at LINE's 20 characters, so the cache is written directly)."""

        def get_profile(self, user_id):
            return {"displayName": HOSTILE, "pictureUrl": "javascript:alert(2)"}

    Profiles(desk.redis(), HostileLine()).refresh(user)

    login(page, desk, *ADMIN)
    row = row_of(page, HOSTILE)
    expect(row).to_be_visible(timeout=WAIT)
    expect(row.locator(".person")).to_have_text(HOSTILE)
    row.click()
    expect(page.locator("#thread-name")).to_have_text(HOSTILE)
    expect(page.locator("#profile-name")).to_have_text(HOSTILE)
    expect(page.locator("#messages .message.in .bubble").first).to_have_text(HOSTILE)
    assert page.locator("main img[src=x]").count() == 0
    assert page.locator("#profile-picture").is_hidden()
    page.wait_for_timeout(500)
    assert page.watch.dialogs == []


def test_state_changes_without_the_csrf_token_are_refused(desk, page):
    login(page, desk, *AGENT)
    statuses = page.evaluate(
        """async () => {
            const post = (headers) => fetch("/api/v1/canned", {
                method: "POST",
                headers: {"Content-Type": "application/json", ...headers},
                body: JSON.stringify({code: "csrf-probe", text: "x"}),
            }).then(async (r) => [r.status, (await r.json()).error]);
            const form = await fetch("/logout", {method: "POST"});
            return {
                none: await post({}),
                wrong: await post({"X-CSRF-Token": "forged"}),
                logout: form.status,
            };
        }"""
    )
    assert statuses["none"] == [403, "csrf_failed"]
    assert statuses["wrong"] == [403, "csrf_failed"]
    assert statuses["logout"] == 403
    page.goto(f"{desk.web}/")
    assert page.url.rstrip("/") == desk.web  # still logged in


def test_language_switch_changes_the_panel_and_is_remembered(desk, page):
    from playwright.sync_api import expect

    login(page, desk, *AGENT)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-tab=queue]")).to_contain_text("Queue")

    page.click("#lang-ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("[data-tab=queue]")).to_contain_text("待ち行列")
    page.reload()
    expect(page.locator("[data-tab=queue]")).to_contain_text("待ち行列")

    page.click("#lang-en")
    expect(page.locator("[data-tab=queue]")).to_contain_text("Queue")


def test_admin_sets_business_hours_in_the_form(desk, page):
    from playwright.sync_api import expect

    login(page, desk, *ADMIN, next_path="/admin/settings")
    hours = page.locator("#s-business_hours")
    hours.locator("[name=sat]").fill("10:00 18:00")
    page.click("#settings button[type=submit]")
    expect(page.locator("#errors")).to_contain_text("write ranges as 09:00-18:00")

    hours.locator("[name=sat]").fill("10:00-13:00, 14:00-18:00")
    hours.locator("[name=holidays]").fill("2026-12-31")
    page.click("#settings button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Saved.")

    saved = _session(desk, *ADMIN).get(f"{desk.web}/api/v1/settings").json()
    assert saved["business_hours"]["weekly"]["sat"] == [
        ["10:00", "13:00"],
        ["14:00", "18:00"],
    ]
    assert saved["business_hours"]["holidays"] == ["2026-12-31"]
    set_settings(desk, business_hours=None)


def test_admin_adds_an_agent_and_a_canned_reply(desk, page):
    from playwright.sync_api import expect

    login(page, desk, *ADMIN, next_path="/admin/agents")
    page.fill("#a-username", "ken")
    page.fill("#a-name", "Ken <i>")
    page.fill("#a-password", "ken-password-1")
    page.click("#new-agent button[type=submit]")
    row = page.locator("#agents tr[data-username=ken]")
    expect(row).to_contain_text("Ken <i>")

    goto(page, f"{desk.web}/admin/canned")
    page.fill("#c-code", "bye")
    page.fill("#c-title", "Goodbye")
    page.fill("#c-text", "Thank you for writing to us.")
    page.click("#new-canned button[type=submit]")
    expect(page.locator("#canned tr[data-code=bye] .bubble")).to_have_text(
        "Thank you for writing to us."
    )
    page.fill("#c-code", "bye")  # taken: refused with a message, nothing lost
    page.fill("#c-text", "Another text")
    page.click("#new-canned button[type=submit]")
    expect(page.locator("#notice")).to_have_class(re.compile("error"))
    expect(page.locator("#c-text")).to_have_value("Another text")

    admin = _session(desk, *ADMIN)
    assert admin.get(f"{desk.web}/api/v1/agents/ken").json()["role"] == "agent"
    codes = [c["code"] for c in admin.get(f"{desk.web}/api/v1/canned").json()["canned"]]
    assert codes.count("bye") == 1


def test_typing_shows_lines_loading_animation(desk, page):
    from playwright.sync_api import expect

    set_settings(desk, handoff_agent_wait_seconds=0)
    try:
        user = hand_off(desk, "Typing Tomo")
        desk.received(user, 3)
    finally:
        set_settings(desk, handoff_agent_wait_seconds=None)
    login(page, desk, *AGENT)
    row = row_of(page, "Typing Tomo")
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    page.click("#claim")
    expect(page.locator("#thread-state")).to_have_text("Assigned to you")
    assert desk.api("get", f"/users/{user}/chat")["loading"] is False

    page.locator("#draft").press_sequentially("Let me check", delay=20)

    deadline = time.monotonic() + 10
    while not desk.api("get", f"/users/{user}/chat")["loading"]:
        assert time.monotonic() < deadline, "no loading animation was shown"
        time.sleep(0.2)


def test_a_refused_event_stream_is_tried_again(desk, page):
    refused = []

    def refuse_first(route):
        if not refused:
            refused.append(route.request.url)
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="busy")
        else:
            route.continue_()

    page.route("**/api/v1/events", refuse_first)
    login(page, desk, *AGENT)

    wait_live(page)
    assert len(refused) == 1


def test_the_budget_warning_reaches_the_agents_panel(desk, page):
    """The budget guard's once-a-month warning shows on an open inbox.

    The guard runs here against the desk's Redis with LINE's count given (the
    month's pushes cannot be run up in a test); what it publishes reaches the
    browser through the desk's event stream as it would from a worker.
    """
    from playwright.sync_api import expect

    from bot.budget import Budget
    from bot.ledger import Ledger
    from store import key

    login(page, desk, *AGENT)
    wait_live(page)
    redis = desk.redis()
    ledger = Ledger(redis)
    month, _day = ledger.buckets(ledger.clock())
    mark = key("quota", "warned", month, "warn")
    redis.delete(mark)
    try:
        guard = Budget(redis, ledger, quota=lambda: (170, 200)).state()

        assert guard["state"] == "warn"
        expect(page.locator("#notice")).to_have_text(
            "The month's budget is running low.", timeout=WAIT
        )
    finally:
        redis.delete(mark)


def _png(width, height) -> bytes:
    """A small solid PNG of `width` x `height` pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xd0\x40\x40" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _send_photo(desk, user, data) -> str:
    """The user sends a photo from the phone; returns its message id."""
    resp = requests.post(
        f"{desk.sim}/simulator/api/users/{user}/image", data=data, timeout=10
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["message"]["id"]


def _wait_for_photo(desk, name, message_id):
    """Wait until the desk has recorded the photo in `name`'s conversation;
    returns the conversation id."""
    admin = _session(desk, *ADMIN)
    deadline = time.time() + WAIT / 1000
    while time.time() < deadline:
        listed = admin.get(f"{desk.web}/api/v1/conversations", timeout=10).json()
        for conversation in listed["conversations"]:
            if conversation["display_name"] != name:
                continue
            shown = admin.get(
                f"{desk.web}/api/v1/conversations/{conversation['id']}", timeout=10
            ).json()
            ids = [(m.get("message") or {}).get("id") for m in shown["messages"]]
            if message_id in ids:
                return conversation["id"]
        time.sleep(0.2)
    raise AssertionError(f"the desk never recorded {name}'s photo")


def _shown_photo(page):
    """The open conversation's one photo from a user, once it has loaded."""
    from playwright.sync_api import expect

    photo = page.locator("#messages .message.in img.thumb")
    expect(photo).to_have_count(1, timeout=WAIT)
    photo.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const img = document.querySelector('#messages img.thumb');"
        " return img && img.complete && img.naturalWidth > 0; }",
        timeout=WAIT,
    )
    return photo


def test_agent_sees_the_photo_a_user_sent(desk, page):
    from playwright.sync_api import expect

    login(page, desk, *AGENT)
    wait_live(page)
    user = hand_off(desk, "Photo Pia")
    message_id = _send_photo(desk, user, _png(24, 16))

    row = row_of(page, "Photo Pia")
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    photo = _shown_photo(page)
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [24, 16]
    link = page.locator("#messages .message.in a:has(img.thumb)")
    href = link.get_attribute("href")
    assert href.startswith("/api/v1/conversations/")
    assert href.endswith(f"/content/{message_id}")
    assert link.get_attribute("target") == "_blank"

    # Opened on its own (what the link's new tab shows), the photo displays.
    page.goto(desk.web + href)
    page.wait_for_function(
        "() => document.images.length === 1 && document.images[0].naturalWidth > 0",
        timeout=WAIT,
    )


def test_a_photo_line_no_longer_keeps_says_so(desk, page):
    from playwright.sync_api import expect

    user = hand_off(desk, "Gone Goro")
    message_id = _send_photo(desk, user, _png(8, 8))
    conversation_id = _wait_for_photo(desk, "Gone Goro", message_id)
    # LINE's keeping period ends before anyone has looked.
    resp = requests.delete(f"{desk.sim}/simulator/api/content/{message_id}", timeout=10)
    assert resp.status_code == 204

    login(page, desk, *ADMIN, next_path=f"/conversations/{conversation_id}")
    missing = page.locator("#messages .message.in .user-media.missing")
    expect(missing).to_have_text("No longer available on LINE", timeout=WAIT)
    expect(page.locator("#messages img.thumb")).to_have_count(0)


def test_a_users_file_is_a_download_and_lapsed_audio_says_so(desk, page):
    from playwright.sync_api import expect

    from tests.helpers import text_event

    user = hand_off(desk, "Files Fumiko")
    file_event = text_event(user)
    file_event["message"] = {
        "id": "901000000000000001",
        "type": "file",
        "fileName": "見積書.pdf",
        "fileSize": 1536,
    }
    audio_event = text_event(user)
    audio_event["message"] = {
        "id": "901000000000000002",
        "type": "audio",
        "duration": 61000,
        "contentProvider": {"type": "line"},
    }
    # Content LINE does not keep (any more): the player must say so.
    resp = requests.post(
        f"{desk.sim}/simulator/api/webhook",
        json={"events": [file_event, audio_event]},
        timeout=10,
    )
    assert resp.status_code == 202, resp.text

    login(page, desk, *AGENT)
    row = row_of(page, "Files Fumiko")
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    file_link = page.locator("#messages .user-media.file a")
    expect(file_link).to_have_text("📄 見積書.pdf", timeout=WAIT)
    expect(page.locator("#messages .user-media.file .size")).to_have_text("1.5 KB")
    assert file_link.get_attribute("href").endswith("/content/901000000000000001")
    assert file_link.get_attribute("download") == ""
    audio = page.locator("#messages .message.in .user-media.missing")
    expect(audio).to_have_text("No longer available on LINE", timeout=WAIT)


def test_a_photo_the_browser_cannot_show_is_a_download(desk, page):
    """The desk served it (LINE still keeps it) but it does not decode: the
    agent gets the bytes, not a claim that LINE would not give them."""
    from playwright.sync_api import expect

    user = hand_off(desk, "Broken Bunta")
    message_id = _send_photo(desk, user, b"\x89PNG\r\n\x1a\n" + b"not a picture")
    conversation_id = _wait_for_photo(desk, "Broken Bunta", message_id)

    login(page, desk, *AGENT, next_path=f"/conversations/{conversation_id}")
    download = page.locator("#messages .message.in .user-media a[download]")
    expect(download).to_have_text("⬇ Image", timeout=WAIT)
    assert download.get_attribute("href").endswith(f"/content/{message_id}")
    expect(page.locator("#messages .user-media.missing")).to_have_count(0)


def test_a_photo_that_failed_shows_when_the_conversation_is_opened_again(desk, page):
    """What could not be shown is asked for again when the agent opens the
    conversation again, as the panel's words tell them to."""
    from playwright.sync_api import expect

    login(page, desk, *AGENT)
    wait_live(page)
    user = hand_off(desk, "Retry Ren")
    message_id = _send_photo(desk, user, _png(12, 10))
    # LINE fails the panel's look at the photo and the desk's look at why.
    desk.fault(path=f"/v2/bot/message/{message_id}/content", status=500, count=2)

    row = row_of(page, "Retry Ren")
    expect(row).to_be_visible(timeout=WAIT)
    row.click()
    missing = page.locator("#messages .message.in .user-media.missing")
    expect(missing).to_have_text("Could not load it from LINE", timeout=WAIT)

    row.click()
    photo = _shown_photo(page)
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [12, 10]
    expect(missing).to_have_count(0)
