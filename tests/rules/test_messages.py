"""Message objects are checked against LINE's schema, errors naming the field."""

import pytest

from bot.messages import validate_messages, validate_schema

HANDOFF_ITEM = {
    "type": "action",
    "action": {"type": "postback", "label": "担当者と話す", "data": "action=handoff"},
}


@pytest.mark.parametrize(
    "message",
    [
        {"type": "text", "text": "こんにちは"},
        {"type": "text", "text": "x", "quickReply": {"items": [HANDOFF_ITEM]}},
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {
            "type": "image",
            "originalContentUrl": "https://example.com/a.jpg",
            "previewImageUrl": "https://example.com/a-s.jpg",
        },
        {
            "type": "video",
            "originalContentUrl": "https://example.com/a.mp4",
            "previewImageUrl": "https://example.com/a.jpg",
        },
        {
            "type": "audio",
            "originalContentUrl": "https://example.com/a.m4a",
            "duration": 6000,
        },
        {
            "type": "location",
            "title": "本社",
            "address": "東京都",
            "latitude": 35.68,
            "longitude": 139.76,
        },
        {
            "type": "flex",
            "altText": "営業時間",
            "contents": {
                "type": "bubble",
                "body": {
                    "type": "box",
                    "layout": "vertical",
                    "contents": [{"type": "text", "text": "9:00-18:00"}],
                },
            },
        },
        {
            "type": "template",
            "altText": "メニュー",
            "template": {
                "type": "buttons",
                "text": "ご用件は？",
                "actions": [
                    {"type": "uri", "label": "Web", "uri": "https://example.com"}
                ],
            },
        },
    ],
    ids=lambda m: m["type"],
)
def test_every_message_type_line_takes_is_valid(message):
    assert validate_messages([message]) == []


@pytest.mark.parametrize(
    "messages, field, wording",
    [
        ("hello", "messages", "list"),
        ([], "messages", "1 to 5"),
        ([{"type": "text", "text": "x"}] * 6, "messages", "1 to 5"),
        ([1], "messages[0]", "object"),
        ([{"text": "x"}], "messages[0].type", "is required"),
        ([{"type": "txt", "text": "x"}], "messages[0].type", "unknown type 'txt'"),
        ([{"type": "text"}], "messages[0].text", "is required"),
        ([{"type": "text", "text": ""}], "messages[0].text", "at least 1"),
        ([{"type": "text", "text": "a" * 5001}], "messages[0].text", "at most 5000"),
        (
            [{"type": "sticker", "packageId": 446, "stickerId": "1"}],
            "messages[0].packageId",
            "string",
        ),
        (
            [
                {
                    "type": "image",
                    "originalContentUrl": "not a url",
                    "previewImageUrl": "https://example.com/a.jpg",
                }
            ],
            "messages[0].originalContentUrl",
            "uri",
        ),
        (
            [
                {"type": "text", "text": "x"},
                {"type": "text", "text": "x", "quickReply": {"items": []}},
            ],
            "messages[1].quickReply.items",
            "at least 1",
        ),
        (
            [
                {
                    "type": "text",
                    "text": "x",
                    "quickReply": {"items": [HANDOFF_ITEM] * 14},
                }
            ],
            "messages[0].quickReply.items",
            "at most 13",
        ),
        (
            [
                {
                    "type": "text",
                    "text": "x",
                    "quickReply": {
                        "items": [{"type": "action", "action": {"type": "postback"}}]
                    },
                }
            ],
            "messages[0].quickReply.items[0].action.data",
            "is required",
        ),
        (
            [
                {
                    "type": "flex",
                    "altText": "a",
                    "contents": {
                        "type": "bubble",
                        "body": {
                            "type": "box",
                            "layout": "vertical",
                            "contents": [{"type": "bogus"}],
                        },
                    },
                }
            ],
            "messages[0].contents.body.contents[0].type",
            "unknown type 'bogus'",
        ),
        (
            [
                {
                    "type": "template",
                    "altText": "a",
                    "template": {"type": "confirm", "text": "ok?"},
                }
            ],
            "messages[0].template.actions",
            "is required",
        ),
    ],
)
def test_invalid_message_names_the_field(messages, field, wording):
    errors = validate_messages(messages)

    assert [e["field"] for e in errors] == [field]
    assert wording in errors[0]["message"]


def test_quick_reply_label_longer_than_line_shows_is_refused():
    item = {
        "type": "action",
        "action": {
            "type": "message",
            "label": "担当者と話す / Talk to a person",
            "text": "x",
        },
    }

    errors = validate_messages(
        [{"type": "text", "text": "x", "quickReply": {"items": [item]}}]
    )

    assert errors == [
        {
            "field": "messages[0].quickReply.items[0].action.label",
            "message": "must be at most 20 characters long",
        }
    ]


def test_custom_field_prefix_is_used_in_errors():
    errors = validate_messages([{"type": "text"}], field="reply")

    assert errors == [{"field": "reply[0].text", "message": "is required"}]


def test_reply_request_body_is_checked_whole():
    body = {"replyToken": "rt", "messages": [{"type": "text", "text": "x"}]}

    assert validate_schema("ReplyMessageRequest", body) == []
    assert validate_schema("ReplyMessageRequest", {"messages": body["messages"]}) == [
        {"field": "replyToken", "message": "is required"}
    ]


def test_push_request_with_too_many_messages_is_refused():
    body = {"to": "U1", "messages": [{"type": "text", "text": "x"}] * 6}

    errors = validate_schema("PushMessageRequest", body)

    assert {"field": "messages", "message": "must hold at most 5 items"} in errors


def test_unknown_schema_name_is_an_error():
    with pytest.raises(KeyError):
        validate_schema("NoSuchRequest", {})


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            {
                "type": "image",
                "originalContentUrl": "http://x.example/a.jpg",
                "previewImageUrl": "https://x.example/a.jpg",
            },
            "messages[0].originalContentUrl",
        ),
        (
            {
                "type": "audio",
                "originalContentUrl": "http://x.example/a.m4a",
                "duration": 1000,
            },
            "messages[0].originalContentUrl",
        ),
    ],
)
def test_media_addresses_must_be_https(message, field):
    errors = validate_messages([message])
    assert [e["field"] for e in errors] == [field]


def test_https_media_addresses_pass():
    image = {
        "type": "image",
        "originalContentUrl": "https://x.example/a.jpg",
        "previewImageUrl": "https://x.example/p.jpg",
    }
    assert validate_messages([image]) == []
