"""Cron expressions: parsing, clear errors and next start times (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runs.core.cron import CronError, cron_next_times, cron_parse


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def nexts(expr: str, after: datetime, count: int = 3, tz: str = "UTC") -> list[datetime]:
    return cron_next_times(cron_parse(expr), after=after, tz=tz, count=count)


def test_every_15_minutes_starts_strictly_after_the_given_time() -> None:
    assert nexts("*/15 * * * *", utc(2026, 11, 25, 10, 15)) == [
        utc(2026, 11, 25, 10, 30),
        utc(2026, 11, 25, 10, 45),
        utc(2026, 11, 25, 11, 0),
    ]


def test_weekday_ranges_names_and_7_for_sunday() -> None:
    # 2026-11-27 is a Friday.
    assert nexts("0 3 * * 1-5", utc(2026, 11, 27, 4, 0), 2) == [utc(2026, 11, 30, 3), utc(2026, 12, 1, 3)]
    assert (
        nexts("0 0 * * 7", utc(2026, 11, 25), 1)
        == nexts("0 0 * * sun", utc(2026, 11, 25), 1)
        == [utc(2026, 11, 29)]
    )
    assert nexts("30 6 1 jan *", utc(2026, 11, 25), 1) == [utc(2027, 1, 1, 6, 30)]


def test_day_of_month_or_day_of_week_when_both_are_restricted_as_cron_does() -> None:
    # The 1st of each month AND every Monday (Vixie cron), not only Mondays that are the 1st.
    assert nexts("0 9 1 * mon", utc(2026, 11, 25), 4) == [
        utc(2026, 11, 30, 9),
        utc(2026, 12, 1, 9),
        utc(2026, 12, 7, 9),
        utc(2026, 12, 14, 9),
    ]


def test_29_february_is_found_years_ahead() -> None:
    assert nexts("0 0 29 2 *", utc(2026, 3, 1), 3) == [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]
    assert nexts("0 0 29 2 *", utc(2093, 1, 1), 3) == [utc(2096, 2, 29), utc(2104, 2, 29), utc(2108, 2, 29)]


def test_times_are_wall_clock_times_of_the_zone_and_a_dst_gap_is_skipped() -> None:
    # Europe/Berlin springs forward on 2026-03-29 at 02:00: 02:30 does not exist that day.
    assert nexts("30 2 * * *", utc(2026, 3, 27, 12), 3, tz="Europe/Berlin") == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 30, 0, 30),
        utc(2026, 3, 31, 0, 30),
    ]
    # It falls back on 2026-10-25: 02:30 happens twice and runs once.
    assert nexts("30 2 * * *", utc(2026, 10, 24, 12), 2, tz="Europe/Berlin") == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "Enter a cron expression"),
        ("* * * *", "has 5 fields"),
        ("* * * * * *", "has 5 fields"),
        ("60 * * * *", "minute field “60” is not valid"),
        ("* 24 * * *", "hour field"),
        ("* * 0 * *", "day of month field"),
        ("* * * 13 *", "month field"),
        ("* * * * 8", "day of week field"),
        ("abc * * * *", "takes numbers, not names"),
        ("$(id) * * * *", "may only use"),
        ("0 0 31 2 *", "never happens"),
        ("*/0 * * * *", "minute field"),
        ("1" * 101, "at most 100 characters"),
    ],
)
def test_invalid_expressions_are_refused_with_a_clear_message(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("*", r"\*")):
        cron_parse(expr)


def test_whitespace_is_normalised() -> None:
    assert cron_parse("  0   3 * *  * ").expression == "0 3 * * *"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        nexts("* * * * *", datetime(2026, 1, 1))
