"""The rule editor's reply cards in real Chromium, against a whole desk.

Admins build a rule's replies as cards (text, sticker, image, quick-reply
chips) instead of LINE JSON; the JSON stays for power users and is what is
saved. These tests check what reaches the desk (`GET /api/v1/rules/<id>` and
the rules tester), that a reply the cards cannot show is kept whole, and the
cards ⇄ JSON conversion itself (through the page's own module).
"""

import json
import re

import pytest

from bot.answers import DISPLAY_NAME_FALLBACK, HANDOFF_DATA, OFFER_PERSON
from tests.browser import test_panel as panel

pytestmark = pytest.mark.browser

# The desk, browser and page of the panel's tests (a desk of this module's own).
desk = panel.desk
browser = panel.browser
context = panel.context
page = panel.page

HTTPS_ONLY = "LINE needs an https:// address for images."


def admin(desk):
    return panel._session(desk, *panel.ADMIN)


def reply_json(page) -> list:
    """The reply as the JSON textarea holds it (what Save sends)."""
    return json.loads(page.input_value("#f-reply"))


def new_rule(page, desk, rule_id, phrase):
    panel.login(page, desk, *panel.ADMIN, next_path="/admin/rules/new")
    page.fill("#f-id", rule_id)
    page.fill("#f-name", rule_id.title())
    page.fill("#f-priority", "1")
    page.select_option("#f-kind", "exact")
    page.fill("#f-patterns", phrase)


def test_admin_builds_a_two_message_reply_with_cards(desk, page):
    from playwright.sync_api import expect

    new_rule(page, desk, "card-hours", "when do you open")
    card = page.locator('[data-card="0"]')
    text = "Hello {display_name}, we open at 10."
    card.locator(".reply-text").fill(text)
    expect(card.locator(".counter")).to_have_text(f"{len(text)} / 5000")
    expect(card).to_contain_text("{display_name} is replaced by the user's name.")

    # A sticker card, added first and moved below a spare card, which goes.
    page.click("#card-add")
    page.select_option('[data-card="1"] .reply-kind', "sticker")
    page.select_option('[data-card="1"] .reply-sticker', "11537/52002736")
    page.click("#card-add")
    page.click('[data-card="1"] .move-down')
    expect(page.locator('[data-card="2"] .reply-sticker')).to_have_value(
        "11537/52002736"
    )
    page.click('[data-card="1"] .remove')
    expect(page.locator(".reply-card")).to_have_count(2)
    expect(page.locator('[data-card="0"] .remove')).to_be_enabled()

    # Quick replies: a text chip and the desk's own "talk to a person".
    page.click("#chip-add")
    chip = page.locator('[data-chip="0"]')
    chip.locator(".chip-label").fill("Map")
    chip.locator(".chip-text").fill("map please")
    expect(chip.locator(".counter")).to_have_text("3 / 20")
    page.click("#chip-add")
    page.select_option('[data-chip="1"] .chip-kind', "handoff")
    expect(page.locator('[data-chip="1"] .chip-label')).to_have_value(
        OFFER_PERSON["action"]["label"]
    )

    expected = [
        {"type": "text", "text": text},
        {
            "type": "sticker",
            "packageId": "11537",
            "stickerId": "52002736",
            "quickReply": {
                "items": [
                    {
                        "type": "action",
                        "action": {
                            "type": "message",
                            "label": "Map",
                            "text": "map please",
                        },
                    },
                    OFFER_PERSON,
                ]
            },
        },
    ]
    assert reply_json(page) == expected
    expect(page.locator("#preview .bubble.text")).to_have_text(text)
    expect(page.locator("#preview .bubble.sticker")).to_have_text("🙏")
    expect(page.locator("#preview .chip")).to_have_text(
        ["Map", OFFER_PERSON["action"]["label"]]
    )

    page.click("#save")
    page.wait_for_url(re.compile(r"/admin/rules/card-hours$"))
    panel.wait_ready(page)

    session = admin(desk)
    stored = session.get(f"{desk.web}/api/v1/rules/card-hours", timeout=10).json()
    assert stored["reply"] == expected
    tested = session.post(
        f"{desk.web}/api/v1/rules/test", json={"text": "when do you open"}, timeout=10
    ).json()
    assert tested["rule"] == "card-hours"
    expected[0]["text"] = text.replace("{display_name}", DISPLAY_NAME_FALLBACK)
    assert tested["messages"] == expected

    # The stored rule comes back as the same cards.
    expect(page.locator('[data-card="0"] .reply-text')).to_have_value(text)
    expect(page.locator('[data-card="1"] .reply-kind')).to_have_value("sticker")
    expect(page.locator('[data-chip="1"] .chip-kind')).to_have_value("handoff")
    expect(page.locator("#reply-note")).to_be_hidden()


def test_a_flex_reply_stays_json_and_survives_an_unrelated_change(desk, page):
    from playwright.sync_api import expect

    reply = [
        {"type": "text", "text": "Our menu", "sender": {"name": "Chef"}},
        {
            "type": "flex",
            "altText": "Menu",
            "contents": {
                "type": "bubble",
                "body": {
                    "type": "box",
                    "layout": "vertical",
                    "contents": [{"type": "text", "text": "Ramen 900 yen"}],
                },
            },
        },
    ]
    session = admin(desk)
    resp = session.post(
        f"{desk.web}/api/v1/rules",
        json={
            "id": "card-menu",
            "name": "Menu",
            "match": {"kind": "exact", "patterns": ["menu please"]},
            "reply": reply,
        },
        timeout=10,
    )
    assert resp.status_code == 201, resp.text

    panel.login(page, desk, *panel.ADMIN, next_path="/admin/rules/card-menu")
    expect(page.locator("#reply-note")).to_have_text(
        "This reply uses advanced LINE messages; edit it as JSON."
    )
    expect(page.locator("#reply-cards")).to_be_hidden()
    expect(page.locator("#f-reply")).to_be_visible()  # the disclosure is open
    expect(page.locator("#preview .flex-card")).to_have_text("Ramen 900 yen")

    page.fill("#f-name", "Menu of the day")
    page.click("#save")
    expect(page.locator("#notice")).to_have_text("Saved.")

    stored = session.get(f"{desk.web}/api/v1/rules/card-menu", timeout=10).json()
    assert stored["name"] == "Menu of the day"
    assert stored["reply"] == reply


def test_editing_the_json_redraws_the_cards(desk, page):
    from playwright.sync_api import expect

    new_rule(page, desk, "card-json", "json edit")
    page.click("#reply-json summary")
    page.fill("#f-reply", '[{"type": "image", "originalContentUrl": "https://x/a.jpg"')
    expect(page.locator("#reply-note")).to_have_text("The JSON is not valid yet.")
    page.fill(
        "#f-reply",
        '[{"type": "image", "originalContentUrl": "https://x/a.jpg",'
        ' "previewImageUrl": "https://x/a.jpg"}]',
    )
    expect(page.locator("#reply-note")).to_be_hidden()
    card = page.locator('[data-card="0"]')
    expect(card.locator(".reply-kind")).to_have_value("image")
    expect(card.locator(".reply-original")).to_have_value("https://x/a.jpg")
    expect(card.locator(".reply-preview")).to_have_value("")  # same as the image

    # Typing in a card writes the JSON back.
    card.locator(".reply-preview").fill("https://x/small.jpg")
    assert reply_json(page) == [
        {
            "type": "image",
            "originalContentUrl": "https://x/a.jpg",
            "previewImageUrl": "https://x/small.jpg",
        }
    ]


def test_an_http_image_address_is_refused_and_nothing_is_lost(desk, page):
    from playwright.sync_api import expect

    new_rule(page, desk, "card-photo", "photo please")
    card = page.locator('[data-card="0"]')
    card.locator(".reply-text").fill("Here it is")
    page.click("#card-add")
    second = page.locator('[data-card="1"]')
    second.locator(".reply-kind").select_option("image")
    second.locator(".reply-original").fill("http://shop.example/photo.jpg")
    expect(second.locator("p.error:visible")).to_have_text(HTTPS_ONLY)

    page.click("#save")
    expect(page.locator("#errors")).to_contain_text(HTTPS_ONLY)
    expect(second.locator(".reply-errors")).to_contain_text(HTTPS_ONLY)
    assert page.url.endswith("/admin/rules/new")
    resp = admin(desk).get(f"{desk.web}/api/v1/rules/card-photo", timeout=10)
    assert resp.status_code == 404
    # Everything typed is still there.
    expect(page.locator("#f-name")).to_have_value("Card-Photo")
    expect(card.locator(".reply-text")).to_have_value("Here it is")
    expect(second.locator(".reply-original")).to_have_value(
        "http://shop.example/photo.jpg"
    )

    second.locator(".reply-original").fill("https://shop.example/photo.jpg")
    expect(second.locator("p.error:visible")).to_have_count(0)
    page.click("#save")
    page.wait_for_url(re.compile(r"/admin/rules/card-photo$"))
    stored = admin(desk).get(f"{desk.web}/api/v1/rules/card-photo", timeout=10).json()
    assert stored["reply"][1] == {
        "type": "image",
        "originalContentUrl": "https://shop.example/photo.jpg",
        "previewImageUrl": "https://shop.example/photo.jpg",
    }


def test_the_desks_refusals_show_beside_the_card_they_concern(desk, page):
    from playwright.sync_api import expect

    new_rule(page, desk, "card-long", "long label")
    page.locator('[data-card="0"] .reply-text').fill("Pick one")
    page.click("#chip-add")
    chip = page.locator('[data-chip="0"]')
    chip.locator(".chip-label").fill("A label far too long for LINE")
    expect(chip.locator(".counter")).to_have_class(re.compile(r"\bover\b"))
    chip.locator(".chip-text").fill("long")

    page.click("#save")
    expect(chip.locator(".reply-errors")).to_contain_text(
        "action.label: must be at most 20 characters long"
    )
    expect(page.locator("#errors")).to_contain_text(
        "reply[0].quickReply.items[0].action.label"
    )
    assert page.url.endswith("/admin/rules/new")


def test_cards_and_json_convert_both_ways_without_loss(desk, page):
    panel.login(page, desk, *panel.ADMIN, next_path="/admin/rules/new")
    shown = [
        [{"type": "text", "text": ""}],
        [
            {"type": "text", "text": "a"},
            {"type": "sticker", "packageId": "1", "stickerId": "2"},
            {
                "type": "image",
                "originalContentUrl": "https://x/o.jpg",
                "previewImageUrl": "https://x/p.jpg",
                "quickReply": {
                    "items": [
                        {
                            "type": "action",
                            "action": {"type": "postback", "label": "b", "data": "c"},
                        },
                        {
                            "type": "action",
                            "action": {
                                "type": "postback",
                                "label": "d",
                                "data": "e",
                                "displayText": "f",
                            },
                        },
                        OFFER_PERSON,
                    ]
                },
            },
        ],
    ]
    text = {"type": "text", "text": "a"}
    action = {"type": "message", "label": "m", "text": "m"}

    def quick(*items):
        return {**text, "quickReply": {"items": list(items)}}

    advanced = [
        [text, {"type": "flex", "altText": "x", "contents": {}}],
        [{**text, "emojis": [{"index": 0, "productId": "p", "emojiId": "001"}]}],
        [{**text, "sender": {"name": "Chef"}}],
        [{"type": "textV2", "text": "a"}],
        [
            {
                "type": "location",
                "title": "t",
                "address": "a",
                "latitude": 0,
                "longitude": 0,
            }
        ],
        [{"type": "sticker", "packageId": 1, "stickerId": 2}],
        [
            {
                "type": "image",
                "originalContentUrl": "https://x/o.jpg",
                "previewImageUrl": "",
            }
        ],
        [quick({"type": "action", "action": action}), text],  # not on the last one
        [quick({"type": "action", "imageUrl": "https://x/i.png", "action": action})],
        [
            quick(
                {
                    "type": "action",
                    "action": {"type": "uri", "label": "u", "uri": "https://x"},
                }
            )
        ],
        [quick({"type": "action", "action": {**action, "extra": 1}})],
        [
            quick(
                {
                    "type": "action",
                    "action": {
                        "type": "postback",
                        "label": "b",
                        "data": "c",
                        "inputOption": "openKeyboard",
                    },
                }
            )
        ],
        [quick()],
        [text] * 6,
        [],
        {"type": "text", "text": "a"},
    ]
    result = page.evaluate(
        """async ([shown, advanced]) => {
          const cards = await import("/static/js/reply_cards.js");
          return {
            again: shown.map((reply) => cards.toMessages(cards.toCards(reply))),
            refused: advanced.map((reply) => cards.toCards(reply)),
            handoff: [cards.HANDOFF_DATA, cards.OFFER_PERSON],
          };
        }""",
        [shown, advanced],
    )

    assert result["again"] == shown
    assert result["refused"] == [None] * len(advanced)
    assert result["handoff"] == [
        HANDOFF_DATA,
        {
            "label": OFFER_PERSON["action"]["label"],
            "displayText": OFFER_PERSON["action"]["displayText"],
        },
    ]
