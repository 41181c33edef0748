"""The month's quota: the plan, what was used, where the month is heading.

Plans are data (`CATALOGS`): Japan's and Taiwan's are shipped, any other
country's are set in the `quota_plans` setting. The plan in force is the one
named in `quota_plan`, or else the one whose limit matches what LINE's
`GET /v2/bot/message/quota` says.

Two counts are kept apart. The ledger counts the desk's own sends, live; LINE's
`quota/consumption` counts everything billed to the channel, the sends from
LINE Official Account Manager included, but only when asked. `sync` asks (the
worker's upkeep calls `maybe_sync` every few minutes) and remembers the
ledger's count at that moment, so the month's use is LINE's figure plus what
the desk billed since: exact at each sync, never behind between them.
"""

import calendar
import logging
import math
from datetime import datetime, timedelta

from api.settings import get_settings, register_setting
from store import key

log = logging.getLogger(__name__)

#: Monthly plans by country: limit (messages), monthly fee, price per message
#: beyond the limit (None: sends past the limit are refused), in `currency`.
#: Japan from June 2023; the Standard plan's extra messages cost "up to" JPY 3
#: and less in volume, so 3 is the conservative figure.
CATALOGS = {
    "JP": [
        {
            "name": "communication",
            "limit": 200,
            "fee": 0,
            "extra_price": None,
            "currency": "JPY",
        },
        {
            "name": "light",
            "limit": 5000,
            "fee": 5000,
            "extra_price": None,
            "currency": "JPY",
        },
        {
            "name": "standard",
            "limit": 30000,
            "fee": 15000,
            "extra_price": 3,
            "currency": "JPY",
        },
    ],
    "TW": [
        {
            "name": "free",
            "limit": 200,
            "fee": 0,
            "extra_price": None,
            "currency": "TWD",
        },
        {
            "name": "light",
            "limit": 3000,
            "fee": 800,
            "extra_price": None,
            "currency": "TWD",
        },
        {
            "name": "standard",
            "limit": 6000,
            "fee": 1200,
            "extra_price": None,
            "currency": "TWD",
        },
    ],
}
PLAN_FIELDS = ("name", "limit", "fee", "extra_price", "currency")
LINE_STATE = key("quota", "line")
SYNC_MARK = key("quota", "synced")
#: How often the worker's upkeep asks LINE for the quota and consumption.
SYNC_EVERY = 300


def _country(value):
    if value not in CATALOGS:
        raise ValueError(f"must be one of {sorted(CATALOGS)}, got {value!r}")
    return value


def _plan_name(value):
    if not isinstance(value, str) or len(value) > 50:
        raise ValueError("must be a plan name, or empty to read it from LINE")
    return value.strip().lower()


def _number(value, name, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of at least 0, got {value!r}")
    return value


def clean_plans(value):
    """Validate a custom catalog: a list of 1 to 20 plans with distinct names."""
    if not isinstance(value, list) or not 1 <= len(value) <= 20:
        raise ValueError("must be a list of 1 to 20 plans")
    plans, names = [], set()
    for position, plan in enumerate(value):
        if not isinstance(plan, dict):
            raise ValueError(f"plan {position} must be an object")
        unknown = set(plan) - set(PLAN_FIELDS)
        if unknown:
            raise ValueError(f"plan {position} has unknown fields {sorted(unknown)}")
        name = _plan_name(plan.get("name", ""))
        if not name or name in names:
            raise ValueError(f"plan {position} needs a name of its own")
        names.add(name)
        limit = plan.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"plan {name!r}: limit must be a whole number")
        currency = plan.get("currency", "")
        if not isinstance(currency, str) or len(currency) > 8:
            raise ValueError(f"plan {name!r}: currency must be a short code")
        plans.append(
            {
                "name": name,
                "limit": limit,
                "fee": _number(plan.get("fee", 0), "fee"),
                "extra_price": _number(
                    plan.get("extra_price"), "extra_price", allow_none=True
                ),
                "currency": currency,
            }
        )
    return plans


register_setting(
    "quota_country",
    "JP",
    _country,
    "Whose shipped plans apply (JP, TW); `quota_plans` replaces them.",
)
register_setting(
    "quota_plans",
    None,
    clean_plans,
    "Your country's plans when not shipped: [{name, limit, fee, extra_price, "
    "currency}] (extra_price null: no sends past the limit).",
)
register_setting(
    "quota_plan",
    "",
    _plan_name,
    "The channel's plan by name; empty: the plan whose limit LINE reports.",
)


# -- plans ---------------------------------------------------------------------


def catalog(settings: dict) -> list[dict]:
    """The plans that apply, smallest limit first."""
    plans = settings.get("quota_plans") or CATALOGS[settings["quota_country"]]
    return sorted(plans, key=lambda p: (p["limit"], p["fee"]))


def current_plan(redis, settings=None) -> dict:
    """The plan in force, with `source` (`settings`, `line`, or `unknown`).

    A named plan missing from the catalog, or a LINE limit matching no plan,
    is shown as a custom plan with that limit and no known price.
    """
    settings = settings or get_settings(redis)
    plans = catalog(settings)
    line = line_state(redis)
    name = settings["quota_plan"]
    if name:
        for plan in plans:
            if plan["name"] == name:
                return dict(plan, source="settings")
        # Named but not in the catalog: its limit is unknown, so no guard.
        return _custom(name, None, "settings")
    if line.get("type") == "none":
        return _custom("unlimited", None, "line")
    if line.get("type") == "limited":
        for plan in plans:
            if plan["limit"] == line["value"]:
                return dict(plan, source="line")
        return _custom("custom", line["value"], "line")
    return _custom("unknown", None, "unknown")


def _custom(name, limit, source) -> dict:
    return {
        "name": name,
        "limit": limit,
        "fee": None,
        "extra_price": None,
        "currency": "",
        "source": source,
    }


def cost(plan: dict, messages: int) -> float | None:
    """What `messages` in a month cost on `plan`; None when it cannot carry them."""
    if plan["limit"] is None:
        return plan["fee"]
    extra = max(0, messages - plan["limit"])
    if extra and plan["extra_price"] is None:
        return None
    return (plan["fee"] or 0) + extra * (plan["extra_price"] or 0)


def advise(plans: list[dict], plan: dict, forecast: int, today) -> dict:
    """The cheapest plan for `forecast` messages and when changing to it applies.

    LINE raises a month's allowance at once on an upgrade; a downgrade takes
    effect from the first day of the next month.
    """
    priced = [(cost(p, forecast), p) for p in plans]
    carrying = [(c, p) for c, p in priced if c is not None]
    if carrying:
        best_cost, best = min(carrying, key=lambda cp: (cp[0], cp[1]["limit"]))
    else:
        best = max(plans, key=lambda p: p["limit"])
        best_cost = None
    current_cost = cost(plan, forecast) if plan.get("fee") is not None else None
    advice = {
        "plan": best["name"],
        "cost": best_cost,
        "currency": best["currency"],
        "current_cost": current_cost,
        "forecast": forecast,
    }
    if best["name"] == plan["name"]:
        return advice | {"change": "keep", "applies": None}
    if plan["limit"] is None or best["limit"] > plan["limit"]:
        return advice | {"change": "upgrade", "applies": today.isoformat()}
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return advice | {"change": "downgrade", "applies": first.isoformat()}


# -- LINE's figures -----------------------------------------------------------


def line_state(redis) -> dict:
    """What LINE said at the last sync: type, value, total_usage, month, …"""
    raw = redis.hgetall(LINE_STATE)
    state = {}
    for name, value in raw.items():
        if name in ("type", "month"):
            state[name] = value
        elif name == "synced_at":
            state[name] = float(value)
        else:
            state[name] = int(value)
    return state


def sync(redis, line, ledger) -> dict:
    """Ask LINE for the plan's limit and the month's consumption; store both.

    Stores the ledger's billable count of the moment beside them, for
    reconciliation. A failure is logged and leaves the last figures in place.
    """
    from bot.line_api import LineError

    month, _day = ledger.buckets(ledger.clock())
    ours = ledger.usage(month).get("billable", 0)
    try:
        quota = line.get_quota()
        total = line.get_quota_consumption()
    except LineError as err:
        log.warning("quota: sync with LINE failed (%s)", err.kind)
        return line_state(redis)
    state = {
        "type": quota.get("type", "none"),
        "value": int(quota.get("value") or 0),
        "total_usage": int(total),
        "ours_at_sync": ours,
        "month": month,
        "synced_at": f"{ledger.clock():.3f}",
    }
    redis.hset(LINE_STATE, mapping=state)
    log.info("quota: LINE counts %d this month (the desk %d)", total, ours)
    return line_state(redis)


def maybe_sync(runtime) -> bool:
    """Sync at most every `SYNC_EVERY` seconds across all workers."""
    if not runtime.redis.set(SYNC_MARK, "1", nx=True, ex=SYNC_EVERY):
        return False
    delivery = runtime.delivery
    sync(runtime.redis, runtime.line, delivery.ledger)
    return True


def used_this_month(redis, ledger) -> int:
    """The month's billed messages: LINE's count at the sync plus ours since."""
    month, _day = ledger.buckets(ledger.clock())
    ours = ledger.usage(month).get("billable", 0)
    line = line_state(redis)
    if line.get("month") != month:
        return ours
    return line["total_usage"] + max(0, ours - line.get("ours_at_sync", 0))


def guard_usage(redis, ledger) -> tuple[int, int | None]:
    """`(used, limit)` for the budget guard (limit None: unlimited or unknown)."""
    return used_this_month(redis, ledger), current_plan(redis)["limit"]


# -- the report ---------------------------------------------------------------


def report(redis, ledger, budget) -> dict:
    """The quota document `GET /api/v1/quota` returns."""
    settings = get_settings(redis)
    now = ledger.clock()
    local = datetime.fromtimestamp(now, ledger.zone)
    month, _day = ledger.buckets(now)
    counters = ledger.usage(month)
    plan = current_plan(redis, settings)
    used = used_this_month(redis, ledger)
    line = line_state(redis)

    by_day = []
    for day in range(1, local.day + 1):
        name = f"{month}-{day:02d}"
        usage = ledger.usage(name)
        by_day.append(
            {
                "date": name,
                "billable": usage.get("billable", 0),
                "free": usage.get("free", 0),
                "held": usage.get("held", 0),
            }
        )

    days_in_month = calendar.monthrange(local.year, local.month)[1]
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed_days = max(1.0, (local - start).total_seconds() / 86400)
    forecast = math.ceil(used * days_in_month / elapsed_days)

    synced = line.get("month") == month
    return {
        "plan": {k: plan[k] for k in (*PLAN_FIELDS, "source")},
        "limit": plan["limit"],
        "month": month,
        "billable_this_month": counters.get("billable", 0),
        "free_this_month": counters.get("free", 0),
        "held_this_month": counters.get("held", 0),
        "used_this_month": used,
        "line": {
            "total_usage": line.get("total_usage") if synced else None,
            "outside_desk": (
                max(0, line["total_usage"] - line.get("ours_at_sync", 0))
                if synced
                else None
            ),
            "synced_at": line.get("synced_at"),
        },
        "by_day": by_day,
        "forecast_month_end": forecast,
        "guard": budget.state(settings),
        "free_only": settings["free_only"],
        "advice": advise(catalog(settings), plan, forecast, local.date())
        if plan["limit"] is not None
        else None,
    }
