"""Working hours: when operators are at work, in ``TIMEZONE`` (pure: no I/O, no clock of its own).

``WORKING_HOURS`` is ``24/7`` (the default) or rules separated by ``;``, each a set of days and time spans::

    mon-fri 09:00-18:00; sat 10:00-16:00
    пн-пт 09:00-13:00, 14:00-18:00; сб 10:00-14:00
    daily 08:00-20:00
    fri 22:00-02:00            (a span that ends at or before it starts runs past midnight)

Days are English (``mon``...``sun``, or whole names) or Russian (``пн``...``вс``), single, in lists (``mon,wed``)
or ranges (``mon-fri``, ``fri-mon`` wraps); ``daily`` (``ежедневно``) or no days at all means every day. Times
are ``HH:MM`` (``24:00`` ends a day). ``HOLIDAYS`` lists local dates (``YYYY-MM-DD``, or ranges
``YYYY-MM-DD..YYYY-MM-DD``) on which nothing is open, whatever the rules say.

``WorkingHours.parse(spec, tz, holidays)`` raises ``HoursError`` (a ValueError) naming what is wrong.
``is_open(ts)``, ``next_opening(ts)``, ``working_seconds_between(a, b)``, ``add_working_seconds(ts, s)`` work on
Unix timestamps; local wall-clock times are kept across daylight-saving changes. ``describe(lang)`` and
``moment(ts, lang)`` say it for people, in Russian or English, with the time zone's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 24 * 60  # minutes
ALWAYS = "24/7"
SEARCH_DAYS = 800  # how far ahead an opening is looked for (a long run of holidays is still found past)

_DAYS = {
    **{d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    **{d: i for i, d in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_EVERY_DAY = {"daily", "everyday", "ежедневно"}
_SHOWN = {
    "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_ROUND_THE_CLOCK = {"ru": "круглосуточно", "en": "24/7"}
_DASHES = re.compile(r"\s*[-–—]\s*")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_EXAMPLE = "e.g. mon-fri 09:00-18:00; sat 10:00-16:00, or 24/7"


class HoursError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Rule:
    """Days of the week (Monday = 0, in the order written) and the spans open on each, in minutes from local midnight.

    A span whose end is at or before its start runs past midnight into the next day."""

    days: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class WorkingHours:
    rules: tuple[Rule, ...] = ()  # none: round the clock
    tz: str = "UTC"
    holidays: frozenset[date] = frozenset()

    # ------------------------------------------------------------------ building
    @classmethod
    def parse(cls, spec: str | None, tz: str = "UTC", holidays: str | Iterable[date] | None = None) -> WorkingHours:
        """``spec`` (``WORKING_HOURS``; empty means 24/7) in ``tz`` with ``holidays`` (``HOLIDAYS``)."""
        _zone(tz)
        if holidays is not None and not isinstance(holidays, str):
            holidays = ",".join(d.isoformat() for d in holidays)
        days_off = parse_holidays(holidays)
        text = " ".join((spec or "").split()).lower()
        if not text or text in (ALWAYS, "24x7", "круглосуточно"):
            return cls((), tz, days_off)
        rules = tuple(_rule(part.strip()) for part in text.split(";") if part.strip())
        if not rules:
            raise HoursError(f"working hours {spec!r}: no rules ({_EXAMPLE})")
        return cls(rules, tz, days_off)

    @property
    def always(self) -> bool:
        """Open round the clock, every day (no rules, no holidays)."""
        return not self.rules and not self.holidays

    # ------------------------------------------------------------------ questions
    def is_open(self, ts: float) -> bool:
        if self.always:
            return True
        return any(start <= ts < end for start, end in self.intervals(ts - 1, ts + 1))

    def next_opening(self, ts: float) -> float | None:
        """``ts`` itself when open then, else when the next working period starts (None: never, as far as
        ``SEARCH_DAYS`` ahead)."""
        if self.always:
            return ts
        for start, end in self._forward(ts):
            if end > ts:
                return max(start, ts)
        return None

    def working_seconds_between(self, a: float, b: float) -> float:
        """How much of ``[a, b)`` is working time (0 when ``b <= a``)."""
        if b <= a:
            return 0.0
        if self.always:
            return b - a
        return sum(max(0.0, min(end, b) - max(start, a)) for start, end in self.intervals(a, b))

    def add_working_seconds(self, ts: float, seconds: float) -> float | None:
        """The moment ``seconds`` of working time have passed since ``ts`` (None: never, as far as we look)."""
        if self.always:
            return ts + seconds
        left = seconds
        for start, end in self._forward(ts):
            start = max(start, ts)
            if end <= start:
                continue
            if end - start >= left:
                return start + left
            left -= end - start
        return None

    # ------------------------------------------------------------------ for people
    def describe(self, lang: str | None = "en") -> str:
        """``пн–пт 09:00–18:00; сб 10:00–16:00 (Europe/Moscow)``, ``Mon–Fri 09:00–18:00 (UTC)``, ``24/7``."""
        lang = lang if lang in _SHOWN else "en"
        if not self.rules:
            return _ROUND_THE_CLOCK[lang]
        shown = "; ".join(_describe_rule(rule, lang) for rule in self.rules)
        return f"{shown} ({self.tz})"

    def moment(self, ts: float, lang: str | None = "en") -> str:
        """A moment in the time zone, named: ``пн, 12.01.2026 09:00 (Europe/Moscow)`` /
        ``Mon, 2026-01-12 09:00 (Europe/Moscow)``."""
        lang = lang if lang in _SHOWN else "en"
        local = datetime.fromtimestamp(ts, _zone(self.tz))
        day = _SHOWN[lang][local.weekday()]
        shown = local.strftime("%d.%m.%Y %H:%M") if lang == "ru" else local.strftime("%Y-%m-%d %H:%M")
        return f"{day}, {shown} ({self.tz})"

    def local_date(self, ts: float) -> str:
        """The date in the time zone, ``YYYY-MM-DD``."""
        return datetime.fromtimestamp(ts, _zone(self.tz)).date().isoformat()

    # ------------------------------------------------------------------ the open intervals
    def intervals(self, a: float, b: float) -> list[tuple[float, float]]:
        """The open intervals (Unix timestamps, merged, in order) that overlap ``[a, b]``."""
        zone = _zone(self.tz)
        first = datetime.fromtimestamp(a, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(b, zone).date()
        found = _merge(self._day(first + timedelta(days=i), zone) for i in range((last - first).days + 1))
        return [(s, e) for s, e in found if e > a and s < b]

    def _forward(self, ts: float) -> Iterator[tuple[float, float]]:
        """Open intervals from around ``ts`` on, a week at a time, as far as ``SEARCH_DAYS``."""
        week = 7 * 86400.0
        seen = ts
        for k in range(SEARCH_DAYS // 7 + 1):
            for start, end in self.intervals(ts + k * week, ts + (k + 1) * week):
                if end > seen:
                    yield max(start, seen), end
                    seen = end

    def _day(self, day: date, zone: ZoneInfo) -> Iterator[tuple[float, float]]:
        """The spans starting on local ``day``, without the parts that fall on holidays."""
        if not self.rules:
            spans: list[tuple[int, int]] = [(0, DAY)]
        else:
            spans = [span for rule in self.rules if day.weekday() in rule.days for span in rule.spans]
        midnight = datetime.combine(day, time())
        for start, end in spans:
            if end <= start:
                end += DAY
            for lo, hi in ((start, min(end, DAY)), (DAY, end)):  # the part on this day, the part on the next
                on = day if lo < DAY else day + timedelta(days=1)
                if hi > lo and on not in self.holidays:
                    yield _ts(midnight + timedelta(minutes=lo), zone), _ts(midnight + timedelta(minutes=hi), zone)


def parse_holidays(text: str | None) -> frozenset[date]:
    """``2026-01-01, 2026-01-07`` or ranges ``2026-01-01..2026-01-08`` -> the dates."""
    days: set[date] = set()
    for item in (text or "").replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        first, sep, last = item.partition("..")
        start, end = _date(first.strip(), item), _date(last.strip(), item) if sep else None
        if end is None:
            days.add(start)
            continue
        if end < start:
            raise HoursError(f"holidays: the range {item!r} ends before it starts")
        if (end - start).days > 366:
            raise HoursError(f"holidays: the range {item!r} is longer than a year")
        days.update(start + timedelta(days=i) for i in range((end - start).days + 1))
    return frozenset(days)


def _date(text: str, item: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise HoursError(f"holidays: {item!r} is not a date (YYYY-MM-DD, e.g. 2026-01-07, or 2026-01-01..2026-01-08)")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise HoursError(f"holidays: {item!r} is not a date: {exc}") from exc


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Moscow)") from exc


def _ts(local: datetime, zone: ZoneInfo) -> float:
    return local.replace(tzinfo=zone).timestamp()


def _merge(groups: Iterable[Iterable[tuple[float, float]]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(span for group in groups for span in group):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _rule(text: str) -> Rule:
    digit = re.search(r"\d", text)
    if digit is None:
        raise HoursError(f"working hours {text!r}: no times ({_EXAMPLE})")
    days_text, spans_text = text[: digit.start()].strip(), text[digit.start() :]
    return Rule(_days(days_text, text), tuple(_span(s, text) for s in spans_text.split(",")))


def _days(text: str, rule: str) -> tuple[int, ...]:
    text = _DASHES.sub("-", text.replace(" ", ""))
    if not text or text in _EVERY_DAY:
        return tuple(range(7))
    days: dict[int, None] = {}  # in the order written (that is how they are shown)
    for item in text.split(","):
        first, _, last = item.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise HoursError(
                f"working hours {rule!r}: {item!r} is not a day or a range of days (mon..sun or пн..вс, "
                f"e.g. mon-fri or sat,sun)"
            )
        a, b = _DAYS[first], _DAYS[last or first]
        days.update(dict.fromkeys((a + i) % 7 for i in range((b - a) % 7 + 1)))
    return tuple(days)


def _span(text: str, rule: str) -> tuple[int, int]:
    m = _SPAN.match(_DASHES.sub("-", text.strip()))
    if m is None:
        raise HoursError(f"working hours {rule!r}: {text.strip()!r} is not a time span HH:MM-HH:MM ({_EXAMPLE})")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for h, mm in ((h1, m1), (h2, m2)):
        if h > 24 or mm > 59 or (h == 24 and mm):
            raise HoursError(f"working hours {rule!r}: {h:02d}:{mm:02d} is not a time of day (00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == DAY:
        raise HoursError(f"working hours {rule!r}: a span cannot start at 24:00")
    if start == end:
        raise HoursError(f"working hours {rule!r}: {text.strip()!r} is empty (use 00:00-24:00 for a whole day)")
    return start, end


def _describe_rule(rule: Rule, lang: str) -> str:
    spans = ", ".join(f"{_hm(s)}–{_hm(e)}" for s, e in rule.spans)
    return f"{_describe_days(rule.days, lang)} {spans}"


def _describe_days(days: tuple[int, ...], lang: str) -> str:
    names = _SHOWN[lang]
    if len(days) == 7:
        return f"{names[0]}–{names[6]}"
    runs: list[list[int]] = []
    for d in days:  # in the order written: "fri-mon" stays Fri–Mon
        if runs and (runs[-1][-1] + 1) % 7 == d:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        names[run[0]] if len(run) == 1 else f"{names[run[0]]}{'–' if len(run) > 2 else ', '}{names[run[-1]]}"
        for run in runs
    )


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{2,31})")


def parse_usernames(text: str | None) -> tuple[str, ...]:
    """``ONDUTY_USERNAMES``: ``@olga, boris`` -> ``("@olga", "@boris")``; a malformed name raises HoursError."""
    names: list[str] = []
    for item in (text or "").replace(";", ",").replace(" ", ",").split(","):
        if not item.strip():
            continue
        m = _USERNAME.fullmatch(item.strip())
        if m is None:
            raise HoursError(f"{item.strip()!r} is not a Telegram @username (letters, digits and _, 3 to 32 long)")
        if "@" + m.group(1) not in names:
            names.append("@" + m.group(1))
    return tuple(names)


ROUND_THE_CLOCK = WorkingHours()  # 24/7 in UTC, no holidays: the default
