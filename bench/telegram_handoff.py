"""Bench: N Telegram customers hand off to operators at once, against the local Bot API stand-in.

    .venv/bin/python bench/telegram_handoff.py [--customers 200] [--scale 0.02] [--redis redis://127.0.0.1:6379/15]
        [--in-process]

Every customer sends "оператор" and then a second message at the same moment. The real bot (aiogram, polling
the stand-in over HTTP; the intake and the outbox in real Redis) must create 200 topics, post 200 cards, show
200 second messages (inside the card when they were queued behind it, else copied into the topic) and answer
200 customers, without provoking a single 429. The stand-in and the outbox shrink every limit window by
``--scale`` (20 messages/min into the group -> 20 per 60*scale s), so the run is short; a created topic counts
as a message into the group, like on Telegram.

The bot runs as its own process (``python -m tests.procs run``: what ``supportbot run`` does, with the
outbox's windows scaled), as in production, where Telegram does not share the bot's event loop; the
stand-in runs alone in this process. ``--in-process`` builds the bot inside this process instead, on the
stand-in's event loop (how this bench measured before 2026-12-02: every request the stand-in handles then
delays the bot, and the other way round).

The minimum time the limits allow for 2 messages per case (the topic and the card): messages into the group
G = 2 per customer, in batches of 20 per window W = 60*scale s: (ceil(G/20) - 1) * W; and for all sends T
(G plus one answer per customer) at 30 per scale s: (ceil(T/30) - 1) * scale. The larger of the two is
printed next to the measured time, with their ratio, and the group sends actually made per case.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bots.delivery import DeliveryOptions  # noqa: E402
from bots.runner import build  # noqa: E402
from core.config import Settings  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.procs import BotProcess, bot_env, free_port  # noqa: E402

TOKEN = "123456:BENCH-token"
STAFF = -1009000000001


async def main(customers: int, scale: float, redis_url: str, timeout: float, in_process: bool = False) -> int:  # noqa: ASYNC109
    fake = await FakeTelegram(TOKEN, scale=scale, staff_chat=STAFF).start()
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    settings_env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_STAFF_CHAT_ID": str(STAFF),
        "TELEGRAM_API_URL": fake.url,
        "REDIS_PREFIX": prefix,
        "FAQ_PATH": str(ROOT / "tests" / "data" / "faq_desk.yaml"),
        "STAFF_LANGUAGE": "en",  # the cards are counted by their first words
    }
    settings = Settings(REDIS_URL=redis_url, **settings_env)
    store = aioredis.from_url(redis_url, decode_responses=True)
    rt = bot = None
    tasks: list[asyncio.Task] = []
    if in_process:
        rt = await build(settings, delivery_options=DeliveryOptions(time_scale=scale))
        tasks = [
            asyncio.create_task(rt.delivery.run()),
            asyncio.create_task(rt.channels["telegram"].run(rt.core.intake)),
        ]
    else:
        env = bot_env(redis_url, free_port(), **settings_env)
        log_path = Path(tempfile.gettempdir()) / f"telegram_handoff_{os.getpid()}.log"
        bot = BotProcess(env, log_path, {"delivery": {"time_scale": scale}}).start()
    users = [800_000 + i for i in range(customers)]
    try:
        await fake.wait_for(lambda: any(m == "getUpdates" for m, _ in fake.calls), timeout=60, what="the bot polling")
        t0 = time.monotonic()
        for uid in users:
            fake.customer_says(uid, "оператор", name=f"Customer {uid}")
            fake.customer_says(uid, f"Заказ {uid} не пришёл", name=f"Customer {uid}")

        def done() -> bool:
            topics = len(fake.topics)
            staff = fake.staff_messages()
            cards = sum(1 for m in staff if (m.text or "").startswith("Case #"))
            shown = " ".join(m.text or "" for m in staff)
            second = sum(1 for uid in users if f"Заказ {uid} " in shown)
            answered = sum(1 for uid in users if fake.sent_to(uid))
            return topics >= customers and cards >= customers and second >= customers and answered >= customers

        await fake.wait_for(done, timeout=timeout, interval=0.05, what="every topic, card, second message, answer")
        elapsed = time.monotonic() - t0
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if bot is not None:
            bot.stop()
        keys = [k async for k in store.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await store.delete(*keys)
        await store.aclose()
        stats = "(kept by the bot's own process)"
        if rt is not None:
            stats = rt.delivery.stats
            await rt.stop()
        await fake.close()

    group = len(fake.group_sends())  # topics, cards, copies: every successful call into the group
    total = group + sum(len(fake.sent_to(uid)) for uid in users)
    window = 60 * scale
    floor_group = 2 * customers  # the topic and the card of every case
    min_group = (math.ceil(floor_group / 20) - 1) * window
    min_global = (math.ceil((floor_group + customers) / 30) - 1) * scale
    minimum = max(min_group, min_global)
    lost = [uid for uid in users if not fake.topic_named(f"Customer {uid}")]
    print(f"customers handing off at once : {customers}")
    print(
        f"limit windows scaled by       : {scale} (group: 20 per {window:.2f} s, chat: 1 per {scale:.3f} s, "
        f"global: 30 per {scale:.3f} s)"
    )
    print(
        f"topics / staff messages       : {len(fake.topics)} / {len(fake.staff_messages())} "
        f"(group sends incl. topics: {group}, {group / customers:.2f} per case)"
    )
    print(f"all sends                     : {total}")
    print(f"429 answers provoked          : {len(fake.too_many)}")
    print(f"customers without a topic     : {len(lost)}")
    print(f"time taken                    : {elapsed:.2f} s")
    print(f"minimum for 2 messages a case : {minimum:.2f} s  (group {min_group:.2f} s, global {min_global:.2f} s)")
    print(f"ratio to that minimum         : {elapsed / minimum:.3f}" if minimum else "ratio: n/a")
    print(f"outbox stats                  : {stats}")
    where = "on this process's event loop" if in_process else "its own process"
    print(f"bot                           : {where}")
    print(
        f"machine                       : {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )
    return 0 if not fake.too_many and not lost else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=200)
    p.add_argument("--scale", type=float, default=0.02)
    p.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--in-process", action="store_true", help="the bot on this process's event loop (the old way)")
    a = p.parse_args()
    sys.exit(asyncio.run(main(a.customers, a.scale, a.redis, a.timeout, a.in_process)))
