"""5-field cron expressions: parse, validate, and compute the next times (pure, no I/O).

Fields are parsed by Celery's own ``celery.schedules.crontab_parser`` (numbers, ``*``, ranges,
steps, lists, weekday names); the next times are computed here because ``crontab`` itself
computes them relative to *now* in the app's timezone and requires day-of-month AND day-of-week
to match, where cron (Vixie/POSIX) starts a job when EITHER matches if both are restricted
(``0 9 1 * mon``: the 1st of the month and every Monday).

Times are wall-clock times in the zone given (settings.TIME_ZONE on the pages). A wall-clock
time that does not exist (spring-forward gap) is skipped; one that happens twice (fall-back)
runs once, at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import ParseException, crontab_parser

MAX_LENGTH = 100
# Enough for three 29 Februaries of ``0 0 29 2 *`` from anywhere (2096-2104 has none): ~3 ms.
HORIZON_DAYS = 366 * 17

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
# (name, crontab_parser max_, min_): minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6 (0 = Sunday).
FIELDS = (
    ("minute", 60, 0),
    ("hour", 24, 0),
    ("day of month", 31, 1),
    ("month", 12, 1),
    ("day of week", 7, 0),
)
_ALLOWED = re.compile(r"^[0-9A-Za-z*/,\-]+$")


class CronError(ValueError):
    """An expression that is not a valid 5-field cron expression; the message is for the user."""


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays


def _month_names(spec: str) -> str:
    return re.sub(r"[A-Za-z]{3}", lambda m: str(MONTHS.get(m.group(0).lower(), m.group(0))), spec)


def cron_parse(expression: str) -> Cron:
    text = " ".join((expression or "").split())
    if not text:
        raise CronError("Enter a cron expression, e.g. “0 3 * * *” (every day at 03:00).")
    if len(text) > MAX_LENGTH:
        raise CronError(f"A cron expression has at most {MAX_LENGTH} characters.")
    parts = text.split(" ")
    if len(parts) != 5:
        raise CronError(
            "A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            f"“{text}” has {len(parts)}."
        )
    sets: list[frozenset[int]] = []
    for (name, max_, min_), spec in zip(FIELDS, parts, strict=True):
        if not _ALLOWED.match(spec):
            raise CronError(f"The {name} field “{spec}” may only use digits, names, * / , and -.")
        if name not in ("month", "day of week") and re.search(r"[A-Za-z]", spec):
            raise CronError(f"The {name} field “{spec}” takes numbers, not names.")
        if name == "month":
            spec = _month_names(spec)
        if name == "day of week":
            # 7 is Sunday too, as in cron (Celery's parser knows 0-6 only).
            spec = re.sub(r"\b7\b", "0", spec) if re.fullmatch(r"[0-9,]+", spec) else spec
        try:
            values = crontab_parser(max_, min_).parse(spec)
        except (ParseException, ValueError) as exc:
            raise CronError(f"The {name} field “{spec}” is not valid: {exc}") from None
        if not values:
            raise CronError(f"The {name} field “{spec}” matches nothing.")
        sets.append(frozenset(values))
    cron = Cron(
        expression=text,
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=sets[4],
        # As in Vixie cron: a field starting with "*" (also "*/2") does not restrict.
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if not any(
        cron.matches_day(date(2024, m, d)) for m in cron.months for d in range(1, 32) if _exists(2024, m, d)
    ):
        raise CronError(f"“{text}” never happens (no such day, e.g. 31 February).")
    return cron


def _exists(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def cron_next_times(cron: Cron, *, after: datetime, tz: str = "UTC", count: int = 1) -> list[datetime]:
    """The next ``count`` times strictly after ``after`` (aware) when ``cron`` fires, as aware
    datetimes in UTC. Wall-clock matching happens in zone ``tz``."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    zone = ZoneInfo(tz)
    local_after = after.astimezone(zone)
    out: list[datetime] = []
    day = local_after.date()
    hours = sorted(cron.hours)
    minutes = sorted(cron.minutes)
    for _ in range(HORIZON_DAYS):
        if cron.matches_day(day):
            for hour in hours:
                for minute in minutes:
                    wall = datetime.combine(day, time(hour, minute), tzinfo=zone)
                    moment = wall.astimezone(UTC)
                    # A wall time in a DST gap does not round-trip: it does not exist that day.
                    if moment.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
                        continue
                    if moment <= after or (out and moment <= out[-1]):
                        continue
                    out.append(moment)
                    if len(out) == count:
                        return out
        day += timedelta(days=1)
    return out
