"""Business hours: weekly ranges, past midnight, holidays, time zones."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.hours import describe, is_open, next_open, validate_hours

TOKYO = ZoneInfo("Asia/Tokyo")


def at(text, zone=TOKYO) -> float:
    """Epoch seconds of a local time like "2027-01-15 17:00" (a Friday)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def hours(weekly, zone="Asia/Tokyo", holidays=()):
    return validate_hours(
        {
            "enabled": True,
            "timezone": zone,
            "weekly": weekly,
            "holidays": list(holidays),
        }
    )


WEEKDAYS = hours({d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2027-01-15 08:59", False),
        ("2027-01-15 09:00", True),
        ("2027-01-15 17:59", True),
        ("2027-01-15 18:00", False),
        ("2027-01-16 12:00", False),  # Saturday
    ],
)
def test_weekday_ranges_open_and_close_on_the_minute(moment, expected):
    assert is_open(WEEKDAYS, at(moment)) is expected


def test_a_range_past_midnight_stays_open_into_the_next_day():
    night = hours({"fri": [["22:00", "02:00"]]})

    assert is_open(night, at("2027-01-15 23:30"))
    assert is_open(night, at("2027-01-16 01:59"))  # Saturday, from Friday's range
    assert not is_open(night, at("2027-01-16 02:00"))
    assert not is_open(night, at("2027-01-15 01:00"))  # Thursday's night is closed


def test_end_of_day_is_written_24_00():
    evening = hours({"fri": [["18:00", "24:00"]]})

    assert is_open(evening, at("2027-01-15 23:59"))
    assert not is_open(evening, at("2027-01-16 00:00"))


def test_a_holiday_cancels_the_ranges_that_start_on_it():
    closed_friday = hours(
        {"fri": [["09:00", "18:00"]], "thu": [["22:00", "02:00"]]},
        holidays=["2027-01-15"],
    )

    assert not is_open(closed_friday, at("2027-01-15 10:00"))
    # Thursday's night range still runs into the holiday morning.
    assert is_open(closed_friday, at("2027-01-15 01:00"))


def test_the_same_instant_is_open_in_one_time_zone_and_closed_in_another():
    moment = at("2027-01-15 10:00")  # 10:00 Tokyo is 20:00 Thursday in New York

    assert is_open(WEEKDAYS, moment)
    new_york = hours(WEEKDAYS["weekly"], zone="America/New_York")
    assert not is_open(new_york, moment)
    assert is_open(new_york, at("2027-01-15 10:00", ZoneInfo("America/New_York")))


def test_next_open_skips_the_weekend_and_holidays():
    with_holiday = hours(WEEKDAYS["weekly"], holidays=["2027-01-18"])

    back = next_open(with_holiday, at("2027-01-15 19:00"))

    assert back == datetime(2027, 1, 19, 9, 0, tzinfo=TOKYO)
    assert describe(back) == "01/19 09:00"


def test_next_open_is_none_when_no_range_is_set():
    assert next_open(hours({}), at("2027-01-15 19:00")) is None


def test_disabled_hours_are_always_open():
    off = validate_hours({"enabled": False, "weekly": {}})

    assert is_open(off, at("2027-01-16 03:00"))


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus"},
        {"weekly": {"funday": []}},
        {"weekly": {"mon": [["09:00"]]}},
        {"weekly": {"mon": [["25:00", "26:00"]]}},
        {"weekly": {"mon": [["09:00", "09:00"]]}},
        {"holidays": ["next tuesday"]},
        {"enabled": "yes"},
        {"open": True},
    ],
)
def test_bad_business_hours_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="business_hours"):
        validate_hours(bad)
