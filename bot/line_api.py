"""The LINE Messaging API, through the official SDK (`linebot.v3`).

One pooled client per process. Every failure comes back as a `LineError` whose
`kind` says what the delivery layer should do with it, so the rules for
retrying live in one place and no caller parses LINE's error bodies itself.
"""

import json
import logging

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)

log = logging.getLogger(__name__)

# Kinds of failure, from LINE's status codes and messages.
INVALID_REPLY_TOKEN = "invalid_reply_token"
MONTHLY_LIMIT = "monthly_limit"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TRANSPORT = "transport"
RETRY_KEY_ACCEPTED = "retry_key_accepted"
REJECTED = "rejected"

RETRYABLE = frozenset({RATE_LIMITED, SERVER_ERROR, TRANSPORT})


class LineError(Exception):
    """A call to LINE that did not succeed; `kind` classifies it."""

    def __init__(self, kind, status=None, message="", request_id=None):
        super().__init__(f"{kind} (HTTP {status}): {message}")
        self.kind = kind
        self.status = status
        self.message = message
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def classify(status: int, body: str, headers=None) -> LineError:
    """Turn LINE's status and error body into a `LineError`."""
    try:
        message = json.loads(body or "{}").get("message", "") or ""
    except (ValueError, AttributeError):
        message = (body or "")[:200]
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    request_id = headers.get("x-line-request-id")
    lowered = message.lower()
    if status == 400 and "reply token" in lowered:
        kind = INVALID_REPLY_TOKEN
    elif status == 429 and "monthly limit" in lowered:
        kind = MONTHLY_LIMIT
    elif status == 429:
        kind = RATE_LIMITED
    elif status == 409 and "x-line-accepted-request-id" in headers:
        kind = RETRY_KEY_ACCEPTED
        request_id = headers["x-line-accepted-request-id"]
    elif status >= 500:
        kind = SERVER_ERROR
    else:
        kind = REJECTED
    return LineError(kind, status, message, request_id)


class LineClient:
    """A thread-safe, pooled client for the calls Tsunagi makes.

    Many threads share it: urllib3 keeps up to `max_connections` calls in
    flight at once, which is what lets one worker serve a campaign's burst.
    """

    def __init__(
        self, access_token, host, data_host=None, *, timeout=10.0, max_connections=64
    ):
        configuration = Configuration(access_token=access_token, host=host)
        configuration.connection_pool_maxsize = max_connections
        # Only connection failures are retried below the SDK (nothing was sent);
        # everything else is the delivery layer's decision.
        configuration.retries = urllib3.Retry(
            total=2, connect=2, read=0, status=0, redirect=0, other=0
        )
        self.timeout = timeout
        self.host = host
        self.data_host = data_host or host
        self._api_client = ApiClient(configuration)
        self._api = MessagingApi(self._api_client)

    def _invoke(self, method, *args, **kwargs):
        """Call an SDK method with the time-out; failures become `LineError`."""
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            raise classify(exc.status or 0, exc.body, exc.headers) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LineError(TRANSPORT, None, type(exc).__name__) from None

    def _call(self, method, *args, **kwargs) -> dict:
        """Like `_invoke` for `*_with_http_info` methods; returns the headers."""
        response = self._invoke(method, *args, **kwargs)
        headers = dict(response.headers or {})
        return {k.lower(): v for k, v in headers.items()}

    def reply(self, reply_token: str, messages: list[dict]) -> dict:
        """Send `messages` (1–5 objects) through `reply_token`; free."""
        request = ReplyMessageRequest.from_dict(
            {"replyToken": reply_token, "messages": messages}
        )
        return self._call(self._api.reply_message_with_http_info, request)

    def push(self, to: str, messages: list[dict], retry_key: str) -> dict:
        """Push `messages` (1–5 objects) to `to`; billed once per recipient.

        A 409 for an already accepted `retry_key` means an earlier attempt went
        through: that is success, not an error.
        """
        request = PushMessageRequest.from_dict({"to": to, "messages": messages})
        try:
            return self._call(
                self._api.push_message_with_http_info,
                request,
                x_line_retry_key=retry_key,
            )
        except LineError as err:
            if err.kind == RETRY_KEY_ACCEPTED:
                return {"x-line-request-id": err.request_id or "", "retried": "1"}
            raise

    def show_loading_animation(self, chat_id: str, seconds: int) -> None:
        """Show the typing indicator to `chat_id` for `seconds` (5–60, step 5)."""
        request = ShowLoadingAnimationRequest(chatId=chat_id, loadingSeconds=seconds)
        self._call(self._api.show_loading_animation_with_http_info, request)

    def get_profile(self, user_id: str) -> dict:
        """The user's profile as LINE returns it (displayName, pictureUrl, …)."""
        return self._invoke(self._api.get_profile, user_id).to_dict()

    def get_quota(self) -> dict:
        """`{"type": "limited"|"none", "value": n}` from LINE."""
        return self._invoke(self._api.get_message_quota).to_dict()

    def get_quota_consumption(self) -> int:
        """Messages counted this month by LINE, Manager's sends included."""
        return int(self._invoke(self._api.get_message_quota_consumption).total_usage)
