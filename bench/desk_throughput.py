"""Core messages per second through the desk, on a real Redis server (and on the embedded store).

Each simulated customer asks FAQ questions, asks for an operator, then keeps writing into the case, and an
operator answers: the same path a channel drives, without any transport. Prints the median of several runs.

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


from core.config import DEFAULT_FAQ_PATH
from core.desk import SupportDesk
from core.faq import FaqMatcher, load_faq
from core.messages import Inbound, Operator, UserRef
from core.store import Store, connect_redis

QUESTIONS = [
    "Как сбросить пароль?",
    "how do i get a refund",
    "где мой заказ",
    "payment failed what do i do",
    "Какие часы работы поддержки?",
    "мой холодильник поёт по ночам",
]


async def customer(desk: SupportDesk, n: int, counter: list[int]) -> None:
    user = UserRef("bench", str(n))
    seq = 0

    async def say(text: str) -> None:
        nonlocal seq
        seq += 1
        await desk.handle(Inbound(user, text, f"{n}-{seq}", name=f"Customer {n}"))
        counter[0] += 1

    for q in QUESTIONS:
        await say(q)
    await say("/operator")
    for i in range(4):
        await say(f"подробности {i}")
    case = await desk.store.open_case_of(user)
    await desk.operator_message(case.id, Operator("1", "Olga"), "Смотрю")
    await desk.operator_command(case.id, "resolve", Operator("1", "Olga"))
    counter[0] += 2


async def one_run(redis, matcher: FaqMatcher, customers: int) -> tuple[float, int]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    desk = SupportDesk(Store(redis, prefix), matcher)
    counter = [0]
    started = time.perf_counter()
    await asyncio.gather(*[customer(desk, n, counter) for n in range(customers)])
    elapsed = time.perf_counter() - started
    keys = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i : i + 500])
    return counter[0] / elapsed, counter[0]


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
        redis, _ = await connect_redis(url)
        rates = []
        for _ in range(args.runs):
            rate, total = await one_run(redis, matcher, args.customers)
            rates.append(rate)
        await redis.aclose()
        print(
            f"{label}: median {statistics.median(rates):.0f} msg/s "
            f"(min {min(rates):.0f}, max {max(rates):.0f}; {total} events per run)"
        )


if __name__ == "__main__":
    asyncio.run(main())
