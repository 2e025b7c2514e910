"""Working hours (``core.hours``): parsing, open or not, the next opening, working time, how it is said."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bots.telegram.staff import Place, case_link
from core.cases import Case, CaseStatus
from core.config import Settings
from core.events import Reminder, dedup_key
from core.hours import HoursError, WorkingHours, parse_holidays, parse_usernames
from core.messages import UserRef

MSK = ZoneInfo("Europe/Moscow")
WEEK = "mon-fri 09:00-18:00; sat 10:00-16:00"


def at(*parts: int, tz: ZoneInfo = MSK) -> float:
    return datetime(*parts, tzinfo=tz).timestamp()


@pytest.fixture
def office() -> WorkingHours:
    return WorkingHours.parse(WEEK, "Europe/Moscow")


def test_the_default_is_round_the_clock():
    for spec in (None, "", "24/7", " 24/7 ", "круглосуточно"):
        hours = WorkingHours.parse(spec, "Europe/Moscow")
        assert hours.always and hours.is_open(at(2026, 1, 3, 3, 0))
        assert hours.next_opening(100.0) == 100.0
        assert hours.working_seconds_between(100.0, 400.0) == 300.0
        assert hours.add_working_seconds(100.0, 900.0) == 1000.0
    assert WorkingHours.parse("24/7").describe("ru") == "круглосуточно"
    assert WorkingHours.parse("24/7").describe("en") == "24/7"


def test_described_in_both_languages_with_the_time_zone(office):
    assert office.describe("ru") == "пн–пт 09:00–18:00; сб 10:00–16:00 (Europe/Moscow)"
    assert office.describe("en") == "Mon–Fri 09:00–18:00; Sat 10:00–16:00 (Europe/Moscow)"
    assert office.describe(None) == office.describe("en")
    lunch = WorkingHours.parse("пн,ср,пт-вс 09:00-13:00, 14:00-18:00")
    assert lunch.describe("ru") == "пн, ср, пт–вс 09:00–13:00, 14:00–18:00 (UTC)"
    assert WorkingHours.parse("daily 08:00-20:00").describe("en") == "Mon–Sun 08:00–20:00 (UTC)"
    assert WorkingHours.parse("sat,sun 10:00-14:00").describe("en") == "Sat, Sun 10:00–14:00 (UTC)"
    assert WorkingHours.parse("fri-mon 22:00-02:00").describe("en") == "Fri–Mon 22:00–02:00 (UTC)"
    assert WorkingHours.parse("Monday–Friday 9:00 – 17:30").describe("en") == "Mon–Fri 09:00–17:30 (UTC)"


def test_open_and_closed(office):
    assert office.is_open(at(2026, 1, 5, 9, 0))  # Monday, opening minute
    assert office.is_open(at(2026, 1, 5, 17, 59))
    assert not office.is_open(at(2026, 1, 5, 18, 0))  # closing time is closed
    assert not office.is_open(at(2026, 1, 5, 8, 59))
    assert office.is_open(at(2026, 1, 10, 12, 0))  # Saturday
    assert not office.is_open(at(2026, 1, 10, 16, 30))
    assert not office.is_open(at(2026, 1, 11, 12, 0))  # Sunday
    assert not office.is_open(at(2026, 1, 5, 10, 0, tz=ZoneInfo("UTC")) + 8 * 3600)  # 21:00 in Moscow


def test_the_next_opening(office):
    assert office.next_opening(at(2026, 1, 5, 8, 0)) == at(2026, 1, 5, 9, 0)  # later today
    assert office.next_opening(at(2026, 1, 5, 12, 0)) == at(2026, 1, 5, 12, 0)  # open now: now
    assert office.next_opening(at(2026, 1, 5, 18, 0)) == at(2026, 1, 6, 9, 0)  # tomorrow
    assert office.next_opening(at(2026, 1, 9, 20, 0)) == at(2026, 1, 10, 10, 0)  # Friday night: Saturday 10:00
    assert office.next_opening(at(2026, 1, 10, 17, 0)) == at(2026, 1, 12, 9, 0)  # Saturday evening: Monday


def test_holidays_close_whole_days(office):
    hours = WorkingHours.parse(WEEK, "Europe/Moscow", "2026-01-01..2026-01-08, 2026-01-12")
    assert not hours.is_open(at(2026, 1, 5, 12, 0))
    assert hours.is_open(at(2026, 1, 9, 12, 0))
    assert hours.next_opening(at(2026, 1, 1, 3, 0)) == at(2026, 1, 9, 9, 0)
    assert hours.next_opening(at(2026, 1, 10, 17, 0)) == at(2026, 1, 13, 9, 0)  # Monday the 12th is off
    off = WorkingHours.parse("24/7", "UTC", [date(2026, 1, 1)])
    assert not off.always and not off.is_open(at(2026, 1, 1, 12, 0, tz=ZoneInfo("UTC")))
    assert off.next_opening(at(2026, 1, 1, 12, 0, tz=ZoneInfo("UTC"))) == at(2026, 1, 2, 0, 0, tz=ZoneInfo("UTC"))
    assert off.describe("en") == "24/7"


def test_a_span_past_midnight_belongs_to_the_day_it_starts():
    night = WorkingHours.parse("fri 22:00-02:00", "UTC")
    utc = ZoneInfo("UTC")
    assert night.is_open(at(2026, 1, 9, 23, 0, tz=utc))  # Friday 23:00
    assert night.is_open(at(2026, 1, 10, 1, 59, tz=utc))  # Saturday 01:59
    assert not night.is_open(at(2026, 1, 10, 2, 0, tz=utc))
    assert not night.is_open(at(2026, 1, 10, 23, 0, tz=utc))  # Saturday night is not Friday night
    assert night.working_seconds_between(at(2026, 1, 9, 0, 0, tz=utc), at(2026, 1, 11, 0, 0, tz=utc)) == 4 * 3600
    holiday = WorkingHours.parse("fri 22:00-02:00", "UTC", "2026-01-10")  # the Saturday part is off
    assert holiday.working_seconds_between(at(2026, 1, 9, 0, 0, tz=utc), at(2026, 1, 11, 0, 0, tz=utc)) == 2 * 3600


def test_working_time_between_two_moments(office):
    assert office.working_seconds_between(at(2026, 1, 5, 17, 50), at(2026, 1, 6, 9, 10)) == 20 * 60
    assert office.working_seconds_between(at(2026, 1, 5, 0, 0), at(2026, 1, 12, 0, 0)) == (5 * 9 + 6) * 3600
    assert office.working_seconds_between(at(2026, 1, 6, 0, 0), at(2026, 1, 5, 0, 0)) == 0
    assert office.working_seconds_between(at(2026, 1, 11, 1, 0), at(2026, 1, 11, 23, 0)) == 0  # Sunday


def test_adding_working_time(office):
    assert office.add_working_seconds(at(2026, 1, 5, 17, 50), 20 * 60) == at(2026, 1, 6, 9, 10)
    assert office.add_working_seconds(at(2026, 1, 10, 15, 50), 15 * 60) == at(2026, 1, 12, 9, 5)
    assert office.add_working_seconds(at(2026, 1, 11, 3, 0), 15 * 60) == at(2026, 1, 12, 9, 15)
    assert office.add_working_seconds(at(2026, 1, 5, 10, 0), 0) == at(2026, 1, 5, 10, 0)
    for start in (at(2026, 1, 5, 17, 50), at(2026, 1, 10, 15, 50), at(2026, 1, 11, 3, 0)):
        due = office.add_working_seconds(start, 3600)
        assert due is not None and office.working_seconds_between(start, due) == 3600


def test_wall_clock_times_are_kept_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    hours = WorkingHours.parse("daily 09:00-18:00", "Europe/Berlin")
    assert hours.next_opening(at(2026, 3, 29, 3, 30, tz=berlin)) == at(2026, 3, 29, 9, 0, tz=berlin)  # DST day
    assert hours.working_seconds_between(at(2026, 3, 28, 0, 0, tz=berlin), at(2026, 3, 30, 0, 0, tz=berlin)) == (
        2 * 9 * 3600
    )
    night = WorkingHours.parse("sat 22:00-06:00", "Europe/Berlin")  # the clocks jump 02:00 -> 03:00 inside
    start, end = at(2026, 3, 28, 0, 0, tz=berlin), at(2026, 3, 30, 0, 0, tz=berlin)
    assert night.working_seconds_between(start, end) == 7 * 3600


def test_a_moment_is_shown_with_its_day_and_zone(office):
    assert office.moment(at(2026, 1, 12, 9, 0), "ru") == "пн, 12.01.2026 09:00 (Europe/Moscow)"
    assert office.moment(at(2026, 1, 12, 9, 0), "en") == "Mon, 2026-01-12 09:00 (Europe/Moscow)"
    assert office.local_date(at(2026, 1, 12, 1, 0)) == "2026-01-12"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("mon-fri 9-18", "'9-18' is not a time span HH:MM-HH:MM"),
        ("sometimes 09:00-10:00", "'sometimes' is not a day"),
        ("mon-fri", "no times"),
        ("mon 09:00-25:00", "25:00 is not a time of day"),
        ("mon 09:60-10:00", "09:60 is not a time of day"),
        ("mon 09:00-09:00", "is empty"),
        ("mon 24:00-02:00", "cannot start at 24:00"),
        (";", "no rules"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec, says):
    with pytest.raises(HoursError, match=says):
        WorkingHours.parse(spec, "UTC")


def test_bad_holidays_and_zones():
    assert parse_holidays(" 2026-01-07 ,2026-05-01..2026-05-03") == {
        date(2026, 1, 7),
        date(2026, 5, 1),
        date(2026, 5, 2),
        date(2026, 5, 3),
    }
    for bad, says in [
        ("07.01.2026", "not a date"),
        ("2026-02-30", "not a date"),
        ("2026-01-08..2026-01-01", "ends before it starts"),
        ("2026-01-01..2028-01-01", "longer than a year"),
    ]:
        with pytest.raises(HoursError, match=says):
            parse_holidays(bad)
    with pytest.raises(HoursError, match="unknown time zone"):
        WorkingHours.parse("24/7", "Mars/Olympus")


def test_on_duty_usernames():
    assert parse_usernames("@olga, boris_1 @olga") == ("@olga", "@boris_1")
    assert parse_usernames(None) == ()
    with pytest.raises(HoursError, match="not a Telegram @username"):
        parse_usernames("@olga, @x")


def test_the_settings_refuse_bad_values_naming_the_variable():
    ok = Settings(
        _env_file=None,
        WORKING_HOURS=WEEK,
        TIMEZONE="Europe/Moscow",
        HOLIDAYS="2026-01-07",
        ONDUTY_USERNAMES="@olga,@boris",
        FIRST_RESPONSE_SLA_MINUTES="30",
        TELEGRAM_ESCALATION_CHAT_ID="-1002000000002",
    )
    assert ok.hours == WorkingHours.parse(WEEK, "Europe/Moscow", "2026-01-07")
    assert ok.onduty == ("@olga", "@boris") and ok.first_response_sla_minutes == 30
    assert ok.telegram_escalation_chat_id == -1002000000002
    default = Settings(_env_file=None)
    assert default.hours.always and default.first_response_sla_minutes == 15 and default.onduty == ()
    for alias, value in [
        ("WORKING_HOURS", "mon-fri 9-18"),
        ("HOLIDAYS", "tomorrow"),
        ("ONDUTY_USERNAMES", "@a"),
        ("FIRST_RESPONSE_SLA_MINUTES", "-5"),
    ]:
        with pytest.raises(ValidationError, match=alias):
            Settings(_env_file=None, **{alias: value})


def test_an_overdue_case_is_flagged_in_its_topic_name():
    case = Case(1, UserRef("telegram", "42"), CaseStatus.ACCEPTED, 0.0, customer_name="Anna")
    assert case.topic_title() == "🆕 #1 · Telegram · Anna"
    overdue = Case(1, UserRef("telegram", "42"), CaseStatus.ACCEPTED, 0.0, customer_name="Anna", escalated=True,
                   extra={"overdue": "1"})  # fmt: skip
    assert overdue.topic_title() == "🆕⚠️⏰ #1 · Telegram · Anna"
    assert Case.from_hash(overdue.to_hash()).topic_title() == overdue.topic_title()
    cleared = Case.from_hash({**overdue.to_hash(), "x_overdue": ""})
    assert "⏰" not in cleared.topic_title()


def test_a_reminder_is_handled_once_per_case_and_number():
    assert dedup_key(Reminder(7, 1, "7:1")) == "rm:7:1"
    assert dedup_key(Reminder(7, 2)) == "rm:7:2" != dedup_key(Reminder(7, 1))


def test_the_link_to_a_case_in_the_staff_group():
    assert case_link(-1001234567890, Place(55, False, 60)) == "https://t.me/c/1234567890/55"
    assert case_link(-1001234567890, Place(None, True, 60)) == "https://t.me/c/1234567890/60"  # no topics: the card
    assert case_link(-1001234567890, None) == ""
    assert case_link(-4567, Place(55, False)) == ""  # a basic group has no such links
