"""Faults a test arms on the simulated API: latency, 5xx and 429 responses.

A fault applies to one API path (`/v2/bot/message/push`) or to every path
(`*`), for the next `count` calls (or until cleared when `count` is None).
`stage="before"` fails the call without doing it, as an overloaded LINE
would; `stage="after"` does the call and then loses the answer, the case
`X-Line-Retry-Key` exists for.
"""

import logging
import threading

log = logging.getLogger(__name__)

STATUSES = (429, 500, 502, 503, 504)
STAGES = ("before", "after")
MAX_LATENCY = 30.0
MESSAGES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def parse(spec) -> dict:
    """A checked fault from its JSON form; ValueError naming the bad field."""
    if not isinstance(spec, dict):
        raise ValueError("a fault must be a JSON object")
    path = spec.get("path")
    if not isinstance(path, str) or not (path == "*" or path.startswith("/v2/")):
        raise ValueError(f"path must be '*' or an API path like /v2/…, got {path!r}")
    status = spec.get("status")
    latency = spec.get("latency", 0)
    if status is None and not latency:
        raise ValueError("a fault needs a status, a latency or both")
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    if (
        isinstance(latency, bool)
        or not isinstance(latency, int | float)
        or not 0 <= latency <= MAX_LATENCY
    ):
        raise ValueError(f"latency must be 0 to {MAX_LATENCY} seconds, got {latency!r}")
    count = spec.get("count", 1 if status is not None else None)
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or count < 1
    ):
        raise ValueError(f"count must be a whole number of at least 1, got {count!r}")
    stage = spec.get("stage", "before")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    return {
        "path": path,
        "status": status,
        "latency": float(latency),
        "count": count,
        "stage": stage,
    }


class Faults:
    """The armed faults, consumed call by call (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, spec) -> dict:
        fault = parse(spec)
        with self._lock:
            self._faults.append(fault)
        log.info(
            "simulator: fault armed on %s (status %s, latency %.2fs, count %s)",
            fault["path"],
            fault["status"],
            fault["latency"],
            fault["count"],
        )
        return dict(fault)

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str, stage: str) -> tuple[float, int | None]:
        """The latency and status owed by this call to `path` at `stage`.

        Every matching latency adds up; the first matching status applies.
        Each fault that applied uses up one of its calls.
        """
        latency, status = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if fault["stage"] != stage or fault["path"] not in ("*", path):
                    continue
                if fault["status"] is not None and status is not None:
                    continue
                latency += fault["latency"]
                status = status or fault["status"]
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self._faults.remove(fault)
        return latency, status
