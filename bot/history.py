"""Per-chat history: every inbound event and outbound message, kept for a while.

One Redis stream per chat, trimmed to the retention on every write and expiring
with it, so an idle chat's history leaves by itself. The panel and the API read
conversations from here.
"""

import json
import logging
import time

from store import key

log = logging.getLogger(__name__)

INBOUND = "in"
OUTBOUND = "out"


def summarize_event(event: dict) -> tuple[str, str, str]:
    """(kind, text, media) for an inbound event, e.g. ("text", "hi", "")."""
    kind = event.get("type", "unknown")
    if kind != "message":
        data = (event.get("postback") or {}).get("data", "")
        return kind, data, ""
    message = event.get("message") or {}
    mtype = message.get("type", "unknown")
    if mtype == "text":
        return "text", message.get("text", ""), ""
    if mtype == "sticker":
        return "sticker", "", f"{message.get('packageId')}/{message.get('stickerId')}"
    if mtype == "location":
        text = message.get("address") or message.get("title") or ""
        return "location", text, f"{message.get('latitude')},{message.get('longitude')}"
    return mtype, message.get("fileName", ""), message.get("id", "")


def summarize_message(message: dict) -> tuple[str, str, str]:
    """(kind, text, media) for an outbound message object."""
    mtype = message.get("type", "unknown")
    if mtype == "text":
        return "text", message.get("text", ""), ""
    if mtype == "sticker":
        return "sticker", "", f"{message.get('packageId')}/{message.get('stickerId')}"
    if mtype in ("image", "video", "audio"):
        return mtype, "", message.get("originalContentUrl", "")
    return mtype, message.get("altText", ""), ""


class History:
    """Reads and writes chat histories."""

    def __init__(self, redis, retention_days=90, clock=time.time):
        self.redis = redis
        self.retention = retention_days * 24 * 3600
        self.clock = clock

    def _key(self, chat_id):
        return key("history", chat_id)

    def _add(self, pipe, chat_id, fields, when):
        minid = int((when - self.retention) * 1000)
        pipe.xadd(self._key(chat_id), fields, minid=max(minid, 0), approximate=True)
        pipe.expire(self._key(chat_id), self.retention)

    def record_event(self, pipe, chat_id: str, event: dict, when=None) -> None:
        """Add an inbound event to `pipe`."""
        when = self.clock() if when is None else when
        kind, text, media = summarize_event(event)
        fields = {
            "direction": INBOUND,
            "kind": kind,
            "text": text,
            "media": media,
            "time": f"{when:.3f}",
            "event_id": event.get("webhookEventId", ""),
            "body": json.dumps(event, ensure_ascii=False),
        }
        self._add(pipe, chat_id, fields, when)

    def record_sent(
        self,
        pipe,
        chat_id: str,
        messages: list[dict],
        *,
        delivery,
        billable,
        origin="bot",
        actor="",
        send_id="",
        when=None,
    ):
        """Add outbound messages to `pipe`; `billable` is charged to the first."""
        when = self.clock() if when is None else when
        for position, message in enumerate(messages):
            kind, text, media = summarize_message(message)
            fields = {
                "direction": OUTBOUND,
                "kind": kind,
                "text": text,
                "media": media,
                "time": f"{when:.3f}",
                "delivery": delivery,
                "billable": billable if position == 0 else 0,
                "origin": origin,
                "actor": actor,
                "send_id": send_id,
                "body": json.dumps(message, ensure_ascii=False),
            }
            self._add(pipe, chat_id, fields, when)

    def read(self, chat_id: str, count=200, *, after="-") -> list[dict]:
        """The chat's entries, oldest first (up to `count`, after an entry id)."""
        start = f"({after}" if after != "-" else "-"
        rows = self.redis.xrange(self._key(chat_id), start, "+", count=count)
        return [_row(entry_id, fields) for entry_id, fields in rows]


def _row(entry_id, fields) -> dict:
    row = dict(fields)
    row["id"] = entry_id
    row["time"] = float(row.get("time", 0))
    if "billable" in row:
        row["billable"] = int(row["billable"])
    row["body"] = json.loads(row.get("body") or "{}")
    return row
