"""Periods managers ask for: ``today``, ``yesterday``, ``7d`` (the last 7 days, today included),
``2026-11-01..2026-11-30`` (both days included), one day ``2026-11-05``; and ``--since 30d`` / ``--since
2026-11-01`` (from then to today). Days are days in ``TIMEZONE``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660
USAGE = "today, yesterday, 7d, 30d (the last N days), YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
_DAYS = re.compile(r"(\d{1,4})\s*d")


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def bounds(self, zone: ZoneInfo) -> tuple[float, float]:
        """The period as timestamps: from its first midnight to its last day's end (exclusive)."""
        first = datetime.combine(self.start, datetime.min.time(), zone)
        after = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), zone)
        return first.timestamp(), after.timestamp()

    def __str__(self) -> str:
        return self.start.isoformat() if self.days == 1 else f"{self.start.isoformat()}..{self.end.isoformat()}"


def today_in(timezone: str, now: float) -> date:
    return datetime.fromtimestamp(now, ZoneInfo(timezone)).date()


def parse_period(spec: str | None, today: date, default: str = "7d") -> Period:
    """A period from what a manager typed (see the module docstring); ``PeriodError`` says what is accepted."""
    text = (spec or default).strip().lower()
    if text in ("today", "сегодня"):
        return Period(today, today)
    if text in ("yesterday", "вчера"):
        day = today - timedelta(days=1)
        return Period(day, day)
    m = _DAYS.fullmatch(text)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= MAX_DAYS:
            raise PeriodError(f"{spec!r}: between 1d and {MAX_DAYS}d")
        return Period(today - timedelta(days=n - 1), today)
    first, dots, last = text.partition("..")
    start = _date(first, spec)
    end = _date(last, spec) if dots else start
    if end < start:
        raise PeriodError(f"{spec!r}: the period ends before it starts")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError(f"{spec!r}: at most {MAX_DAYS} days")
    return Period(start, end)


def parse_since(spec: str, today: date) -> Period:
    """``--since``: a number of days (``30d``) or a first day (``2026-11-01``), up to today."""
    period = parse_period(spec, today)
    if period.start > today:
        raise PeriodError(f"{spec!r} starts after today ({today.isoformat()})")
    return period if ".." in spec else Period(period.start, today)


def _date(text: str, spec: str | None) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{spec!r} is not a period: use {USAGE}") from None
