"""The budget guard: whether a send may push (and so be billed) at all.

The delivery layer asks `Budget.gate` once per send, before anything goes
out, so free-only mode, the quota thresholds and the per-agent daily cap are
enforced in one place whatever the caller asked for:

- free-only (`free_only` setting): nothing is ever pushed; what cannot go
  through a reply token is held for the user's next event;
- the guard: once the month's billable count passes `budget_hold_percent` of
  the plan's limit, a push becomes a hold unless an admin approved it (an
  admin's own send counts as approved); past `budget_warn_percent` the panels
  are warned once per month and threshold;
- `agent_daily_push_cap`: an agent's pushes per day (0: no cap); past it the
  agent's answers are held unless an admin approves.

A refusal (`refuse`) or a hold is never changed: the guard only lowers cost.
"""

import logging
from dataclasses import dataclass

from api.settings import boolean, get_settings, integer, register_setting
from bot.quota import guard_usage
from store import key

log = logging.getLogger(__name__)

FREE_ONLY = "free_only"
BUDGET_GUARD = "budget_guard"
PUSH_CAP = "push_cap"

#: Guard states, in the order they escalate.
OK = "ok"
WARN = "warn"
HOLD = "hold"

register_setting(
    "free_only",
    False,
    boolean,
    "Never push: answers that cannot go through a free reply token are held "
    "for the user's next message.",
)
register_setting(
    "budget_warn_percent",
    80,
    integer(1, 100),
    "Warn the panels once the month's billable messages reach this share of "
    "the plan's limit.",
)
register_setting(
    "budget_hold_percent",
    95,
    integer(1, 100),
    "From this share of the plan's limit on, pushes are held unless an admin "
    "approves them.",
)
register_setting(
    "agent_daily_push_cap",
    0,
    integer(0, 100_000),
    "Pushes one agent may make per day before an admin must approve (0: no cap).",
)

#: How long the once-a-month warning marks are kept.
WARNED_TTL = 40 * 24 * 3600


@dataclass
class Gate:
    """The policy a send runs with, and why it differs from the caller's."""

    policy: str
    reason: str | None = None


class Budget:
    """Reads the settings, the ledger and LINE's count to decide on pushes.

    `quota` is a callable giving `(used, limit)` for this month (limit None
    when unlimited); bot.quota supplies it, so this module never calls LINE.
    """

    def __init__(self, redis, ledger, quota=None):
        self.redis = redis
        self.ledger = ledger
        self.quota = quota

    def gate(self, policy: str, *, origin="bot", actor="", approved=False) -> Gate:
        """The policy to use instead of `policy` (unchanged unless it is `push`).

        `approved` is an admin's approval; an actor who is an admin approves
        their own send. Free-only is never lifted by approval.
        """
        if policy != "push":
            return Gate(policy)
        settings = get_settings(self.redis)
        if settings["free_only"]:
            return Gate("hold", FREE_ONLY)
        state = self.state(settings)["state"]  # warns the panels once a month
        if approved or self._is_admin(actor):
            return Gate(policy)
        if state == HOLD:
            return Gate("hold", BUDGET_GUARD)
        cap = settings["agent_daily_push_cap"]
        if cap and origin == "agent" and actor and self.pushes_today(actor) >= cap:
            return Gate("hold", PUSH_CAP)
        return Gate(policy)

    def state(self, settings=None) -> dict:
        """`{"state": ok|warn|hold, "used", "limit", "percent"}` for this month.

        Crossing a threshold for the first time in a month publishes
        `quota.warning` to the panels and logs a warning.
        """
        settings = settings or get_settings(self.redis)
        used, limit = self._usage()
        if not limit:
            return {"state": OK, "used": used, "limit": limit, "percent": None}
        percent = 100.0 * used / limit
        state = OK
        if percent >= settings["budget_hold_percent"]:
            state = HOLD
        elif percent >= settings["budget_warn_percent"]:
            state = WARN
        if state != OK:
            self._warn_once(state, used, limit, percent)
        return {"state": state, "used": used, "limit": limit, "percent": percent}

    def pushes_today(self, actor: str) -> int:
        """How many pushes `actor` made today (the desk's time zone)."""
        _month, day = self.ledger.buckets(self.ledger.clock())
        return int(self.redis.hget(key("usage", "agent", day), actor) or 0)

    def count_push(self, pipe, actor: str) -> None:
        """Add one push by `actor` to today's per-agent counter in `pipe`."""
        if not actor:
            return
        _month, day = self.ledger.buckets(self.ledger.clock())
        name = key("usage", "agent", day)
        pipe.hincrby(name, actor, 1)
        pipe.expire(name, 3 * 24 * 3600)

    # -- internals -------------------------------------------------------------

    def _usage(self) -> tuple[int, int | None]:
        if self.quota is not None:
            return self.quota()
        return guard_usage(self.redis, self.ledger)

    def _is_admin(self, actor: str) -> bool:
        if not actor:
            return False
        from handoff.agents import Agents

        account = Agents(self.redis).get(actor)
        return bool(account and account.get("active") and account["role"] == "admin")

    def _warn_once(self, state, used, limit, percent) -> None:
        month, _day = self.ledger.buckets(self.ledger.clock())
        mark = key("quota", "warned", month, state)
        if not self.redis.set(mark, "1", nx=True, ex=WARNED_TTL):
            return
        log.warning(
            "budget: %d of %d messages used this month (%.0f%%), guard %s",
            used,
            limit,
            percent,
            state,
        )
        try:
            from api.events import publish

            publish(
                self.redis,
                "quota.warning",
                {"state": state, "used": used, "limit": limit, "month": month},
            )
        except Exception:
            log.warning("budget: publishing the quota warning failed", exc_info=True)


__all__ = ["Budget", "Gate", "FREE_ONLY", "BUDGET_GUARD", "PUSH_CAP"]
