"""When a rule applies: weekdays and time ranges in a time zone.

A schedule is `{"timezone": "Asia/Tokyo", "weekdays": ["mon", ...],
"times": ["18:00-09:00", ...]}`; every part is optional (all days, all day,
Asia/Tokyo). A range that ends before it starts crosses midnight and belongs
to the day it starts on, so "fri 22:00-02:00" still holds at 01:00 on
Saturday and not at 01:00 on Friday — what an admin writing opening hours means.
"""

import logging
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Tokyo"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class Schedule:
    """A compiled schedule: answers `active(now)` without parsing anything."""

    def __init__(self, timezone: str, weekdays: list[str], ranges: list[tuple]):
        self.zone = ZoneInfo(timezone)
        self.days = frozenset(WEEKDAYS.index(day) for day in weekdays)
        self.ranges = ranges

    def active(self, now: datetime) -> bool:
        """True when `now` (an aware datetime) falls inside the schedule."""
        local = now.astimezone(self.zone)
        day = local.weekday()
        minute = local.hour * 60 + local.minute
        if not self.ranges:
            return day in self.days
        yesterday = (day - 1) % 7
        for start, end in self.ranges:
            if start < end:
                if day in self.days and start <= minute < end:
                    return True
            elif minute >= start and day in self.days:
                return True
            elif minute < end and yesterday in self.days:
                return True
        return False


def compile_schedule(cleaned: dict | None) -> Schedule | None:
    """The `Schedule` for a validated schedule dict (None: always applies)."""
    if not cleaned:
        return None
    ranges = [_parse_range(text) for text in cleaned["times"]]
    return Schedule(cleaned["timezone"], cleaned["weekdays"], ranges)


def validate_schedule(value, field: str = "schedule") -> tuple[dict | None, list]:
    """`(cleaned, errors)` for a schedule as an admin wrote it.

    `cleaned` has every part filled in, so stored rules show what applies.
    """
    if value is None:
        return None, []
    if not isinstance(value, dict):
        return None, [_error(field, "must be an object with weekdays and times")]
    errors = []
    unknown = sorted(set(value) - {"timezone", "weekdays", "times"})
    if unknown:
        errors.append(_error(f"{field}.{unknown[0]}", "is not a schedule field"))

    timezone = value.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(timezone, str) or not _zone_exists(timezone):
        errors.append(
            _error(f"{field}.timezone", f"is not a known time zone: {timezone!r}")
        )

    weekdays = value.get("weekdays", list(WEEKDAYS))
    if not isinstance(weekdays, list) or not weekdays:
        errors.append(_error(f"{field}.weekdays", "must be a non-empty list"))
        weekdays = []
    cleaned_days = []
    for index, day in enumerate(weekdays):
        name = day.strip().lower()[:3] if isinstance(day, str) else None
        if name not in WEEKDAYS:
            errors.append(
                _error(
                    f"{field}.weekdays[{index}]",
                    f"must be one of {', '.join(WEEKDAYS)}, got {day!r}",
                )
            )
        elif name not in cleaned_days:
            cleaned_days.append(name)

    times = value.get("times", [])
    if not isinstance(times, list):
        errors.append(
            _error(f"{field}.times", 'must be a list such as ["09:00-18:00"]')
        )
        times = []
    cleaned_times = []
    for index, text in enumerate(times):
        try:
            start, end = _parse_range(text)
        except ValueError as exc:
            errors.append(_error(f"{field}.times[{index}]", str(exc)))
            continue
        cleaned_times.append(f"{_clock(start)}-{_clock(end)}")

    if errors:
        return None, errors
    cleaned_days.sort(key=WEEKDAYS.index)
    return {"timezone": timezone, "weekdays": cleaned_days, "times": cleaned_times}, []


def _parse_range(text) -> tuple[int, int]:
    """Minutes since midnight of "HH:MM-HH:MM"; "24:00" may end a range."""
    found = _RANGE.match(text.strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f'must be a range "HH:MM-HH:MM", got {text!r}')
    sh, sm, eh, em = (int(part) for part in found.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"is not a time of day: {text!r}")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise ValueError(f"starts where it ends: {text!r}; leave times out for all day")
    return start, end


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def now_utc() -> datetime:
    """The current time, aware (schedules compare in their own zone)."""
    return datetime.now(UTC)
