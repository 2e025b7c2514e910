"""Managers' figures, kept as aggregates while conversations run through the real desk, read back for a period.

One scripted history (six customers on three channels, two operators) with every figure's expected value worked
out by hand; durations come from sketches, so they are checked to the sketch's stated accuracy.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import struct
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
import yaml

from core.messages import Operator, StaffKind, UserRef
from core.stats import sketch
from core.stats.chart import CHART_SIZE
from core.stats.figures import read_figures, read_gap_questions
from core.stats.period import Period, parse_period
from tests.conftest import FakeClock
from tests.harness import FAQ

IVAN = Operator("8", "Ivan")
DAY = date(2026, 1, 1)  # the test clock starts at 2026-01-01 00:00 UTC
A, B, C = UserRef("telegram", "a"), UserRef("vk", "b"), UserRef("whatsapp", "c")
D, E, F = UserRef("vk", "d"), UserRef("telegram", "e"), UserRef("telegram", "f")


def near(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= expected * sketch.ACCURACY + 1e-9


async def drive(conversation):
    """The history the tests below expect (times in seconds from the start)."""
    conv = await conversation(channels=("telegram", "vk", "whatsapp"))
    clock = conv.core.store.clock

    def case_of(outs):
        return conv.staff_msgs(outs, StaffKind.CASE_OPENED)[0].case_id

    await conv.say("Как сбросить пароль?", user=A, name="a")  # settled by the FAQ
    await conv.say("Сколько идёт доставка?", user=B, name="b")  # answered, then "didn't help", then a person
    await conv.press("nohelp:delivery_time", user=B, name="b")
    await conv.press("op:not_helped", user=B, name="b")
    case_b = case_of(await conv.press("prep:skip", user=B, name="b"))
    await conv.say("Мой холодильник поёт по ночам", user=C, name="c")  # no match, then a person
    await conv.press("op:no_match", user=C, name="c")
    case_c = case_of(await conv.say("Поёт громко, модель X1", user=C, name="c"))
    case_d = case_of(await conv.say("/operator", user=D, name="d"))
    await conv.say("/operator", user=E, name="e")
    clock.advance(60)
    await conv.operator("hi", case_id=case_b)  # first response 60 s (Olga)
    clock.advance(60)
    await conv.operator("hi", case_id=case_c)  # 120 s (Olga)
    clock.advance(300)
    await conv.button(case_b, "resolve")  # resolution 420 s
    await conv.press(f"rate:{case_b}:4", user=B, name="b")
    await conv.button(case_c, "resolve")  # 420 s
    await conv.press(f"rate:{case_c}:2", user=C, name="c")
    await conv.say("ждал слишком долго", user=C, name="c")  # the rating's comment
    await conv.say("/cancel", user=E, name="e")  # cancelled by the customer
    clock.advance(1000)
    await conv.operator("hello", case_id=case_d, operator=IVAN)  # 1420 s: past the 15-minute SLA (Ivan)
    await conv.button(case_b, "reopen")
    await conv.say("/operator", user=F, name="f")  # open, nobody answered yet
    clock.advance(100)
    return conv, {"b": case_b, "c": case_c, "d": case_d}


async def test_every_figure_of_a_scripted_history(conversation):
    conv, cases = await drive(conversation)
    fig = await read_figures(conv.store, Period(DAY, DAY), daily=True)
    o = fig.overall
    assert (o.conversations, o.deflected, o.deflection_rate) == (6, 1, 0.167)
    assert (o.answers, o.suggestions, o.suggestions_taken, o.not_helped, o.no_match) == (2, 0, 0, 1, 1)
    assert o.handoffs == 5
    assert o.handoffs_by_reason == {"requested": 3, "no_match": 1, "not_helped": 1}
    assert (o.reopened, o.resolved, o.cancelled) == (1, 2, 1)
    assert (o.first_responses, o.replies, o.sla_breaches) == (3, 3, 1)
    assert o.first_response.count == 3
    assert near(o.first_response.median, 120) and near(o.first_response.p90, 1420)
    assert near(o.first_response_work.median, 120)  # 24/7: working time is wall time
    assert o.resolution.count == 2 and near(o.resolution.median, 420) and near(o.resolution.p90, 420)
    assert (o.ratings, o.rating_average, o.comments) == (2, 3.0, 1)
    assert o.rating_distribution == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}

    assert sorted(fig.channels) == ["telegram", "vk", "whatsapp"]
    tg, vk, wa = fig.channels["telegram"], fig.channels["vk"], fig.channels["whatsapp"]
    assert (tg.conversations, tg.deflected, tg.handoffs, tg.cancelled) == (3, 1, 2, 1)
    assert (vk.conversations, vk.deflected, vk.handoffs, vk.not_helped, vk.reopened) == (2, 0, 2, 1, 1)
    assert (wa.conversations, wa.handoffs, wa.no_match, wa.ratings, wa.rating_average) == (1, 1, 1, 1, 2.0)
    assert near(vk.first_response.median, 60) and vk.sla_breaches == 1

    olga, ivan = fig.operators["Olga"], fig.operators["Ivan"]
    assert (olga.first_responses, olga.replies, olga.resolved, olga.ratings, olga.rating_average) == (2, 2, 2, 2, 3.0)
    assert near(olga.first_response.median, 60) and olga.sla_breaches == 0
    assert (ivan.first_responses, ivan.replies, ivan.resolved, ivan.sla_breaches) == (1, 1, 0, 1)
    assert near(ivan.first_response.median, 1420)

    entries = dict(fig.top_entries)
    assert entries["delivery_time"] == 1 and sum(entries.values()) == 2
    assert fig.not_helped_entries == [("delivery_time", 1)]
    (comment,) = fig.comments
    assert comment["case"] == str(cases["c"]) and comment["stars"] == "2" and comment["text"] == "ждал слишком долго"
    assert comment["operator"] == "Olga" and comment["channel"] == "whatsapp"

    b = fig.backlog
    assert (b.open, b.waiting) == (3, 1)  # b (reopened), d (answered), f (waiting)
    assert b.oldest_waiting_s == 100.0 and b.oldest_open_s == 1520.0
    (day,) = fig.daily
    assert (day.day, day.conversations, day.deflected, day.handoffs) == ("2026-01-01", 6, 1, 5)
    assert near(day.first_response_median_s, 120)


async def test_periods_and_days(conversation):
    conv, _ = await drive(conversation)
    store = conv.store
    before = await read_figures(store, parse_period("yesterday", DAY))
    assert before.overall.conversations == 0 and before.channels == {} and before.overall.deflection_rate is None
    week = await read_figures(store, parse_period("7d", DAY))  # whole months and days add up the same
    month = await read_figures(store, Period(DAY, date(2026, 1, 31)))
    year = await read_figures(store, parse_period("2025-06-01..2026-12-31", DAY))
    assert week.overall == month.overall == year.overall
    assert week.operators == year.operators and week.channels == year.channels


async def test_the_questions_the_faq_missed_are_kept_for_gaps(conversation, redis):  # redis: the event log
    conv, _ = await drive(conversation)
    rows = await read_gap_questions(conv.store, Period(DAY, DAY))
    kept = [(f["kind"], f["text"], f["entry"], f["channel"]) for f in rows]
    assert ("not_helped", "Сколько идёт доставка?", "delivery_time", "vk") in kept
    assert any(k == "no_match" and t == "Мой холодильник поёт по ночам" and ch == "whatsapp" for k, t, _, ch in kept)
    for _, fields in await redis.xrange(conv.store.keys.events):  # the log keeps no customer's text
        assert "text" not in fields


async def test_forget_keeps_the_counts_and_deletes_the_texts(conversation):
    conv, _ = await drive(conversation)
    await conv.say("/forget", user=C, name="c")
    await conv.press("forget:yes", user=C, name="c")
    fig = await read_figures(conv.store, Period(DAY, DAY))
    assert fig.overall.conversations == 6 and fig.overall.ratings == 2 and fig.overall.comments == 1
    assert fig.comments == []
    texts = [f["text"] for f in await read_gap_questions(conv.store, Period(DAY, DAY))]
    assert "Сколько идёт доставка?" in texts and "Мой холодильник поёт по ночам" not in texts


async def test_a_day_is_a_day_in_the_configured_time_zone(conversation, clock):
    clock.advance(22 * 3600)  # 2026-01-01 22:00 UTC = 2026-01-02 01:00 in Moscow
    conv = await conversation(TIMEZONE="Europe/Moscow")
    await conv.say("Как сбросить пароль?")
    jan1 = await read_figures(conv.store, Period(DAY, DAY))
    jan2 = await read_figures(conv.store, Period(date(2026, 1, 2), date(2026, 1, 2)))
    assert (jan1.overall.conversations, jan2.overall.conversations) == (0, 1)


@pytest.mark.parametrize("pause, conversations", [(3600, 1), (7 * 3600, 2)])
async def test_a_conversation_ends_after_six_quiet_hours(conversation, clock, pause, conversations):
    conv = await conversation()
    await conv.say("Как сбросить пароль?")
    clock.advance(pause)
    await conv.say("Сколько идёт доставка?")
    fig = await read_figures(conv.store, Period(DAY, DAY))
    assert (fig.overall.conversations, fig.overall.deflected) == (conversations, conversations)


def supportbot(*args: str, env: dict[str, str], cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bots", *args], capture_output=True, text=True, env=env, timeout=120, cwd=cwd
    )


async def test_the_stats_command(conversation, redis_url, prefix, tmp_path):
    await drive(conversation)
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "STAFF_LANGUAGE": "en"}
    day = "--since=2026-01-01..2026-01-01"
    run = await asyncio.to_thread(supportbot, "stats", day, "--format", "json", env=env)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["period"] == {"start": "2026-01-01", "end": "2026-01-01"}
    assert data["overall"]["conversations"] == 6 and data["overall"]["handoffs_by_reason"]["requested"] == 3
    assert data["operators"]["Ivan"]["sla_breaches"] == 1 and data["channels"]["vk"]["handoffs"] == 2

    chart = tmp_path / "week.png"
    run = await asyncio.to_thread(supportbot, "stats", day, "--format", "csv", "--chart", str(chart), env=env)
    assert run.returncode == 0, run.stderr
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0] == ["scope", "name", "metric", "value"]
    assert ["overall", "", "conversations", "6"] in rows and ["operator", "Olga", "resolved", "2"] in rows
    assert ["channel", "whatsapp", "rating_average", "2.0"] in rows and ["day", "2026-01-01", "handoffs", "5"] in rows
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", chart.read_bytes()[16:24]) == CHART_SIZE

    run = await asyncio.to_thread(supportbot, "stats", day, env=env)
    assert run.returncode == 0 and "Conversations: 6 · settled by the FAQ: 1 (17%)" in run.stdout
    assert "ждал слишком долго" in run.stdout  # the latest comments


def test_the_stats_command_refuses_plainly(monkeypatch, tmp_path, capsys, redis_url):
    from bots.cli import main

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["stats"]) == 2 and "REDIS_URL is not set" in capsys.readouterr().err
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["stats", "--since", "last week"]) == 2 and "is not a period" in capsys.readouterr().err
    assert main(["stats", "--since", "2999-01-01"]) == 2 and "starts after today" in capsys.readouterr().err
    assert main(["faq", "gaps", "--since", "nope"]) == 2 and "is not a period" in capsys.readouterr().err


async def test_the_faq_gaps_command(conversation, redis_url, prefix):
    conv, _ = await drive(conversation)
    for text in ("Где ваш офис в Казани?", "есть офис в казани?"):
        await conv.say(text, user=UserRef("vk", "g"), name="g")
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "FAQ_PATH": str(FAQ)}
    run = await asyncio.to_thread(supportbot, "faq", "gaps", "--since", "2026-01-01..2026-01-01", env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# 2026-01-01: 4 question(s) the FAQ did not settle, in 3 group(s)")
    pasted = yaml.safe_load(run.stdout)
    texts = [q for item in pasted for q in item.get("questions", [])]
    assert "Где ваш офис в Казани?" in texts and "есть офис в казани?" in texts


async def test_gaps_are_read_newest_first_up_to_a_limit(conversation, clock):
    conv, _ = await drive(conversation)
    clock.advance(86400)  # the next day
    await conv.say("Где ваш офис в Казани?", user=UserRef("vk", "g"), name="g")
    both = Period(DAY, DAY + timedelta(days=1))
    assert len(await read_gap_questions(conv.store, both)) == 3
    (latest,) = await read_gap_questions(conv.store, both, limit=1)
    assert latest["text"] == "Где ваш офис в Казани?"
    two = await read_gap_questions(conv.store, both, limit=2)
    assert [q["text"] for q in two] == ["Мой холодильник поёт по ночам", "Где ваш офис в Казани?"]  # oldest first
    ttl = await conv.store.redis.ttl(conv.store.keys.stats_gaps("2026-01-02"))
    assert 401 * 86400 - 60 < ttl <= 401 * 86400  # kept EVENTS_RETENTION_DAYS (+ the day itself)


async def test_the_event_log_is_kept_by_age_not_by_count(conversation, redis):
    clock = FakeClock(time.time())  # stream ids are the server's time: the clock must agree with it here
    conv = await conversation(clock=clock, EVENTS_RETENTION_DAYS="1", FLOOD_LIMIT="0")
    for _ in range(120):
        await conv.say("Как сбросить пароль?")
    key = conv.store.keys.events
    before = await redis.xlen(key)
    assert before >= 200
    clock.advance(2 * 86400)  # two days on: everything before is past the retention
    await conv.say("Сколько идёт доставка?")
    after = await redis.xlen(key)
    assert after < 100 < before  # trimmed by whole stream nodes (MINID ~): at most one node of old entries stays
    fig = await read_figures(conv.store, Period(DAY, date(2030, 1, 1)))
    assert fig.overall.answers == 121  # the figures are not trimmed


async def test_deflection_follows_the_conversations_last_faq_step(conversation, clock):
    conv = await conversation()
    await conv.say("Как сбросить пароль?", user="x")  # answered: settled by the FAQ so far
    await conv.say("Мой холодильник поёт по ночам", user="x")  # then no match: not settled after all
    await conv.say("Сколько идёт доставка?", user="y")
    await conv.press("nohelp:delivery_time", user="y")  # "didn't help"
    await conv.say("Как сбросить пароль?", user="z")  # settled
    fig = await read_figures(conv.store, Period(DAY, DAY))
    assert (fig.overall.conversations, fig.overall.deflected) == (3, 1)


async def test_a_case_reopened_by_the_customer_unsettles_the_conversation(conversation, clock):
    conv = await conversation()
    case_id = conv.staff_msgs(await conv.say("/operator"), StaffKind.CASE_OPENED)[0].case_id
    await conv.operator("Готово", case_id=case_id)
    await conv.button(case_id, "resolve")
    clock.advance(7 * 3600)  # a new conversation, within REOPEN_DAYS of the resolution
    await conv.say("Как сбросить пароль?")  # the FAQ answers...
    mid = await read_figures(conv.store, Period(DAY, DAY))
    assert (mid.overall.conversations, mid.overall.deflected) == (2, 1)
    await conv.say("/operator")  # ...but the customer wants a person: the old case reopens
    fig = await read_figures(conv.store, Period(DAY, DAY))
    assert (fig.overall.conversations, fig.overall.deflected, fig.overall.reopened) == (2, 0, 1)
