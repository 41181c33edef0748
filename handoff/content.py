"""Photos, videos, audio and files LINE users send, for agents to see.

LINE keeps what a user sends (`contentProvider.type == "line"`) for a limited
time and serves it from its data host; the panel reads it through
`GET /api/v1/conversations/{id}/content/{message_id}` (handoff/api.py), which
checks that the message is in that conversation and then asks `ContentCache`.

The cache is in Redis, not on disk: Redis is the one thing every web process
already shares (processes may run on several machines, with no shared or
lasting disk), so one fetch from LINE serves every agent. Its memory is bounded
by `CONTENT_CACHE_BYTES`: entries last `CACHE_SECONDS`, the oldest are evicted
first when a new one would pass the budget, and an item larger than a quarter
of the budget is not kept at all (it is fetched again when viewed), so one
video cannot empty the cache of everyone's photos.
"""

import logging
import re
import time
import unicodedata
from dataclasses import dataclass

from bot.line_api import (
    CONTENT_NOT_READY,
    CONTENT_TOO_LARGE,
    Content,
    LineError,
)
from store import key

log = logging.getLogger(__name__)

#: Message types whose bytes LINE keeps.
MEDIA_TYPES = ("image", "video", "audio", "file")
#: How long fetched content stays in Redis, and in the agent's browser.
CACHE_SECONDS = 3600
#: Content types shown in the page (else it is a download), per message type.
#: No SVG or HTML: opened in a tab those run script on the desk's origin.
INLINE_TYPES = {
    "image": frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
    "video": frozenset({"video/mp4", "video/webm", "video/quicktime"}),
    "audio": frozenset(
        {
            "audio/mp4",
            "audio/m4a",
            "audio/x-m4a",
            "audio/aac",
            "audio/mpeg",
            "audio/ogg",
            "audio/wav",
            "audio/webm",
        }
    ),
}
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/webm": "webm",
}
#: A file name keeps at most this many characters.
NAME_MAX = 120
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\"<>:|?*;]+')

# KEYS: the entry, the zset of cached ids by when cached (ms), the hash of
# their sizes. ARGV: id, bytes, content type, now (ms), TTL (ms), budget,
# the entry keys' prefix. Forgets lapsed entries, evicts the oldest until the
# new one fits the budget, then stores it. An entry cached in the same
# millisecond as the newest (or by a process whose clock is behind) is scored
# 1 ms after it: ZPOPMIN breaks equal scores by id, not by age, so only
# distinct scores keep "the oldest is evicted first" true.
_PUT_SCRIPT = """
local id, data, ctype = ARGV[1], ARGV[2], ARGV[3]
local now, ttl, budget = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local size = string.len(data)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
for _, old in ipairs(lapsed) do redis.call('HDEL', KEYS[3], old) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[3])) do total = total + tonumber(v) end
while total + size > budget do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  if #oldest == 0 then break end
  total = total - tonumber(redis.call('HGET', KEYS[3], oldest[1]) or '0')
  redis.call('HDEL', KEYS[3], oldest[1])
  redis.call('DEL', ARGV[7] .. oldest[1])
end
redis.call('HSET', KEYS[1], 'data', data, 'type', ctype)
redis.call('PEXPIRE', KEYS[1], ttl)
local score = now
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if #newest > 0 and tonumber(newest[2]) >= score then
  score = tonumber(newest[2]) + 1
end
redis.call('ZADD', KEYS[2], score, id)
redis.call('HSET', KEYS[3], id, size)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return size
"""


class ContentError(Exception):
    """Content that cannot be shown; `status` and `code` are the API's answer."""

    def __init__(self, status: int, code: str, message: str, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Shown:
    """How the content goes to the browser."""

    content_type: str
    inline: bool
    download_name: str


class ContentCache:
    """Content of user messages by message id: from Redis, else from LINE.

    `redis` must not decode responses (the values are bytes). `line` is a
    `LineClient`; `max_bytes` the largest content fetched at all; `budget`
    the cache's memory in bytes (0 switches the cache off).
    """

    def __init__(self, redis, line, *, max_bytes: int, budget: int, clock=time.time):
        self.redis = redis
        self.line = line
        self.max_bytes = max_bytes
        self.budget = budget
        self.clock = clock
        self._put = redis.register_script(_PUT_SCRIPT)

    def get(self, message_id: str) -> Content:
        """The content, fetched from LINE on a miss; refusals as ContentError."""
        entry = self.redis.hgetall(key("content", message_id)) if self.budget else {}
        if entry.get(b"data") is not None:
            return Content(entry[b"data"], entry[b"type"].decode())
        try:
            content = self.line.get_message_content(message_id, self.max_bytes)
        except LineError as err:
            raise _refusal(err, self.max_bytes) from None
        if self.budget and len(content.data) <= self.budget // 4:
            self._put(
                keys=[
                    key("content", message_id),
                    key("content", "cached"),
                    key("content", "sizes"),
                ],
                args=[
                    message_id,
                    content.data,
                    content.content_type,
                    int(self.clock() * 1000),
                    CACHE_SECONDS * 1000,
                    self.budget,
                    key("content", ""),
                ],
            )
        return content


def _refusal(err: LineError, max_bytes: int) -> ContentError:
    """LINE's answer as the API's: gone, too large, not ready, or unavailable."""
    if err.kind == CONTENT_TOO_LARGE:
        return ContentError(
            413,
            "content_too_large",
            f"the content is larger than the desk shows ({max_bytes} bytes); "
            "ask the user to send it another way",
        )
    if err.kind == CONTENT_NOT_READY:
        return ContentError(
            503,
            "content_not_ready",
            "LINE is still preparing this content; try again shortly",
            {"Retry-After": "5"},
        )
    if err.status in (404, 410):
        return ContentError(
            404, "content_gone", "the content is no longer available on LINE"
        )
    log.warning(
        "content: LINE did not serve content (%s, HTTP %s)", err.kind, err.status
    )
    return ContentError(
        502, "line_unavailable", "LINE did not serve the content; try again later"
    )


def shown(message: dict, message_id: str, content_type: str) -> Shown:
    """Inline for a photo, video or audio of a type browsers play safely;
    anything else (files included) is an attachment under a safe name."""
    kind = message.get("type", "file")
    base = content_type.split(";")[0].strip().lower()
    inline = base in INLINE_TYPES.get(kind, ())
    if kind == "file":
        name = safe_name(message.get("fileName")) or f"{message_id}.bin"
    else:
        name = f"{message_id}.{_EXTENSIONS.get(base, 'bin')}"
    if not inline and kind != "file":
        # A photo LINE labels oddly is not shown under that label.
        base = "application/octet-stream"
    return Shown(base or "application/octet-stream", inline, name)


def safe_name(name) -> str:
    """A user's file name, fit for Content-Disposition: no path, no control or
    quoting characters, at most `NAME_MAX` characters (the extension kept)."""
    if not isinstance(name, str):
        return ""
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE_NAME.sub("_", name).strip(" ._")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: NAME_MAX - len(ext) - 1] + "." + ext
        else:
            name = name[:NAME_MAX]
    return name
