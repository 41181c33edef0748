"""The phone page (`/simulator`): a LINE chat screen for simulated users.

The page is static HTML, CSS and plain JavaScript (no build step, no CDN);
it talks to the control API only. A strict Content-Security-Policy keeps
anything a user or the bot wrote from running as script.
"""

import hashlib
import json
import logging
from pathlib import Path
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, send_from_directory

from bot.stickers import STICKERS

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: Bot images may come from anywhere (LINE requires https URLs); scripts may not.
CSP = (
    "default-src 'self'; img-src 'self' data: blob: https: http:; "
    "script-src 'self'; style-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
AVATAR_COLOURS = ("#7c9cbf", "#e0a458", "#8fbc8f", "#c97b9a", "#9c89c9", "#6fb7b7")
#: Avatars a user can pick on the phone page (drawn as emoji, offline).
AVATARS = {
    "cat": "\U0001f431",
    "dog": "\U0001f436",
    "bear": "\U0001f43b",
    "rabbit": "\U0001f430",
    "panda": "\U0001f43c",
    "frog": "\U0001f438",
}

bp = Blueprint(
    "phone",
    __name__,
    static_folder="static",
    static_url_path="/static",
)


@bp.get("")
def page():
    """The phone page."""
    response = send_from_directory(STATIC, "phone.html", max_age=0)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/stickers.js")
def stickers():
    """The sticker table as a script, shared with the panel (bot/stickers.py)."""
    body = f"const STICKERS = {json.dumps(list(STICKERS), ensure_ascii=False)};\n"
    response = Response(body, mimetype="text/javascript")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/avatars/<user_id>.svg")
def avatar(user_id):
    """A round avatar (the picked emoji, else the initial), for `pictureUrl`."""
    user = current_app.extensions["simulator"].user(user_id) or {}
    name = user.get("displayName") or "?"
    colour = AVATAR_COLOURS[
        int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % len(AVATAR_COLOURS)
    ]
    initial = AVATARS.get(user.get("avatar", "")) or escape(
        name.strip()[:1].upper() or "?"
    )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" '
        'viewBox="0 0 96 96">'
        f'<circle cx="48" cy="48" r="48" fill="{colour}"/>'
        '<text x="48" y="62" font-size="42" text-anchor="middle" '
        f'font-family="sans-serif" fill="#fff">{initial}</text></svg>'
    )
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
