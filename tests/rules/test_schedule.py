"""Schedules: weekdays and time ranges in a time zone, crossing midnight."""

from datetime import UTC, datetime

import pytest

from bot.schedule import compile_schedule, validate_schedule
from tests.rules.conftest import tokyo


def schedule(**value):
    cleaned, errors = validate_schedule(value)
    assert errors == []
    return compile_schedule(cleaned)


def test_defaults_fill_in_all_days_and_tokyo():
    cleaned, _ = validate_schedule({"times": ["9:00-18:00"]})

    assert cleaned["timezone"] == "Asia/Tokyo"
    assert cleaned["weekdays"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert cleaned["times"] == ["09:00-18:00"]


def test_range_start_is_inclusive_and_end_exclusive():
    office = schedule(times=["09:00-18:00"])

    assert not office.active(tokyo(2026, 12, 7, 8, 59))
    assert office.active(tokyo(2026, 12, 7, 9, 0))
    assert office.active(tokyo(2026, 12, 7, 17, 59))
    assert not office.active(tokyo(2026, 12, 7, 18, 0))


def test_time_zone_decides_the_local_hour():
    office = schedule(times=["09:00-18:00"])  # Tokyo by default
    # 01:00 UTC is 10:00 in Tokyo, inside; 10:00 UTC is 19:00 in Tokyo, outside.
    assert office.active(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    assert not office.active(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))

    london = schedule(times=["09:00-18:00"], timezone="Europe/London")
    assert london.active(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))


def test_time_zone_decides_the_local_weekday():
    weekdays = schedule(weekdays=["mon", "tue", "wed", "thu", "fri"])
    # Sunday 20:00 UTC is already Monday 05:00 in Tokyo.
    assert weekdays.active(datetime(2026, 12, 6, 20, 0, tzinfo=UTC))
    # Friday 16:00 UTC is Saturday 01:00 in Tokyo.
    assert not weekdays.active(datetime(2026, 12, 11, 16, 0, tzinfo=UTC))


def test_range_crossing_midnight_belongs_to_the_day_it_starts():
    friday_night = schedule(weekdays=["fri"], times=["22:00-02:00"])

    assert friday_night.active(tokyo(2026, 12, 11, 23, 30))  # Friday
    assert friday_night.active(tokyo(2026, 12, 12, 1, 59))  # Saturday small hours
    assert not friday_night.active(tokyo(2026, 12, 12, 2, 0))
    assert not friday_night.active(tokyo(2026, 12, 11, 1, 0))  # Friday small hours
    assert not friday_night.active(tokyo(2026, 12, 12, 23, 0))  # Saturday night


def test_off_hours_on_weekdays_cover_the_night():
    off_hours = schedule(
        weekdays=["mon", "tue", "wed", "thu", "fri"], times=["18:00-09:00"]
    )

    assert off_hours.active(tokyo(2026, 12, 7, 18, 0))  # Monday evening
    assert off_hours.active(tokyo(2026, 12, 8, 8, 59))  # Tuesday early
    assert not off_hours.active(tokyo(2026, 12, 8, 9, 0))
    assert off_hours.active(tokyo(2026, 12, 12, 8, 0))  # Saturday early, Fri night
    assert not off_hours.active(tokyo(2026, 12, 13, 8, 0))  # Sunday early


def test_until_midnight_can_be_written_as_24_00():
    evening = schedule(times=["18:00-24:00"])

    assert evening.active(tokyo(2026, 12, 7, 23, 59))
    assert not evening.active(tokyo(2026, 12, 8, 0, 0))


def test_weekday_only_schedule_holds_all_day():
    weekend = schedule(weekdays=["Saturday", "sun"])

    assert weekend.active(tokyo(2026, 12, 12, 0, 0))
    assert weekend.active(tokyo(2026, 12, 13, 23, 59))
    assert not weekend.active(tokyo(2026, 12, 14, 0, 0))


@pytest.mark.parametrize(
    "value, field",
    [
        ("weekdays", "schedule"),
        ({"timezone": "Mars/Olympus"}, "schedule.timezone"),
        ({"weekdays": []}, "schedule.weekdays"),
        ({"weekdays": ["mon", "someday"]}, "schedule.weekdays[1]"),
        ({"times": "09:00-18:00"}, "schedule.times"),
        ({"times": ["9-18"]}, "schedule.times[0]"),
        ({"times": ["09:00-18:00", "25:00-26:00"]}, "schedule.times[1]"),
        ({"times": ["09:60-10:00"]}, "schedule.times[0]"),
        ({"times": ["10:00-10:00"]}, "schedule.times[0]"),
        ({"times": ["24:30-01:00"]}, "schedule.times[0]"),
        ({"days": ["mon"]}, "schedule.days"),
    ],
)
def test_invalid_schedule_names_the_field(value, field):
    cleaned, errors = validate_schedule(value)

    assert cleaned is None
    assert field in [e["field"] for e in errors]
