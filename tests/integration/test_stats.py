"""Managers' figures from the event log, after conversations driven through the real desk."""

import asyncio
import json
import os
import subprocess
import sys

from core import stats
from core.messages import StaffKind, UserRef


async def drive(conversation):
    """Four customers on three channels, through the intake, the desk and the outbox; an operator answers."""
    conv = await conversation(channels=("telegram", "vk", "whatsapp"))
    clock = conv.core.store.clock
    a, b, c, d = (UserRef("telegram", "a"), UserRef("vk", "b"), UserRef("whatsapp", "c"), UserRef("vk", "d"))

    def case_of(outs):
        return conv.staff_msgs(outs, StaffKind.CASE_OPENED)[0].case_id

    await conv.say("Как сбросить пароль?", user=a, name="a")  # settled by the FAQ
    await conv.say("Сколько идёт доставка?", user=b, name="b")
    await conv.press("nohelp:delivery_time", user=b, name="b")
    # handed off after an answer that did not help (the details asked for first: skipped)
    await conv.press("op:not_helped", user=b, name="b")
    case_b = case_of(await conv.press("prep:skip", user=b, name="b"))
    await conv.say("Мой холодильник поёт по ночам", user=c, name="c")
    await conv.press("op:no_match", user=c, name="c")  # the details asked for first: given
    case_c = case_of(await conv.say("Поёт громко, модель X1", user=c, name="c"))
    await conv.say("/operator", user=d, name="d")
    clock.advance(60)
    await conv.operator("hi", case_id=case_b)
    clock.advance(60)
    await conv.operator("hi", case_id=case_c)
    clock.advance(300)
    await conv.button(case_b, "resolve")
    await conv.press(f"rate:{case_b}:4", user=b, name="b")
    await conv.button(case_c, "resolve")
    await conv.press(f"rate:{case_c}:2", user=c, name="c")
    return conv


async def test_report_figures(store, conversation):
    await drive(conversation)
    r = await stats.compute(store)
    assert r.customers == 4
    assert r.deflected_customers == 1 and r.deflection_rate == 0.25
    assert r.faq_answered == 2 and r.faq_not_helped == 1 and r.faq_no_match == 1
    assert r.handoffs == 3
    assert r.handoffs_by_reason == {"not_helped": 1, "no_match": 1, "requested": 1}
    assert r.handoffs_by_channel == {"vk": 2, "whatsapp": 1}
    assert r.first_response_median_s == 90.0  # 60 s and 120 s
    assert r.resolved == 2 and r.resolution_median_s == 420.0  # 420 s and 420 s
    assert r.open_cases == 1
    assert r.ratings == 2 and r.rating_average == 3.0
    assert r.rating_distribution == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
    assert r.rating_by_operator == {"Olga": 3.0}  # the operator who resolved both
    assert r.faq_gaps == [("мой холодильник поет по ночам", 1)]
    assert r.not_helped_entries == [("delivery_time", 1)]
    text = stats.format_report(r)
    assert "settled by the FAQ alone: 1 (25%)" in text and "холодильник" in text


async def test_since_filters_old_events(store, clock, conversation):
    await drive(conversation)
    r = await stats.compute(store, since=clock() + 1)
    assert r.customers == 0 and r.handoffs == 0 and r.deflection_rate is None


async def test_stats_command(conversation, redis_url, prefix):
    await drive(conversation)
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bots", "stats", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["handoffs"] == 3
    env.pop("REDIS_URL")
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bots", "stats"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd="/",
    )
    assert run.returncode == 2 and "REDIS_URL" in run.stderr
