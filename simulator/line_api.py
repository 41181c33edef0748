"""The stand-in Messaging API, at LINE's own paths under `/simulator/line`.

Pointing the SDK's host at `http://host:port/simulator/line` is the only
change a client needs. Answers use LINE's status codes and error bodies
(`{"message": ..., "details": [{"message", "property"}]}`), and every answer
carries an `x-line-request-id`, so code tested here meets no surprise there.
"""

import hmac
import io
import logging
import time

from flask import Blueprint, current_app, g, jsonify, request, send_file, url_for

from bot.messages import https_errors, validate_schema
from simulator.faults import MESSAGES
from simulator.state import MULTICAST_MAX, LineRefusal, Simulator, request_id

log = logging.getLogger(__name__)

PREFIX = "/simulator/line"
RETRY_KEY = "X-Line-Retry-Key"
AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization "
    "header is valid."
)

bp = Blueprint("line", __name__, url_prefix="/line")


def simulator() -> Simulator:
    return current_app.extensions["simulator"]


def _api_path() -> str:
    return request.path.removeprefix(PREFIX)


def _refusal(err: LineRefusal):
    response = jsonify(err.body())
    response.status_code = err.status
    response.headers.update(err.headers)
    return response


@bp.errorhandler(LineRefusal)
def _refused(err: LineRefusal):
    return _refusal(err)


@bp.before_request
def _gate():
    """Faults first (LINE's front door), then the channel access token."""
    sim = simulator()
    g.line_request_id = request_id()
    latency, status = sim.faults.take(_api_path(), "before")
    if latency:
        time.sleep(latency)
    if status:
        return _refusal(LineRefusal(status, MESSAGES[status]))
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = sim.settings.access_token
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        return _refusal(LineRefusal(401, AUTH_FAILED))
    return None


@bp.after_request
def _stamp(response):
    """Every answer gets a request id; an armed `after` fault delays the
    answer of a call already done (latency) or loses it (status)."""
    sim = simulator()
    latency, status = sim.faults.take(_api_path(), "after")
    if latency:
        time.sleep(latency)
    if status:
        response = _refusal(LineRefusal(status, MESSAGES[status]))
    response.headers.setdefault("x-line-request-id", g.get("line_request_id", ""))
    if response.status_code >= 400:
        sim.note_refusal(_api_path(), response.status_code)
        log.info(
            "simulator: %s %s refused with %d",
            request.method,
            _api_path(),
            response.status_code,
        )
    return response


def _https_errors(body) -> list[dict]:
    """LINE's refusals of media addresses that are not https://."""
    messages = body.get("messages") if isinstance(body, dict) else None
    errors = []
    for number, message in enumerate(messages if isinstance(messages, list) else []):
        errors += https_errors(message, f"messages[{number}]")
    return errors


def _body(schema: str) -> dict:
    """The JSON body, checked against LINE's schema; 400 in LINE's shape."""
    body = request.get_json(silent=True)
    if body is None:
        raise LineRefusal(
            400,
            "The request body has 1 error(s)",
            details=[{"message": "must be a JSON object", "property": ""}],
        )
    errors = validate_schema(schema, body) or _https_errors(body)
    if errors:
        raise LineRefusal(
            400,
            f"The request body has {len(errors)} error(s)",
            details=[{"message": e["message"], "property": e["field"]} for e in errors],
        )
    return body


def _retry_key() -> str | None:
    key = request.headers.get(RETRY_KEY)
    return key.strip() if key is not None else None


def _sent(body: dict, status: int = 200):
    """A success answer; the request id is the one a retry key remembers."""
    rid = body.pop("_requestId", None)
    if rid:
        g.line_request_id = rid
    return jsonify(body), status


@bp.post("/v2/bot/message/reply")
def reply():
    """Reply through a reply token: free, once, within the token's lifetime."""
    if request.headers.get(RETRY_KEY) is not None:
        raise LineRefusal(400, "The retry key header is not supported for reply")
    body = _body("ReplyMessageRequest")
    sent = simulator().reply(body["replyToken"], body["messages"])
    return _sent({"sentMessages": sent})


@bp.post("/v2/bot/message/push")
def push():
    """Push to one user: counted against the month's plan limit."""
    retry_key = _retry_key()
    body = _body("PushMessageRequest")
    return _sent(simulator().push(body["to"], body["messages"], retry_key))


@bp.post("/v2/bot/message/multicast")
def multicast():
    """Push to up to 500 users: each friend among them counts once."""
    retry_key = _retry_key()
    body = _body("MulticastRequest")
    if len(body["to"]) > MULTICAST_MAX:
        raise LineRefusal(
            400,
            "The request body has 1 error(s)",
            details=[
                {
                    "message": f"must hold at most {MULTICAST_MAX} items",
                    "property": "to",
                }
            ],
        )
    return _sent(simulator().multicast(body["to"], body["messages"], retry_key))


@bp.post("/v2/bot/chat/loading/start")
def loading_start():
    """Show the typing indicator in a one-to-one chat (202, sends nothing)."""
    body = _body("ShowLoadingAnimationRequest")
    seconds = body.get("loadingSeconds", 20)
    if seconds % 5 or not 5 <= seconds <= 60:
        raise LineRefusal(
            400,
            "The request body has 1 error(s)",
            details=[
                {
                    "message": "must be a multiple of 5 from 5 to 60",
                    "property": "loadingSeconds",
                }
            ],
        )
    simulator().show_loading(body["chatId"], seconds)
    return jsonify({}), 202


@bp.post("/v2/bot/message/markAsRead")
def mark_as_read():
    """Mark a user's messages read (the partner API, by user id)."""
    body = _body("MarkMessagesAsReadRequest")
    user_id = body["chat"]["userId"]
    sim = simulator()
    if sim.user(user_id) is None:
        raise LineRefusal(400, "The chat.userId is invalid")
    sim.mark_read(user_id)
    return jsonify({})


@bp.post("/v2/bot/chat/markAsRead")
def mark_as_read_by_token():
    """Mark a user's messages read with the token a message event carried."""
    body = _body("MarkMessagesAsReadByTokenRequest")
    simulator().mark_read_by_token(body["markAsReadToken"])
    return jsonify({})


@bp.get("/v2/bot/profile/<user_id>")
def profile(user_id):
    """A friend's profile; 404 for anyone who is not (or no longer) a friend."""
    user = simulator().user(user_id)
    if user is None or not user["following"]:
        raise LineRefusal(404, "Not found")
    profile = {
        "userId": user["userId"],
        "displayName": user["displayName"],
        "pictureUrl": user["pictureUrl"]
        or url_for("simulator.phone.avatar", user_id=user_id, _external=True),
        "language": user["language"],
    }
    if user["statusMessage"]:
        profile["statusMessage"] = user["statusMessage"]
    return jsonify(profile)


@bp.get("/v2/bot/message/quota")
def quota():
    limit = simulator().limit
    if limit is None:
        return jsonify({"type": "none"})
    return jsonify({"type": "limited", "value": limit})


@bp.get("/v2/bot/message/quota/consumption")
def quota_consumption():
    return jsonify({"totalUsage": simulator().total_usage()})


@bp.get("/v2/bot/message/<message_id>/content")
def content(message_id):
    """The bytes of an image a user sent (LINE serves these from api-data)."""
    found = simulator().content(message_id)
    if found is None:
        raise LineRefusal(404, "Not found")
    data, content_type = found
    response = send_file(io.BytesIO(data), mimetype=content_type, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/v2/bot/info")
def bot_info():
    return jsonify(simulator().bot_info())


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
def not_served(rest):
    """An API path the simulator does not serve: LINE's JSON 404, not a page."""
    log.info("simulator: %s /%s is not simulated", request.method, rest)
    raise LineRefusal(404, "Not found")
