"""Canned replies: shared snippets agents insert by a short code.

A canned reply is a code (`hours`, `refund-policy`), a title, and 1 to 5 LINE
message objects (a plain `text` is stored as one text message). They are
checked against LINE's schema when saved, so an agent never picks one that
LINE would refuse.
"""

import json
import logging
import re
import time

from store import key

log = logging.getLogger(__name__)

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TITLE_MAX = 100
MAX_CANNED = 1000


class CannedError(ValueError):
    """A canned reply that cannot be saved; `field` names the part at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class CannedExists(Exception):
    """A canned reply with that code exists already."""


class Canned:
    """The desk's canned replies, in one Redis hash by code."""

    def __init__(self, redis, clock=time.time):
        self.redis = redis
        self.clock = clock
        self.name = key("canned")

    def list(self) -> list[dict]:
        items = [json.loads(raw) for raw in self.redis.hvals(self.name)]
        return sorted(items, key=lambda item: item["code"])

    def get(self, code: str) -> dict | None:
        raw = self.redis.hget(self.name, code)
        return json.loads(raw) if raw else None

    def create(self, body: dict, author: str) -> dict:
        """Save a new canned reply from an API body; `CannedError` names the field."""
        item = self.clean(body)
        if self.redis.hlen(self.name) >= MAX_CANNED:
            raise CannedError(
                "code", f"the desk holds at most {MAX_CANNED} canned replies"
            )
        item |= {"author": author, "created_at": self.clock()}
        if not self.redis.hsetnx(
            self.name, item["code"], json.dumps(item, ensure_ascii=False)
        ):
            raise CannedExists(item["code"])
        return item

    def delete(self, code: str) -> dict | None:
        """Remove the reply; returns what was removed, or None if there was none."""
        item = self.get(code)
        if item is not None:
            self.redis.hdel(self.name, code)
        return item

    @staticmethod
    def clean(body) -> dict:
        from bot.messages import validate_messages

        if not isinstance(body, dict):
            raise CannedError("", "the body must be a JSON object")
        code = body.get("code")
        if not isinstance(code, str) or not CODE.match(code):
            raise CannedError(
                "code",
                "code must be 1 to 32 lower-case letters, digits, '-' or '_', "
                f"got {code!r}",
            )
        title = body.get("title", "")
        if not isinstance(title, str) or len(title) > TITLE_MAX:
            raise CannedError("title", f"title must be text of at most {TITLE_MAX}")
        has_text, has_messages = "text" in body, "messages" in body
        if has_text == has_messages:
            raise CannedError("text", "give either text or messages")
        if has_text:
            if not isinstance(body["text"], str) or not body["text"].strip():
                raise CannedError("text", "text must not be empty")
            messages = [{"type": "text", "text": body["text"]}]
            field = "text"
        else:
            messages = body["messages"]
            field = "messages"
        errors = validate_messages(messages, field="messages")
        if errors:
            error = errors[0]
            name = "text" if field == "text" else error["field"]
            raise CannedError(name, error["message"])
        return {"code": code, "title": title, "messages": messages}
