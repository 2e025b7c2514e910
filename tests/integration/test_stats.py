"""Managers' figures from the event log, after conversations driven through the real desk."""

import asyncio
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from core import stats
from core.desk import SupportDesk
from core.faq import FaqMatcher, load_faq
from core.messages import Inbound, Operator, UserRef

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
OLGA = Operator("7", "Olga")
_ids = itertools.count(1)


def say(desk, user, text="", payload=None):
    return desk.handle(Inbound(user, text, str(next(_ids)), payload=payload, name=user.user_id))


async def drive(store, clock):
    desk = SupportDesk(store, FaqMatcher(load_faq(FAQ)), clock=clock)
    a, b, c, d = (UserRef("telegram", "a"), UserRef("vk", "b"), UserRef("whatsapp", "c"), UserRef("vk", "d"))
    await say(desk, a, "Как сбросить пароль?")  # settled by the FAQ
    await say(desk, b, "Сколько идёт доставка?")
    await say(desk, b, payload="nohelp:delivery_time")
    outs = await say(desk, b, payload="op:not_helped")  # handed off after an answer that did not help
    case_b = outs[-1].case_id
    await say(desk, c, "Мой холодильник поёт по ночам")
    outs = await say(desk, c, payload="op:no_match")
    case_c = outs[-1].case_id
    await say(desk, d, "/operator")
    clock.advance(60)
    await desk.operator_message(case_b, OLGA, "hi")
    clock.advance(60)
    await desk.operator_message(case_c, OLGA, "hi")
    clock.advance(300)
    await desk.operator_command(case_b, "resolve", OLGA)
    await say(desk, b, payload=f"rate:{case_b}:4")
    await desk.operator_command(case_c, "resolve", OLGA)
    await say(desk, c, payload=f"rate:{case_c}:2")


async def test_report_figures(store, clock):
    await drive(store, clock)
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
    assert r.faq_gaps == [("мой холодильник поет по ночам", 1)]
    assert r.not_helped_entries == [("delivery_time", 1)]
    text = stats.format_report(r)
    assert "settled by the FAQ alone: 1 (25%)" in text and "холодильник" in text


async def test_since_filters_old_events(store, clock):
    await drive(store, clock)
    r = await stats.compute(store, since=clock() + 1)
    assert r.customers == 0 and r.handoffs == 0 and r.deflection_rate is None


async def test_stats_command(store, clock, redis_url, prefix):
    await drive(store, clock)
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
