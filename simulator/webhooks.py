"""Signed webhook deliveries to the desk, sent and redelivered as LINE does.

One background thread sends deliveries in the order they were made, so the
phone page (or a test) never waits for the desk to answer. A delivery that
gets no 2xx is sent again after a back-off, with `isRedelivery: true`, the
same `webhookEventId`s and reply tokens renewed by LINE's redelivery rule.
"""

import base64
import copy
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time

import requests

log = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    """The `x-line-signature` of `body`: Base64 of HMAC-SHA256 keyed by `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class WebhookSender:
    """Sends webhook bodies to the simulator's configured webhook URL."""

    def __init__(self, simulator):
        self.simulator = simulator
        self.session = requests.Session()
        self._queue = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = None
        self._stopped = False
        #: Deliveries abandoned after the last redelivery failed.
        self.given_up = 0

    def send(self, events: list[dict], destination: str | None = None) -> None:
        """Queue one webhook delivery holding `events`; returns at once."""
        body = {
            "destination": destination or self.simulator.settings.bot_user_id,
            "events": events,
        }
        self._schedule(body, attempt=1, due=time.monotonic())

    def deliver(self, body: dict, attempt: int = 1) -> int | None:
        """POST `body` signed, now, in this thread; the HTTP status or None.

        Logged in the simulator's webhook log either way.
        """
        settings = self.simulator.settings
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-line-signature": signature(settings.channel_secret, raw),
            "User-Agent": "LineBotWebhook/2.0",
        }
        status, error = None, ""
        if not settings.webhook_url:
            error = "no webhook URL is set"
        else:
            try:
                response = self.session.post(
                    settings.webhook_url,
                    data=raw,
                    headers=headers,
                    timeout=settings.webhook_timeout,
                )
                status = response.status_code
            except requests.RequestException as exc:
                error = type(exc).__name__
        self.simulator.log_webhook(
            {
                "time": int(time.time() * 1000),
                "attempt": attempt,
                "status": status,
                "error": error,
                "eventIds": [e.get("webhookEventId") for e in body["events"]],
                "types": [e.get("type") for e in body["events"]],
                "isRedelivery": attempt > 1,
            }
        )
        ok = status is not None and 200 <= status < 300
        level = logging.INFO if ok else logging.WARNING
        log.log(
            level,
            "simulator: webhook with %d events, attempt %d: %s",
            len(body["events"]),
            attempt,
            status or error,
        )
        return status

    def stop(self) -> None:
        """Stop the thread and drop what is still queued."""
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def pending(self) -> int:
        """How many deliveries (first sends and redeliveries) are waiting."""
        with self._wake:
            return len(self._queue)

    # -- the thread --------------------------------------------------------

    def _schedule(self, body, attempt, due):
        with self._wake:
            if self._stopped:
                return
            heapq.heappush(self._queue, (due, next(self._order), attempt, body))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="simulator-webhooks", daemon=True
                )
                self._thread.start()
            self._wake.notify_all()

    def _next(self):
        with self._wake:
            while not self._stopped:
                if self._queue:
                    wait = self._queue[0][0] - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._queue)
                    self._wake.wait(wait)
                else:
                    self._wake.wait()
            return None

    def _run(self):
        while True:
            item = self._next()
            if item is None:
                return
            _, _, attempt, body = item
            if attempt > 1:
                self._renew_tokens(body)
            try:
                status = self.deliver(body, attempt)
            except Exception:
                log.exception("simulator: webhook delivery failed unexpectedly")
                continue
            if status is None or not 200 <= status < 300:
                self._redeliver_later(body, attempt)

    def _redeliver_later(self, body, attempt):
        settings = self.simulator.settings
        delays = settings.redelivery_delays
        if not settings.redelivery or attempt > len(delays):
            self.given_up += 1
            self.simulator.log_webhook_given_up()
            log.warning(
                "simulator: webhook with %d events given up after %d attempts",
                len(body["events"]),
                attempt,
            )
            return
        again = copy.deepcopy(body)
        for event in again["events"]:
            event.setdefault("deliveryContext", {})["isRedelivery"] = True
        due = time.monotonic() + delays[attempt - 1]
        self._schedule(again, attempt + 1, due)

    def _renew_tokens(self, body):
        """A redelivered event's token lives a minute from the redelivery."""
        for event in body["events"]:
            token = event.get("replyToken")
            if token:
                self.simulator.renew_token(token)
