"""The LINE Messaging API, through the official SDK (`linebot.v3`).

One pooled client per process. Every failure comes back as a `LineError` whose
`kind` says what the delivery layer should do with it, so the rules for
retrying live in one place and no caller parses LINE's error bodies itself.
"""

import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
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
CONTENT_TOO_LARGE = "content_too_large"
CONTENT_NOT_READY = "content_not_ready"

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


@dataclass(frozen=True)
class Content:
    """The bytes of a message a user sent, as LINE's data host served them."""

    data: bytes
    content_type: str


#: (connect, read) seconds for a content download, and the whole download's
#: limit: a web worker waits on it, so it gives up sooner than other calls.
CONTENT_TIMEOUT = (3.0, 5.0)
CONTENT_DEADLINE = 15.0
_CHUNK = 64 * 1024


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
        # Content lives on LINE's data host (api-data.line.me); the SDK's blob
        # API gets a client of its own pointed there (the simulator in tests).
        blob_configuration = Configuration(
            access_token=access_token, host=self.data_host
        )
        blob_configuration.connection_pool_maxsize = max_connections
        blob_configuration.retries = configuration.retries
        self._blob = MessagingApiBlob(ApiClient(blob_configuration))

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

    def get_message_content(
        self,
        message_id: str,
        max_bytes: int,
        *,
        timeout=CONTENT_TIMEOUT,
        deadline=CONTENT_DEADLINE,
    ) -> Content:
        """The bytes of the image, video, audio or file message `message_id`.

        Read from the blob API's pooled client (its configuration: the data
        host, the channel token, the connection retries) as a stream, because
        `MessagingApiBlob.get_message_content` reads the whole body into memory
        before it returns, whatever its size — and LINE keeps files far larger
        than a panel should hold. More than `max_bytes` (by Content-Length, or
        counted while reading) is `CONTENT_TOO_LARGE`; a download still running
        after `deadline` seconds is `TRANSPORT`; LINE's refusals (404 for
        content it no longer keeps) come back classified as ever; a 2xx other
        than 200 (a video still being prepared) is `CONTENT_NOT_READY`.
        """
        api_client = self._blob.api_client
        url = f"{self.data_host}/v2/bot/message/{quote(message_id, safe='')}/content"
        headers = {
            **api_client.default_headers,
            "Authorization": f"Bearer {api_client.configuration.access_token}",
        }
        started = time.monotonic()
        done = False
        try:
            response = api_client.rest_client.pool_manager.request(
                "GET",
                url,
                headers=headers,
                preload_content=False,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LineError(TRANSPORT, None, type(exc).__name__) from None
        try:
            if response.status != 200:
                body = response.read(4096, decode_content=True).decode(
                    "utf-8", "replace"
                )
                if 200 < response.status < 300:
                    raise LineError(CONTENT_NOT_READY, response.status, "not ready yet")
                raise classify(response.status, body, dict(response.headers))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise LineError(CONTENT_TOO_LARGE, 200, f"{declared} bytes")
            chunks, size = [], 0
            for chunk in response.stream(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise LineError(CONTENT_TOO_LARGE, 200, f"over {max_bytes} bytes")
                if time.monotonic() - started > deadline:
                    raise LineError(TRANSPORT, None, "download deadline passed")
                chunks.append(chunk)
            done = True
            content_type = response.headers.get("Content-Type", "")
            return Content(b"".join(chunks), content_type or "application/octet-stream")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise LineError(TRANSPORT, None, type(exc).__name__) from None
        finally:
            # A body left unread must not go back to the pool with its socket.
            if done:
                response.release_conn()
            else:
                response.close()
