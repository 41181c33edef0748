"""Errors under /api: always JSON `{"error", "message", "field"?}`, never a trace.

`ApiError` is what API code raises; `init_app` makes Werkzeug's own HTTP
errors (404 for an unknown path, 405, 413 for a large body) and unexpected
exceptions under /api answer in the same shape, so a client parses one format.
Pages outside /api keep Flask's HTML errors.
"""

import logging

from flask import jsonify, request
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from api import bp

log = logging.getLogger(__name__)

#: The `error` code for each HTTP status when none more precise is given.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

API_PREFIX = "/api/"


class ApiError(Exception):
    """An API answer other than success; rendered as JSON with `status`.

    `code` is a stable machine word (`not_found`, `invalid`, ...), `message`
    a sentence for people, `field` the request field at fault, if any.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self):
        body = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        resp = jsonify(body)
        resp.status_code = self.status
        resp.headers.update(self.headers)
        return resp


def _is_api() -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX[:-1]


def _from_http(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    message = exc.description or exc.name
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    retry = getattr(exc, "retry_after", None)
    if retry:
        headers["Retry-After"] = str(retry)
    return ApiError(
        status,
        CODES.get(status, exc.name.lower().replace(" ", "_")),
        message,
        headers=headers,
    )


@bp.errorhandler(ApiError)
def _api_error(exc):
    return exc.response()


@bp.errorhandler(Exception)
def _unexpected(exc):
    # Reached for errors raised inside an API view (including HTTP errors such
    # as a too large body); routing errors (404, 405) go to the app's handler.
    if isinstance(exc, HTTPException):
        return _from_http(exc).response()
    if isinstance(exc, RedisError):
        log.error(
            "api: Redis unreachable on %s %s: %s", request.method, request.path, exc
        )
        return ApiError(
            503,
            "unavailable",
            "storage is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        ).response()
    log.error(
        "api: unexpected error on %s %s", request.method, request.path, exc_info=exc
    )
    return ApiError(500, "internal_error", "internal error").response()


def init_app(app) -> None:
    """Answer JSON for HTTP errors under /api that no API view raised."""

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        if _is_api():
            return _from_http(exc).response()
        return exc

    @app.errorhandler(ApiError)
    def _api_error_outside(exc):
        # ApiError raised in a before_request hook of the app still answers JSON.
        return exc.response()


def json_object(req=None) -> dict:
    """The request body as a JSON object, or ApiError 400 saying what is wrong."""
    req = req or request
    data = req.get_json(silent=True, force=True)
    if data is None:
        if not req.get_data(cache=True):
            raise ApiError(400, "bad_request", "the request needs a JSON body")
        raise ApiError(400, "bad_request", "the request body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the request body must be a JSON object")
    return data
