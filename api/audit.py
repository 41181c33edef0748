"""The audit log: who did what, to what, and when.

One Redis stream (`audit`), newest last; each entry holds `at` (ISO-8601
UTC), `actor`, `action` (`area.verb`, e.g. `agent.create`, `auth.login`),
`target`, JSON `before`/`after` and JSON `detail`. The stream is capped at
`MAX_ENTRIES` (approximately) so it cannot grow without bound.
"""

import json
import logging
from datetime import UTC, datetime

from flask import current_app, has_app_context
from redis.exceptions import RedisError

import store

log = logging.getLogger(__name__)

STREAM = store.key("audit")
MAX_ENTRIES = 200_000


def _redis():
    if has_app_context() and "tsunagi" in current_app.extensions:
        return current_app.extensions["tsunagi"].redis
    from bot.runtime import get_runtime

    return get_runtime().redis


def audit(
    actor: str,
    action: str,
    target: str | None = None,
    before=None,
    after=None,
    *,
    redis=None,
    **detail,
) -> str | None:
    """Append an entry; returns its stream id.

    The change being audited has already happened when this runs, so a Redis
    failure here is logged (with the entry's action) and not raised: failing
    the request would tell the caller a done change was not done.
    """
    fields = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "actor": actor or "",
        "action": action,
        "target": "" if target is None else str(target),
        "before": json.dumps(before, ensure_ascii=False, default=str),
        "after": json.dumps(after, ensure_ascii=False, default=str),
        "detail": json.dumps(detail, ensure_ascii=False, default=str),
    }
    try:
        return (redis or _redis()).xadd(
            STREAM, fields, maxlen=MAX_ENTRIES, approximate=True
        )
    except RedisError:
        log.exception("audit: could not record %s by %s", action, actor)
        return None


def _entry(entry_id: str, fields: dict) -> dict:
    def load(name):
        raw = fields.get(name)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    return {
        "id": entry_id,
        "at": fields.get("at"),
        "actor": fields.get("actor"),
        "action": fields.get("action"),
        "target": fields.get("target") or None,
        "before": load("before"),
        "after": load("after"),
        "detail": load("detail") or {},
    }


def entries(
    redis,
    *,
    limit: int = 50,
    before: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
) -> tuple[list[dict], str | None]:
    """Newest-first entries older than `before` that match every filter given.

    `action` matches exactly, or as a prefix when it ends in `.` (`agent.`
    matches every agent action). Returns the entries and the cursor for the
    next (older) page, or None when there is none.
    """
    found = []
    end = f"({before}" if before else "+"
    batch = max(limit * 4, 100)
    while len(found) < limit:
        rows = redis.xrevrange(STREAM, max=end, min="-", count=batch)
        if not rows:
            return found, None
        for entry_id, fields in rows:
            if _matches(fields, actor, action, target):
                found.append(_entry(entry_id, fields))
                if len(found) == limit:
                    break
        last_id = found[-1]["id"] if len(found) == limit else rows[-1][0]
        if len(found) == limit:
            more = redis.xrevrange(STREAM, max=f"({last_id}", min="-", count=1)
            return found, (last_id if more else None)
        if len(rows) < batch:
            return found, None
        end = f"({last_id}"
    return found, None


def _matches(fields, actor, action, target) -> bool:
    if actor and fields.get("actor") != actor:
        return False
    if target and fields.get("target") != target:
        return False
    if action:
        got = fields.get("action", "")
        if action.endswith("."):
            return got.startswith(action)
        return got == action
    return True
