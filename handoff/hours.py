"""Business hours: when people answer, and when they are next back.

The setting is one document::

    {"enabled": true, "timezone": "Asia/Tokyo",
     "weekly": {"mon": [["09:00", "18:00"]], "fri": [["22:00", "02:00"]]},
     "holidays": ["2026-12-31"]}

A range belongs to the local day it starts on; an end at or before its start
runs past midnight into the next day ("22:00"–"02:00"), and "24:00" is the end
of the day. A holiday cancels the ranges that start on it. With `enabled`
false the desk counts as always open.
"""

import logging
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_HOLIDAYS = 1000

DEFAULT_HOURS = {
    "enabled": False,
    "timezone": "Asia/Tokyo",
    "weekly": {day: [["09:00", "18:00"]] for day in DAYS[:5]},
    "holidays": [],
}


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def validate_hours(value) -> dict:
    """The cleaned business-hours document, or ValueError saying what is wrong."""
    if not isinstance(value, dict):
        raise ValueError("business_hours must be an object")
    unknown = set(value) - {"enabled", "timezone", "weekly", "holidays"}
    if unknown:
        raise ValueError(f"business_hours has unknown keys {sorted(unknown)!r}")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError(
            f"business_hours.enabled must be true or false, got {enabled!r}"
        )
    zone = value.get("timezone", DEFAULT_HOURS["timezone"])
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"business_hours.timezone is unknown: {zone!r}") from None
    weekly = value.get("weekly", {})
    if not isinstance(weekly, dict):
        raise ValueError("business_hours.weekly must be an object of weekdays")
    cleaned_weekly = {}
    for day, ranges in weekly.items():
        if day not in DAYS:
            raise ValueError(f"business_hours.weekly: {day!r} is not one of {DAYS}")
        cleaned_weekly[day] = _clean_ranges(day, ranges)
    holidays = value.get("holidays", [])
    if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
        raise ValueError(
            f"business_hours.holidays must be a list of dates, at most {MAX_HOLIDAYS}"
        )
    cleaned_holidays = []
    for day in holidays:
        try:
            cleaned_holidays.append(date.fromisoformat(day).isoformat())
        except (TypeError, ValueError):
            raise ValueError(
                f"business_hours.holidays: {day!r} is not a date like 2026-12-31"
            ) from None
    return {
        "enabled": enabled,
        "timezone": zone,
        "weekly": cleaned_weekly,
        "holidays": sorted(set(cleaned_holidays)),
    }


def _clean_ranges(day, ranges) -> list:
    if not isinstance(ranges, list):
        raise ValueError(f"business_hours.weekly.{day} must be a list of ranges")
    cleaned = []
    for pair in ranges:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(t, str) and _TIME.match(t) for t in pair)
        ):
            raise ValueError(
                f"business_hours.weekly.{day}: {pair!r} is not a range like "
                '["09:00", "18:00"]'
            )
        if pair[0] == pair[1]:
            raise ValueError(f"business_hours.weekly.{day}: {pair!r} is empty")
        if pair[0] == "24:00":
            raise ValueError(
                f"business_hours.weekly.{day}: a range cannot start at 24:00"
            )
        cleaned.append([pair[0], pair[1]])
    return sorted(cleaned)


def _intervals(hours: dict, day: date, zone: ZoneInfo):
    """The open intervals (aware datetimes) of ranges that start on `day`."""
    if day.isoformat() in hours["holidays"]:
        return
    for start, end in hours["weekly"].get(DAYS[day.weekday()], []):
        start_minutes, end_minutes = _minutes(start), _minutes(end)
        if end_minutes <= start_minutes:
            end_minutes += 24 * 60
        midnight = datetime(day.year, day.month, day.day)
        opens = (midnight + timedelta(minutes=start_minutes)).replace(tzinfo=zone)
        closes = (midnight + timedelta(minutes=end_minutes)).replace(tzinfo=zone)
        yield opens, closes


def is_open(hours: dict, when: float) -> bool:
    """True when people answer at epoch second `when`."""
    if not hours.get("enabled"):
        return True
    zone = ZoneInfo(hours["timezone"])
    moment = datetime.fromtimestamp(when, zone)
    # A range that started yesterday may run past midnight into today.
    for offset in (-1, 0):
        day = moment.date() + timedelta(days=offset)
        for opens, closes in _intervals(hours, day, zone):
            if opens.timestamp() <= when < closes.timestamp():
                return True
    return False


def next_open(hours: dict, when: float) -> datetime | None:
    """When people are next back after `when` (local time), or None if never.

    Open already → `when` itself. Looks a year ahead, past any holidays.
    """
    if is_open(hours, when):
        return datetime.fromtimestamp(when, ZoneInfo(hours.get("timezone", "UTC")))
    zone = ZoneInfo(hours["timezone"])
    today = datetime.fromtimestamp(when, zone).date()
    for offset in range(0, 370):
        day = today + timedelta(days=offset)
        starts = [
            opens
            for opens, _closes in _intervals(hours, day, zone)
            if opens.timestamp() > when
        ]
        if starts:
            return min(starts, key=lambda d: d.timestamp())
    return None


def describe(moment: datetime | None) -> str:
    """A short local time people read in both languages, e.g. "12/04 09:00"."""
    if moment is None:
        return ""
    return moment.strftime("%m/%d %H:%M")
