"""The phone page in a real browser, against the whole desk started by `make run`.

`python -m run` runs in a subprocess on a free port with no LINE credentials
(so the simulator is on, as on a newcomer's machine), and Debian's Chromium,
driven by Playwright, chats with the bot from `/simulator`.
"""

import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib
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
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """`make run`'s desk on a free port; yields its base URL and its output file."""
    need_chromium()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LINE_") and k not in ("REDIS_URL", "ADMIN_PASSWORD")
    }
    # Empty, not absent: a developer's .env must not switch the simulator off.
    env |= {
        "TSUNAGI_ENV": "development",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LINE_CHANNEL_SECRET": "",
        "LINE_CHANNEL_ACCESS_TOKEN": "",
        "REDIS_URL": "",
    }
    log_path = tmp_path_factory.mktemp("desk") / "output.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "run"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log_path)
        yield base, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(base, process, log_path):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the desk exited:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(base + "/simulator/api/stats", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"the desk did not start:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 820})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], errors


def test_make_run_prints_the_urls_and_the_demo_admin(desk):
    base, log_path = desk
    output = log_path.read_text()
    assert f"phone:  {base}/simulator" in output
    assert f"panel:  {base}/" in output
    assert re.search(r"admin:  admin / \S{10,}", output)
    assert output.count("phone:") == 1


def test_message_from_the_phone_gets_a_free_answer(desk, page):
    from playwright.sync_api import expect

    base, _ = desk
    page.goto(base + "/simulator")

    page.fill("#new-name", "Aiko <b>&</b>")
    page.click("#new-user button[type=submit]")
    bot_rows = page.locator("#chat .row.bot")
    expect(bot_rows).to_have_count(1, timeout=15000)
    expect(page.locator("#chat-title")).to_contain_text("Aiko <b>&</b>")

    page.fill("#text", "hello <script>alert(1)</script>")
    page.press("#text", "Enter")

    expect(bot_rows).to_have_count(2, timeout=15000)
    user_bubble = page.locator("#chat .row.user .bubble").last
    expect(user_bubble).to_have_text("hello <script>alert(1)</script>")
    answer = bot_rows.last
    expect(answer.locator(".cost")).to_have_text("free · reply")
    expect(answer.locator(".bubble").first).not_to_be_empty()
    expect(page.locator("#bill-count")).to_have_text("0 / 200")


def test_quick_reply_tap_sends_its_text_and_sticker_renders(desk, page):
    from playwright.sync_api import expect

    base, _ = desk
    page.goto(base + "/simulator")
    page.fill("#new-name", "Ken")
    page.click("#new-user button[type=submit]")
    bot_rows = page.locator("#chat .row.bot")
    expect(bot_rows).to_have_count(1, timeout=15000)

    quick = page.locator("#quick button")
    if quick.count():
        label = quick.first.inner_text()
        quick.first.click()
        expect(bot_rows).to_have_count(2, timeout=15000)
        assert page.locator("#chat .row.user .bubble").last.inner_text()
        assert label

    before = bot_rows.count()
    page.click("#sticker-toggle")
    page.click("#stickers button >> nth=0")
    expect(page.locator("#chat .row.user .sticker").last).to_have_text("😄")
    expect(bot_rows).to_have_count(before + 1, timeout=15000)

    page.set_input_files(
        "#file", files=[{"name": "red.png", "mimeType": "image/png", "buffer": png()}]
    )
    photo = page.locator("#chat .row.user img.photo").last
    expect(photo).to_be_visible(timeout=15000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 8", arg=photo.element_handle()
    )
    current = page.locator("#users button[aria-current=true]")
    user_id = current.get_attribute("data-user-id")
    chat = requests.get(f"{base}/simulator/api/users/{user_id}/chat", timeout=5)
    image = [
        e
        for e in chat.json()["entries"]
        if e["from"] == "user" and e.get("message", {}).get("type") == "image"
    ][-1]
    assert _eventually(lambda: _delivered(base, image["webhookEventId"]))


def test_picked_avatar_is_shown_in_the_user_list(desk, page):
    from playwright.sync_api import expect

    base, _ = desk
    page.goto(base + "/simulator")
    page.select_option("#new-avatar", "panda")
    page.fill("#new-name", "Sora")
    page.click("#new-user button[type=submit]")
    item = page.locator("#users li", has_text="Sora")
    expect(item).to_have_count(1, timeout=15000)
    user_id = item.locator("button").get_attribute("data-user-id")
    user = requests.get(f"{base}/simulator/api/users/{user_id}", timeout=5).json()
    assert user["avatar"] == "panda"
    avatar = item.locator("img.avatar")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle()
    )


def test_block_and_unblock_from_the_phone(desk, page):
    from playwright.sync_api import expect

    base, _ = desk
    page.goto(base + "/simulator")
    page.fill("#new-name", "Rin")
    page.click("#new-user button[type=submit]")
    expect(page.locator("#chat .row.bot")).to_have_count(1, timeout=15000)

    page.click("#block")
    expect(page.locator("#chat .system").last).to_have_text("You blocked Tsunagi")
    expect(page.locator("#compose")).to_be_hidden()
    expect(page.locator("#users li", has_text="Rin")).to_contain_text("blocked")

    page.click("#follow")
    expect(page.locator("#chat .system").last).to_have_text(
        "You added Tsunagi as a friend"
    )
    expect(page.locator("#compose")).to_be_visible()
    expect(page.locator("#chat .row.bot")).to_have_count(2, timeout=15000)


def png(side=8) -> bytes:
    """A small, valid red PNG."""
    row = b"\x00" + b"\xff\x00\x00" * side
    raw = zlib.compress(row * side)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def test_agent_push_shows_billed_on_the_phone_and_in_the_bill(desk, page):
    """An agent's answer with no live token is pushed: billed, and counted."""
    from playwright.sync_api import expect

    base, log_path = desk
    user = requests.post(
        base + "/simulator/api/users", json={"displayName": "Mika"}, timeout=5
    ).json()
    greeted = requests.get(
        f"{base}/simulator/api/users/{user['userId']}/messages",
        params={"wait": 10, "min": 1},
        timeout=15,
    ).json()
    assert greeted["messages"][0]["method"] == "reply"

    sent = _agent_answers(base, log_path, user["userId"], _order_card())
    assert sent["delivery"] == "push", sent

    page.goto(f"{base}/simulator?user={user['userId']}")
    billed = page.locator("#chat .row.bot .cost.billed")
    expect(billed).to_have_count(1, timeout=15000)
    expect(billed).to_have_text("billed · push")
    expect(page.locator("#chat .card .card-title")).to_have_text("Order #1042")
    expect(page.locator("#bill-count")).to_have_text(re.compile(r"^[1-9]\d* / 200$"))

    page.click("#chat .card .actions button >> text=Thanks")
    expect(page.locator("#chat .row.user .bubble").last).to_have_text("Thanks!")


def test_flex_bubble_and_quick_reply_postback_render_and_tap(desk, page):
    from playwright.sync_api import expect

    base, log_path = desk
    user = requests.post(
        base + "/simulator/api/users", json={"displayName": "Yui"}, timeout=5
    ).json()
    requests.get(
        f"{base}/simulator/api/users/{user['userId']}/messages",
        params={"wait": 10, "min": 1},
        timeout=15,
    )
    sent = _agent_answers(base, log_path, user["userId"], _delivery_flex())
    assert sent["delivery"] == "push", sent

    page.goto(f"{base}/simulator?user={user['userId']}")
    expect(page.locator("#chat .flex-text.bold")).to_have_text("配達のご案内")
    quick = page.locator("#quick button")
    expect(quick).to_have_count(2)
    quick.last.click()
    expect(page.locator("#chat .row.user .bubble").last).to_have_text("明日の午後")
    assert _eventually(lambda: _delivered(base, "postback"))

    page.fill("#text", "いつ届きますか？")
    page.screenshot(path=screenshot_path("simulator.png"))


def _delivered(base, wanted) -> bool:
    """True once the webhook log shows a 2xx for an event of type or id `wanted`."""
    log = requests.get(base + "/simulator/api/webhooks", timeout=5).json()
    return any(
        wanted in d["types"] + d["eventIds"] and d["status"] == 200
        for d in log["deliveries"]
    )


def _eventually(check, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _delivery_flex():
    return {
        "type": "flex",
        "altText": "配達のご案内",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {"type": "text", "text": "配達のご案内", "weight": "bold"},
                    {"type": "text", "text": "ご希望の時間帯を選んでください。"},
                    {"type": "separator"},
                    {"type": "text", "text": "Delivery: pick a time slot."},
                ],
            },
        },
        "quickReply": {
            "items": [
                {
                    "type": "action",
                    "action": {
                        "type": "postback",
                        "label": "午前",
                        "data": "slot=am",
                        "displayText": "明日の午前",
                    },
                },
                {
                    "type": "action",
                    "action": {
                        "type": "postback",
                        "label": "午後",
                        "data": "slot=pm",
                        "displayText": "明日の午後",
                    },
                },
            ]
        },
    }


def _order_card():
    return {
        "type": "template",
        "altText": "Your order",
        "template": {
            "type": "buttons",
            "title": "Order #1042",
            "text": "Your parcel ships tomorrow.",
            "actions": [
                {"type": "postback", "label": "Track it", "data": "track=1042"},
                {"type": "message", "label": "Thanks", "text": "Thanks!"},
            ],
        },
    }


def _agent_answers(base, log_path, user_id, message):
    """Log in as the demo admin (from `make run`'s block) and answer the user."""
    found = re.search(r"admin:  (\S+) / (\S+)", log_path.read_text())
    username, password = found.groups()
    api = base + "/api/v1"
    login = requests.post(
        api + "/auth/token",
        json={"username": username, "password": password},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    conversations = requests.get(api + "/conversations", headers=auth, timeout=10)
    assert conversations.status_code == 200, conversations.text
    body = conversations.json()
    items = body.get("conversations", body) if isinstance(body, dict) else body
    conversation = next(c for c in items if c["chat_id"] == user_id)
    sent = requests.post(
        f"{api}/conversations/{conversation['id']}/messages",
        json={"messages": [message], "if_expired": "push"},
        headers=auth,
        timeout=15,
    )
    assert sent.status_code == 200, sent.text
    return sent.json()
