"""The simulator's control API (`/simulator/api`): the phone page and tests.

Create users, act as them (follow, text, sticker, image, postback), read
what they received, inspect the bill, arm faults, inject raw events. It has
no auth because it only ever exists in development (`simulator.init_app`
refuses to mount it in production); a change asked for by another site's
page is refused all the same (see `_refuse_cross_site`). Errors are
`{"error", "message", "field"?}`, like the desk's own API.
"""

import io
import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request, send_file

from simulator import events
from simulator.phone import AVATARS
from simulator.state import MAX_IMAGE_BYTES, Simulator, plan_limit

log = logging.getLogger(__name__)

#: The longest a long-poll may wait, in seconds.
MAX_WAIT = 30.0
MAX_NAME = 20
#: Image types a phone can send, by their first bytes.
IMAGE_MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}

bp = Blueprint("api", __name__, url_prefix="/api")


class ControlError(Exception):
    """A bad control request: rendered as `{"error", "message", "field"?}`."""

    def __init__(self, status, code, message, field=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


#: Methods that only read; every other one changes the simulator's state.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@bp.before_request
def _refuse_cross_site():
    """Refuse a state-changing request that a browser sent for another site.

    The control API has no login, so any page open in the developer's
    browser could otherwise reset the simulator, unfollow its users or post
    images as them with a plain form (JSON bodies already need a same-origin
    fetch; bodiless and multipart posts do not). Browsers say where a request
    came from in `Sec-Fetch-Site` and `Origin`; scripts and tests send
    neither and are let through, as curl is by any CSRF check.
    """
    if request.method in SAFE_METHODS:
        return None
    site = request.headers.get("Sec-Fetch-Site", "")
    origin = request.headers.get("Origin", "")
    foreign = site == "cross-site" or (
        origin and (origin == "null" or urlsplit(origin).netloc != request.host)
    )
    if foreign:
        log.warning("simulator: refused a cross-site %s", request.method)
        raise ControlError(
            403,
            "cross_site",
            "the simulator's controls take requests from its own pages only",
        )
    return None


@bp.errorhandler(ControlError)
def _error(err: ControlError):
    body = {"error": err.code, "message": err.message}
    if err.field:
        body["field"] = err.field
    return jsonify(body), err.status


def simulator() -> Simulator:
    return current_app.extensions["simulator"]


def _json() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_body", "the body must be a JSON object")
    return body


def _user(user_id: str) -> dict:
    user = simulator().user(user_id)
    if user is None:
        raise ControlError(404, "not_found", f"no user {user_id}")
    return user


def _wait_seconds() -> float:
    raw = request.args.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        raise ControlError(
            400, "invalid_wait", f"wait must be seconds, got {raw!r}", "wait"
        ) from None
    return min(max(wait, 0.0), MAX_WAIT)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ControlError(
            400, f"invalid_{name}", f"{name} must be a whole number, got {raw!r}", name
        ) from None


def _act(action, *args, **kwargs):
    """Run a user action; its failures become control errors."""
    try:
        event = action(simulator(), *args, **kwargs)
    except events.UnknownUser as exc:
        raise ControlError(404, "not_found", f"no user {exc}") from None
    except events.NotFriend as exc:
        raise ControlError(409, "not_following", str(exc)) from None
    except ValueError as exc:
        raise ControlError(400, "invalid_action", str(exc)) from None
    return jsonify(event), 202


# -- the whole picture -------------------------------------------------------


@bp.get("/state")
def state():
    """Everything the phone page needs to start: bot, settings, users, bill."""
    sim = simulator()
    return jsonify(
        avatars=list(AVATARS),
        bot=sim.bot_info(),
        settings=_settings(sim),
        stats=sim.stats(),
        users=sim.list_users(),
        seq=sim.seq,
    )


@bp.get("/stats")
def stats():
    """The month's plan, limit and billable usage, and API traffic."""
    return jsonify(simulator().stats())


@bp.post("/reset")
def reset():
    """Forget users, chats, tokens, counts and faults; settings stay."""
    simulator().reset()
    return jsonify(ok=True)


def _settings(sim: Simulator) -> dict:
    s = sim.settings
    return {
        "plan": s.plan,
        "limit": sim.limit,
        "replyTokenTtl": s.reply_token_ttl,
        "webhookUrl": s.webhook_url,
        "redelivery": s.redelivery,
        "redeliveryDelays": list(s.redelivery_delays),
        "botName": s.bot_name,
    }


@bp.get("/settings")
def get_settings():
    return jsonify(_settings(simulator()))


@bp.patch("/settings")
def patch_settings():
    """Change the plan, token lifetime, webhook URL or redelivery."""
    body = _json()
    sim = simulator()
    checked = {}
    if "plan" in body:
        try:
            plan_limit(body["plan"])
        except ValueError as exc:
            raise ControlError(400, "invalid_plan", str(exc), "plan") from None
        checked["plan"] = body["plan"]
    if "replyTokenTtl" in body:
        ttl = body["replyTokenTtl"]
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
            raise ControlError(
                400,
                "invalid_ttl",
                f"replyTokenTtl must be seconds above 0, got {ttl!r}",
                "replyTokenTtl",
            )
        checked["reply_token_ttl"] = float(ttl)
    if "webhookUrl" in body:
        url = body["webhookUrl"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ControlError(
                400,
                "invalid_url",
                f"webhookUrl must be an http(s) URL, got {url!r}",
                "webhookUrl",
            )
        checked["webhook_url"] = url
    if "redelivery" in body:
        if not isinstance(body["redelivery"], bool):
            raise ControlError(
                400, "invalid_redelivery", "redelivery must be true or false"
            )
        checked["redelivery"] = body["redelivery"]
    if "redeliveryDelays" in body:
        delays = body["redeliveryDelays"]
        if not isinstance(delays, list) or not all(
            isinstance(d, int | float) and not isinstance(d, bool) and 0 <= d <= 600
            for d in delays
        ):
            raise ControlError(
                400,
                "invalid_delays",
                "redeliveryDelays must be a list of 0 to 600 seconds",
                "redeliveryDelays",
            )
        checked["redelivery_delays"] = tuple(float(d) for d in delays)
    if "plan" in checked:
        sim.set_plan(checked.pop("plan"))
    for name, value in checked.items():
        setattr(sim.settings, name, value)
    return jsonify(_settings(sim))


# -- users -------------------------------------------------------------------


@bp.get("/users")
def list_users():
    return jsonify(users=simulator().list_users())


@bp.post("/users")
def create_user():
    """Add a user; with `follow` (default true) they also add the bot as a friend."""
    body = _json()
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise ControlError(
            400, "invalid_name", "displayName is required", "displayName"
        )
    if len(name) > MAX_NAME:
        raise ControlError(
            400,
            "invalid_name",
            f"displayName may be at most {MAX_NAME} characters long",
            "displayName",
        )
    options = {}
    for field, option in (
        ("userId", "user_id"),
        ("avatar", "avatar"),
        ("pictureUrl", "picture_url"),
        ("language", "language"),
        ("statusMessage", "status_message"),
    ):
        if field in body:
            if not isinstance(body[field], str):
                raise ControlError(
                    400, "invalid_field", f"{field} must be a string", field
                )
            options[option] = body[field]
    if options.get("avatar", "") not in ("", *AVATARS):
        raise ControlError(
            400,
            "invalid_avatar",
            "avatar must be one of " + ", ".join(AVATARS),
            "avatar",
        )
    try:
        user = simulator().create_user(name.strip(), **options)
    except ValueError as exc:
        raise ControlError(400, "invalid_user", str(exc), "userId") from None
    if body.get("follow", True):
        events.follow(simulator(), user["userId"])
        user = simulator().user(user["userId"])
    return jsonify(user), 201


@bp.get("/users/<user_id>")
def get_user(user_id):
    return jsonify(_user(user_id))


@bp.post("/users/<user_id>/follow")
def follow(user_id):
    return _act(events.follow, user_id)


@bp.post("/users/<user_id>/unfollow")
def unfollow(user_id):
    return _act(events.unfollow, user_id)


@bp.post("/users/<user_id>/text")
def send_text(user_id):
    body = _json()
    return _act(events.text, user_id, body.get("text"))


@bp.post("/users/<user_id>/sticker")
def send_sticker(user_id):
    body = _json()
    return _act(
        events.sticker, user_id, body.get("packageId", ""), body.get("stickerId", "")
    )


@bp.post("/users/<user_id>/image")
def send_image(user_id):
    """A photo: a multipart field `image`, or the raw bytes as the body."""
    upload = request.files.get("image")
    data = upload.read() if upload else request.get_data(cache=False)
    if not data:
        raise ControlError(400, "invalid_image", "no image was sent", "image")
    if len(data) > MAX_IMAGE_BYTES:
        raise ControlError(413, "too_large", "the image is too large", "image")
    content_type = next(
        (kind for magic, kind in IMAGE_MAGIC.items() if data.startswith(magic)), None
    )
    if content_type is None:
        raise ControlError(
            400, "invalid_image", "only JPEG, PNG or GIF images can be sent", "image"
        )
    return _act(events.image, user_id, data, content_type)


@bp.post("/users/<user_id>/location")
def send_location(user_id):
    body = _json()
    return _act(
        events.location,
        user_id,
        title=body.get("title", ""),
        address=body.get("address", ""),
        latitude=body.get("latitude"),
        longitude=body.get("longitude"),
    )


@bp.post("/users/<user_id>/postback")
def send_postback(user_id):
    """A tap on a postback action (button, quick reply, date picker…)."""
    body = _json()
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise ControlError(400, "invalid_params", "params must be an object", "params")
    display_text = body.get("displayText")
    if display_text is not None and not isinstance(display_text, str):
        raise ControlError(
            400, "invalid_text", "displayText must be a string", "displayText"
        )
    return _act(
        events.postback,
        user_id,
        body.get("data"),
        display_text=display_text,
        params=params,
    )


@bp.get("/users/<user_id>/messages")
def received(user_id):
    """What the bot sent the user; `?wait=S&min=N` waits for at least N of them."""
    _user(user_id)
    sim = simulator()
    wanted = _int_arg("min", 1)
    wait = _wait_seconds()
    found = sim.wait(lambda: len(sim.received(user_id)) >= wanted, wait)
    messages = sim.received(user_id)
    if wait and not found:
        log.info("simulator: %s has %d messages after waiting", user_id, len(messages))
    return jsonify(messages=messages, count=len(messages))


@bp.get("/users/<user_id>/chat")
def chat(user_id):
    """The chat after `?after=SEQ` (both sides); `?wait=S` long-polls for news."""
    user = _user(user_id)
    sim = simulator()
    after = _int_arg("after", 0)
    sim.wait(lambda: sim.seq > after, _wait_seconds())
    return jsonify(
        user=sim.user(user_id) or user,
        entries=sim.chat(user_id, after),
        seq=sim.seq,
        loading=sim.loading_until(user_id) is not None,
        readUpTo=sim.read_up_to(user_id),
        stats=sim.stats(),
    )


@bp.get("/content/<message_id>")
def content(message_id):
    """The bytes of an image a user sent, for the phone page to show."""
    found = simulator().content(message_id)
    if found is None:
        raise ControlError(404, "not_found", f"no content {message_id}")
    data, content_type = found
    response = send_file(io.BytesIO(data), mimetype=content_type, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- tests' tools ------------------------------------------------------------


@bp.delete("/content/<message_id>")
def forget_content(message_id):
    """Let a message's content lapse now, as LINE's does after its keeping
    period: the Messaging API then answers 404 for it."""
    if not simulator().forget_content(message_id):
        raise ControlError(404, "not_found", f"no content {message_id}")
    return "", 204


@bp.post("/webhook")
def inject():
    """Sign and send `events` as they are (shapes the phone cannot make)."""
    body = _json()
    items = body.get("events")
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        raise ControlError(
            400, "invalid_events", "events must be a list of objects", "events"
        )
    for number, event in enumerate(items):
        _check_injected(event, f"events[{number}]")
    destination = body.get("destination")
    if destination is not None and not isinstance(destination, str):
        raise ControlError(
            400, "invalid_destination", "destination must be a string", "destination"
        )
    events.inject(simulator(), items, destination)
    return jsonify(queued=len(items)), 202


def _check_injected(event: dict, field: str) -> None:
    """400 for the fields `events.inject` reads, when LINE would never send them so."""
    wrong = None
    if not isinstance(event.get("source", {}), dict):
        wrong = "source must be an object"
    elif not isinstance((event.get("source") or {}).get("userId", ""), str):
        wrong = "source.userId must be a string"
    elif not isinstance(event.get("replyToken", ""), str):
        wrong = "replyToken must be a string"
    elif "timestamp" in event and (
        isinstance(event["timestamp"], bool)
        or not isinstance(event["timestamp"], int | float)
    ):
        wrong = "timestamp must be milliseconds since the epoch"
    if wrong:
        raise ControlError(400, "invalid_events", f"{field}: {wrong}", "events")


@bp.get("/webhooks")
def webhooks():
    """The log of webhook deliveries: attempt, status, event ids, redelivery."""
    sim = simulator()
    return jsonify(
        deliveries=sim.webhook_deliveries(),
        pending=sim.webhooks.pending() if sim.webhooks else 0,
        givenUp=sim.webhooks.given_up if sim.webhooks else 0,
    )


@bp.get("/faults")
def list_faults():
    return jsonify(faults=simulator().faults.list())


@bp.post("/faults")
def add_fault():
    """Arm latency, a 5xx or a 429 for the next calls to an API path."""
    try:
        fault = simulator().faults.add(_json())
    except ValueError as exc:
        raise ControlError(400, "invalid_fault", str(exc)) from None
    return jsonify(fault), 201


@bp.delete("/faults")
def clear_faults():
    simulator().faults.clear()
    return jsonify(ok=True)
