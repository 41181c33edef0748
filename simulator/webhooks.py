"""Signed webhook deliveries to the desk, sent and redelivered as LINE does.

Background threads send the deliveries, so the phone page (or a test) never
waits for the desk to answer. Like LINE, several go out at once; a chat's
deliveries share one lane (thread), so one user's messages arrive in the
order they were sent. A delivery that gets no 2xx is sent again after a
back-off, with `isRedelivery: true`, the same `webhookEventId`s and reply
tokens renewed by LINE's redelivery rule.
"""

import base64
import copy
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import queue
import threading
import time
import zlib

import requests

log = logging.getLogger(__name__)

#: Deliveries in flight at once (each lane sends one at a time).
LANES = 8


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
        self._lanes = []
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
        """Stop the threads and drop what is still queued."""
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._wake.notify_all()
        for lane, _ in self._lanes:
            lane.put(None)
        for _, thread in self._lanes:
            thread.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def pending(self) -> int:
        """How many deliveries (first sends and redeliveries) are waiting."""
        with self._wake:
            return len(self._queue) + sum(lane.qsize() for lane, _ in self._lanes)

    # -- the thread --------------------------------------------------------

    def _schedule(self, body, attempt, due):
        with self._wake:
            if self._stopped:
                return
            heapq.heappush(self._queue, (due, next(self._order), attempt, body))
            if self._thread is None:
                self._start_threads()
            self._wake.notify_all()

    def _start_threads(self):
        for number in range(LANES):
            lane = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._send_from,
                args=(lane,),
                name=f"simulator-webhooks-{number}",
                daemon=True,
            )
            thread.start()
            self._lanes.append((lane, thread))
        self._thread = threading.Thread(
            target=self._run, name="simulator-webhooks", daemon=True
        )
        self._thread.start()

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
        """Hand each due delivery to its chat's lane."""
        while True:
            item = self._next()
            if item is None:
                return
            lane = zlib.crc32(_chat_of(item[3]).encode()) % len(self._lanes)
            self._lanes[lane][0].put(item)

    def _send_from(self, lane):
        while True:
            item = lane.get()
            if item is None or self._stopped:
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


def _chat_of(body: dict) -> str:
    """The chat a delivery is about (its first event's source), for its lane."""
    for event in body["events"]:
        source = event.get("source") or {}
        return source.get("groupId") or source.get("roomId") or source.get("userId", "")
    return ""
