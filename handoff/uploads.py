"""Photos agents upload from the composer, hosted where LINE can fetch them.

A LINE image message carries no bytes, only two https addresses LINE's
servers fetch: `originalContentUrl` (JPEG or PNG, at most 10 MB) and
`previewImageUrl` (JPEG or PNG, at most 1 MB). So the desk hosts what an
agent uploads at `PUBLIC_URL/media/{id}.{jpg|png}` (`GET`, public: LINE sends
no credentials) and answers `POST /api/v1/uploads` with both addresses, which
the panel puts into the answer like any other image message.

Every upload is decoded with Pillow and encoded again: only JPEG and PNG are
taken (LINE shows nothing else), a decompression bomb is refused (more
pixels than Pillow's `Image.MAX_IMAGE_PIXELS`), the EXIF orientation is
applied first and then every piece of metadata is dropped (a phone photo's
GPS position must not reach customers). The preview is a JPEG of at most
`PREVIEW_SIDE` pixels a side, well under LINE's 1 MB.

Both images live in Redis (like `handoff/content.py`, because every web
process shares Redis and no disk), for `upload_ttl_days` (30: LINE fetches
again whenever a user opens the chat), within `UPLOAD_STORE_BYTES` in all.
A full store refuses new uploads (507) instead of evicting images already
sent, which would break them in the users' chats.
"""

import io
import logging
import re
import secrets
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request, send_file
from PIL import Image, ImageOps, UnidentifiedImageError

from api import bp
from api.audit import audit
from api.auth import current_account, public, require_role
from api.errors import ApiError
from api.openapi import doc
from api.settings import get_settings, integer, register_setting
from store import key

log = logging.getLogger(__name__)

#: The public media route (not under /api: LINE fetches it without a login).
media_bp = Blueprint("media", __name__)

#: LINE's limits for an image message's two addresses.
ORIGINAL_MAX_BYTES = 10 * 1024 * 1024
PREVIEW_MAX_BYTES = 1024 * 1024
#: The preview's longest side, in pixels.
PREVIEW_SIDE = 1024
#: The largest request body the upload route reads: the file plus room for
#: the multipart framing. A larger file is cut off by Werkzeug (413).
BODY_MAX_BYTES = ORIGINAL_MAX_BYTES + 64 * 1024
#: Pillow's format name → (Content-Type, file extension).
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
JPEG_QUALITY = 90
#: An original over LINE's limit after re-encoding is made smaller this many
#: times at most (JPEG quality down to the floor first, then size).
FIT_STEPS = 8
JPEG_QUALITY_FLOOR = 70
PREVIEW_QUALITY = 80
#: An upload's id: 128 random bits, url-safe base64 (22 characters).
MEDIA_NAME = re.compile(r"^([A-Za-z0-9_-]{22})\.(jpg|png)$")

register_setting(
    "upload_ttl_days",
    30,
    integer(1, 365),
    "Days an image agents uploaded stays at its address for LINE to fetch.",
)

# KEYS: the original's entry, the preview's entry, the zset of stored ids by
# when they lapse (ms), the hash of their sizes. ARGV: original id, bytes,
# type, preview id, bytes, type, now (ms), TTL (ms), budget. Forgets lapsed
# entries, then stores both images only if they fit the budget beside what is
# stored: returns 1 when stored, 0 when the store is full. Nothing stored is
# ever evicted early (it may be in a user's chat already).
_PUT_SCRIPT = """
local now, ttl, budget = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, old in ipairs(lapsed) do redis.call('HDEL', KEYS[4], old) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[4])) do total = total + tonumber(v) end
local size = string.len(ARGV[2]) + string.len(ARGV[5])
if total + size > budget then return 0 end
for i, entry in ipairs({1, 4}) do
  local id, data, ctype = ARGV[entry], ARGV[entry + 1], ARGV[entry + 2]
  redis.call('HSET', KEYS[i], 'data', data, 'type', ctype)
  redis.call('PEXPIRE', KEYS[i], ttl)
  redis.call('ZADD', KEYS[3], now + ttl, id)
  redis.call('HSET', KEYS[4], id, string.len(data))
end
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[3], tonumber(last[2]))
redis.call('PEXPIREAT', KEYS[4], tonumber(last[2]))
return 1
"""


class UploadError(Exception):
    """An upload the desk refuses; `status` and `code` are the API's answer."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Encoded:
    """An upload made fit for LINE: the original and its preview, re-encoded."""

    original: bytes
    content_type: str
    extension: str
    preview: bytes


@dataclass(frozen=True)
class Stored:
    """Where an upload is and until when (epoch seconds)."""

    original_id: str
    preview_id: str
    extension: str
    size: int
    expires_at: float


def public_base(config) -> str | None:
    """`PUBLIC_URL` without its trailing slash when it is https, else None
    (LINE fetches images only over https, so uploading is off)."""
    url = (getattr(config, "public_url", "") or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        return None
    return url


def encode(data: bytes) -> Encoded:
    """Decode `data` as JPEG or PNG and encode it again without metadata.

    Raises UploadError: 415 for another type, 422 for bytes that do not
    decode or more pixels than Pillow allows, 413 when even the re-encoded
    image is over LINE's 10 MB.
    """
    try:
        with warnings.catch_warnings():
            # Between Pillow's limit and twice it, Pillow only warns.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = image.format
            if kind not in FORMATS:
                raise UploadError(
                    415,
                    "unsupported_type",
                    f"LINE shows JPEG and PNG images only, not {kind or 'this file'}",
                )
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            422,
            "too_many_pixels",
            f"the image has more than {Image.MAX_IMAGE_PIXELS} pixels",
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            415, "unsupported_type", "LINE shows JPEG and PNG images only"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        log.info("uploads: an image did not decode (%s)", type(exc).__name__)
        raise UploadError(
            422, "invalid_image", "the file is not a readable JPEG or PNG image"
        ) from None
    icc = image.info.get("icc_profile")
    # The pixels as the camera meant them to be seen; the EXIF tag goes.
    image = ImageOps.exif_transpose(image)
    if image.mode == "CMYK":
        # LINE's apps show CMYK JPEGs badly; the CMYK profile goes with it.
        image, icc = image.convert("RGB"), None
    content_type, extension = FORMATS[kind]
    original = _fit(image, kind, icc)
    return Encoded(original, content_type, extension, _preview(image))


def _fit(image: Image.Image, kind: str, icc) -> bytes:
    """`image` saved within LINE's 10 MB: re-encoding can make a photo larger
    than the file that came in, so a JPEG steps down in quality, then either
    kind in size (a fifth smaller each time), before a 413."""
    quality, steps = JPEG_QUALITY, 0
    while True:
        original = _save(image, kind, icc, quality)
        if len(original) <= ORIGINAL_MAX_BYTES:
            return original
        if steps == FIT_STEPS:
            raise UploadError(
                413,
                "upload_too_large",
                f"the image is larger than LINE takes ({ORIGINAL_MAX_BYTES} bytes)",
            )
        steps += 1
        if kind == "JPEG" and quality > JPEG_QUALITY_FLOOR:
            quality -= 10
        else:
            width, height = image.size
            size = (max(1, width * 4 // 5), max(1, height * 4 // 5))
            image = image.resize(size, Image.Resampling.LANCZOS)


def _save(image: Image.Image, kind: str, icc, quality: int = JPEG_QUALITY) -> bytes:
    """`image` in `kind` with no EXIF, XMP or text chunks (only the colour
    profile is kept, so colours do not shift)."""
    out = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if kind == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=quality, optimize=True, **extra)
    else:
        image.save(out, "PNG", optimize=True, **extra)
    return out.getvalue()


def _preview(image: Image.Image) -> bytes:
    """A JPEG of at most PREVIEW_SIDE pixels a side and PREVIEW_MAX_BYTES;
    transparency is laid on white (JPEG has none)."""
    small = image.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    if small.mode in ("RGBA", "LA", "P", "PA"):
        small = small.convert("RGBA")
        ground = Image.new("RGB", small.size, "white")
        ground.paste(small, mask=small.getchannel("A"))
        small = ground
    elif small.mode != "RGB":
        small = small.convert("RGB")
    quality = PREVIEW_QUALITY
    while True:
        out = io.BytesIO()
        small.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= PREVIEW_MAX_BYTES or quality <= 30:
            return out.getvalue()
        quality -= 15


class Uploads:
    """The upload store in Redis. `redis` must not decode responses."""

    def __init__(self, redis, *, budget: int, clock=time.time):
        self.redis = redis
        self.budget = budget
        self.clock = clock
        self._put = redis.register_script(_PUT_SCRIPT)

    def put(self, encoded: Encoded, ttl_seconds: int) -> Stored:
        """Store both images for `ttl_seconds`; UploadError 507 when they do
        not fit the budget beside what is stored."""
        original_id = secrets.token_urlsafe(16)
        preview_id = secrets.token_urlsafe(16)
        now_ms = int(self.clock() * 1000)
        stored = self._put(
            keys=[
                key("upload", original_id),
                key("upload", preview_id),
                key("upload", "expiry"),
                key("upload", "sizes"),
            ],
            args=[
                original_id,
                encoded.original,
                encoded.content_type,
                preview_id,
                encoded.preview,
                "image/jpeg",
                now_ms,
                ttl_seconds * 1000,
                self.budget,
            ],
        )
        if not stored:
            raise UploadError(
                507,
                "upload_store_full",
                "the desk's store for uploaded images is full "
                f"(UPLOAD_STORE_BYTES, {self.budget} bytes); uploads are taken "
                "again as older ones lapse",
            )
        return Stored(
            original_id,
            preview_id,
            encoded.extension,
            len(encoded.original) + len(encoded.preview),
            now_ms / 1000 + ttl_seconds,
        )

    def get(self, media_id: str) -> tuple[bytes, str, int] | None:
        """(bytes, Content-Type, seconds left) of a stored image, or None."""
        entry_key = key("upload", media_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(entry_key)
            pipe.pttl(entry_key)
            entry, left_ms = pipe.execute()
        if entry.get(b"data") is None or left_ms is None or left_ms <= 0:
            return None
        return entry[b"data"], entry[b"type"].decode(), left_ms // 1000


def _runtime():
    return current_app.extensions["tsunagi"]


def _store() -> Uploads:
    runtime = _runtime()
    return Uploads(
        # A connection that keeps bytes as bytes, with the web's short time-outs.
        runtime.web_queue.connection,
        budget=runtime.config.upload_store_bytes,
        clock=runtime.delivery.clock,
    )


@bp.before_app_request
def _allow_upload_body():
    """The upload route alone reads bodies over the app's 1 MiB (MAX_BODY)."""
    if request.endpoint == "api.upload":
        request.max_content_length = BODY_MAX_BYTES


UPLOADED_SCHEMA = {
    "type": "object",
    "properties": {
        "originalContentUrl": {"type": "string", "format": "uri"},
        "previewImageUrl": {"type": "string", "format": "uri"},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}


@bp.post("/uploads")
@doc(
    "Host a JPEG or PNG photo for an image message "
    "(multipart/form-data, the file in field `file`)",
    responses={
        201: ("the image's two addresses, for an image message", UPLOADED_SCHEMA),
        409: "`upload_unavailable`: PUBLIC_URL is not set to an https address",
        413: "`upload_too_large`: over LINE's 10 MB",
        415: "`unsupported_type`: not JPEG or PNG",
        422: "`invalid_image` (does not decode), `too_many_pixels`, or no `file`",
        507: "`upload_store_full`: UPLOAD_STORE_BYTES is used up",
    },
)
@require_role("agent")
def upload():
    """The photo is re-encoded without its metadata (EXIF GPS included) and
    kept for `upload_ttl_days` at `PUBLIC_URL/media/…`, where LINE fetches it
    when users open the chat; the answer goes into an image message as is."""
    runtime = _runtime()
    base = public_base(runtime.config)
    if base is None:
        raise ApiError(
            409,
            "upload_unavailable",
            "uploading needs PUBLIC_URL, the https address where LINE reaches "
            "this desk",
        )
    username = current_account()["username"]
    sent = request.files.get("file")
    if sent is None:
        raise ApiError(422, "invalid", "send the image as the field `file`", "file")
    data = sent.read(ORIGINAL_MAX_BYTES + 1)
    if len(data) > ORIGINAL_MAX_BYTES:
        raise ApiError(
            413,
            "upload_too_large",
            f"the image is larger than LINE takes ({ORIGINAL_MAX_BYTES} bytes)",
        )
    try:
        encoded = encode(data)
        ttl = get_settings(runtime.redis)["upload_ttl_days"] * 86400
        stored = _store().put(encoded, ttl)
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, exc.message, "file") from None
    audit(
        username,
        "upload.create",
        stored.original_id,
        preview=stored.preview_id,
        bytes=stored.size,
        received_bytes=len(data),
        content_type=encoded.content_type,
    )
    log.info("uploads: %s stored %d bytes", username, stored.size)
    return {
        "originalContentUrl": f"{base}/media/{stored.original_id}.{stored.extension}",
        "previewImageUrl": f"{base}/media/{stored.preview_id}.jpg",
        "expires_at": datetime.fromtimestamp(stored.expires_at, UTC).isoformat(
            timespec="seconds"
        ),
    }, 201


@media_bp.get("/media/<name>")
@public
def get_media(name):
    """An uploaded image, for LINE's servers (and anyone with its 128-bit
    random address): cached publicly, but no longer than it is kept."""
    match = MEDIA_NAME.match(name)
    if match is None:
        abort(404)
    media_id, extension = match.groups()
    found = _store().get(media_id)
    if found is None:
        abort(404)
    data, content_type, left = found
    if FORMATS["JPEG" if extension == "jpg" else "PNG"][0] != content_type:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype=content_type, conditional=True)
    response.headers["Cache-Control"] = f"public, max-age={left}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
