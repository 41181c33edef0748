"""The quota dashboard's figures, and its per-day chart as SVG geometry.

The figures are `bot.quota.report` (what `GET /api/v1/quota` answers). The
chart is drawn by the template from the bars computed here: the page needs no
script.
"""

import calendar
import logging

from bot import quota as bot_quota

log = logging.getLogger(__name__)

LEDGER_PAGE = 50
#: The chart's drawing area, in SVG user units.
CHART_WIDTH = 720
CHART_HEIGHT = 180
CHART_LEFT = 36
CHART_TOP = 10
CHART_BOTTOM = 22


def _report(runtime) -> dict:
    delivery = runtime.delivery
    return bot_quota.report(delivery.redis, delivery.ledger, delivery.budget)


def chart(by_day: list[dict], month: str, limit_per_day: float | None = None):
    """Bars for every day of `month`: free stacked under billable.

    Returns the geometry the template draws: each day's rectangles, the axis
    ticks and the largest value, scaled into CHART_WIDTH × CHART_HEIGHT.
    """
    year, number = (int(part) for part in month.split("-"))
    days = calendar.monthrange(year, number)[1]
    counted = {row["date"]: row for row in by_day}
    top = max([row["free"] + row["billable"] for row in by_day] + [1])
    top = _round_up(top)
    slot = (CHART_WIDTH - CHART_LEFT) / days
    width = max(2.0, slot * 0.7)
    bars = []
    for day in range(1, days + 1):
        date = f"{month}-{day:02d}"
        row = counted.get(date, {"free": 0, "billable": 0, "held": 0})
        x = CHART_LEFT + (day - 1) * slot + (slot - width) / 2
        free_h = CHART_HEIGHT * row["free"] / top
        bill_h = CHART_HEIGHT * row["billable"] / top
        bars.append(
            {
                "day": day,
                "date": date,
                "x": round(x, 1),
                "width": round(width, 1),
                "free": row["free"],
                "billable": row["billable"],
                "free_y": round(CHART_TOP + CHART_HEIGHT - free_h, 1),
                "free_h": round(free_h, 1),
                "bill_y": round(CHART_TOP + CHART_HEIGHT - free_h - bill_h, 1),
                "bill_h": round(bill_h, 1),
                "future": date not in counted,
                "label": day == 1 or day % 5 == 0,
            }
        )
    ticks = [
        {
            "value": top * step // 2,
            "y": round(CHART_TOP + CHART_HEIGHT * (1 - step / 2), 1),
        }
        for step in range(3)
    ]
    return {
        "bars": bars,
        "ticks": ticks,
        "top": top,
        "width": CHART_WIDTH,
        "height": CHART_TOP + CHART_HEIGHT + CHART_BOTTOM,
        "plot_bottom": CHART_TOP + CHART_HEIGHT,
        "left": CHART_LEFT,
    }


def _round_up(value: int) -> int:
    """An even round number at or above `value` (so half of it is whole too)."""
    value = max(2, int(value))
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 4, 6, 8, 10):
        if value <= step * magnitude and (step * magnitude) % 2 == 0:
            return step * magnitude
    return 10 * magnitude


def report(runtime, *, reason: str | None = None, before: str | None = None):
    """Everything the dashboard shows: figures, chart and a page of the ledger.

    `reason` filters the ledger (e.g. `operator_choice`); `before` is the id of
    the last entry of the previous page.
    """
    figures = _report(runtime)
    ledger = runtime.delivery.ledger
    entries = ledger.entries(
        LEDGER_PAGE + 1, before=before or "+", reason=reason or None
    )
    more = len(entries) > LEDGER_PAGE
    entries = entries[:LEDGER_PAGE]
    limit = figures.get("limit")
    used = figures.get("used_this_month", figures["billable_this_month"])
    return {
        **figures,
        "chart": chart(figures["by_day"], figures["month"]),
        "used_percent": round(100 * used / limit) if limit else None,
        "forecast_percent": round(100 * figures["forecast_month_end"] / limit)
        if limit
        else None,
        "entries": entries,
        "next": entries[-1]["id"] if more and entries else None,
        "reason": reason or "",
        "reasons": _reasons(),
    }


def _reasons() -> list[str]:
    from bot import ledger

    names = [
        "TOKEN_LIVE",
        "NO_TOKEN",
        "TOKEN_EXPIRED",
        "OPERATOR_CHOICE",
        "MONTHLY_LIMIT",
        "HELD_DELIVERED",
        "HELD_EXPIRED",
        "UNFOLLOWED",
        "UNCERTAIN",
        "REJECTED",
    ]
    return [getattr(ledger, name) for name in names if hasattr(ledger, name)]
