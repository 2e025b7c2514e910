"""Core messages per second through the intake, on a real Redis server (and on the embedded store).

Each simulated customer asks FAQ questions, asks for an operator, then keeps writing into the case, and an
operator answers and resolves it: every event goes through ``core.intake`` (dedup, the customer's lane, the
desk, one atomic commit with the outbox entries), the path every channel drives, without any transport.
The delivery of what was queued is measured separately (a worker draining the outbox into an in-memory
channel). Prints the median of several runs.

    .venv/bin/python bench/desk_throughput.py [--redis redis://127.0.0.1:6379/15] [--customers 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bots.app import Core, bootstrap
from bots.console import MemoryChannel
from bots.delivery import Delivery
from core.config import DEFAULT_FAQ_PATH, Settings
from core.events import OperatorCommand, OperatorText, StaffPlace
from core.faq import FaqMatcher, load_faq
from core.messages import Inbound, Operator, UserRef

QUESTIONS = [
    "Как сбросить пароль?",
    "how do i get a refund",
    "где мой заказ",
    "payment failed what do i do",
    "Какие часы работы поддержки?",
    "мой холодильник поёт по ночам",
]
OLGA = Operator("1", "Olga")


async def customer(core: Core, n: int, counter: list[int]) -> None:
    user = UserRef("bench", str(n))
    seq = 0

    async def say(text: str) -> None:
        nonlocal seq
        seq += 1
        await core.intake(Inbound(user, text, f"{n}-{seq}", name=f"Customer {n}"))
        counter[0] += 1

    for q in QUESTIONS:
        await say(q)
    await say("/operator")
    for i in range(4):
        await say(f"подробности {i}")
    case = await core.store.open_case_of(user)
    await core.intake(OperatorText(OLGA, "Смотрю", StaffPlace(case_id=case.id), message_id=f"{n}-op-1"))
    await core.intake(OperatorCommand(OLGA, case.id, "resolve", StaffPlace(), message_id=f"{n}-op-2"))
    counter[0] += 2


async def one_run(url: str | None, matcher: FaqMatcher, customers: int) -> tuple[float, int, float, int, int]:
    """-> (events per second through the intake, events, outbox entries delivered per second, entries, sends)."""
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    settings = Settings(REDIS_URL=url, REDIS_PREFIX=prefix, FAQ_PATH=str(DEFAULT_FAQ_PATH))
    core = await bootstrap(settings, matcher=matcher, notice=None)
    try:
        counter = [0]
        started = time.perf_counter()
        await asyncio.gather(*[customer(core, n, counter) for n in range(customers)])
        elapsed = time.perf_counter() - started
        channel = MemoryChannel()
        delivery = Delivery(core.outbox, {"bench": channel}, channel, core.intake)
        queued = await core.outbox.pending()
        started = time.perf_counter()
        assert await delivery.drain(600), "the outbox did not empty"
        delivered = time.perf_counter() - started
        assert await core.outbox.pending() == 0
        sends = len(channel.sent)  # fewer than entries: a card takes in the relays queued right behind it
        if url:
            redis = core.store.redis
            keys = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
            for i in range(0, len(keys), 500):
                await redis.delete(*keys[i : i + 500])
    finally:
        await core.close()
    return counter[0] / elapsed, counter[0], queued / delivered, queued, sends


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis", default=os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--customers", type=int, default=200)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    matcher = FaqMatcher(load_faq(DEFAULT_FAQ_PATH))
    print(
        f"machine: {os.cpu_count()} cores; {args.customers} concurrent customers, "
        f"{len(QUESTIONS) + 5} customer events + 2 operator actions each; {args.runs} runs"
    )
    for label, url in (("real Redis " + args.redis, args.redis), ("embedded (fakeredis)", None)):
        rates, sends = [], []
        for _ in range(args.runs):
            rate, total, send_rate, queued, sent = await one_run(url, matcher, args.customers)
            rates.append(rate)
            sends.append(send_rate)
        print(
            f"{label}: median {statistics.median(rates):.0f} msg/s "
            f"(min {min(rates):.0f}, max {max(rates):.0f}; {total} events per run)"
        )
        print(
            f"  delivery, reported separately: median {statistics.median(sends):.0f} outbox entries/s "
            f"(min {min(sends):.0f}, max {max(sends):.0f}; {queued} entries, {sent} sends per run, in-memory channel)"
        )


if __name__ == "__main__":
    asyncio.run(main())
