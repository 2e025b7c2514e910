"""Bench: managers' figures over a year of 1,000 conversations a day (about 1.5 million recorded steps).

    .venv/bin/python bench/stats_year.py [--days 365] [--per-day 1000] [--runs 5] [--redis redis://127.0.0.1:6379/0]

The history is written the way the bot writes it: every synthetic step goes through ``core.stats.tally.Tally``
(the code ``Unit.record`` runs) and the resulting counters, gap questions and comments are stored in Redis
under a throw-away prefix (deleted at the end). Steps per conversation: a conversation, then an FAQ answer
(70%, of which a tenth "didn't help"), a "did you mean" menu (10%) or no match (20%, the text kept for the FAQ
gaps); handoffs (about a third) with a reason, a first response and a resolution by one of 12 operators on three
channels, a rating (40% of cases), a comment (5%), an SLA breach when the first response is late.

Then a fresh process (so that its memory is the queries' own) reads, for each period (today, 7d, 30d, 365d),
``read_figures`` (all figures, overall, per channel, per operator; ``daily`` too for 365d, as the chart needs
it) ``--runs`` times: median and max seconds, and the peak memory allocated (tracemalloc) during one more
read (traced apart: tracing slows a call down several times). Also: the FAQ gaps of 30 and 365 days (read,
at most the latest 10,000 questions, and grouped), and drawing the 365-day chart (first and warm). That
process's peak RSS is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import time
import tracemalloc
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aioredis

from core.faq import FaqMatcher, load_faq
from core.stats.chart import render_chart
from core.stats.figures import gap_questions, read_figures, read_gap_questions
from core.stats.gaps import group_gaps
from core.stats.period import Period
from core.store import Store

FAQ_DATA = Path(__file__).resolve().parents[1] / "faq_data"
CHANNELS = ("telegram", "vk", "whatsapp")
OPERATORS = [f"Operator {i}" for i in range(12)]
REASONS = ("no_match", "requested", "not_helped", "complaint", "callback")
GAP_TEXTS = [
    "можно оплатить криптовалютой",
    "где ваш офис в казани",
    "do you ship to mongolia",
    "есть ли скидка для пенсионеров",
    "can i pay with paypal",
    "как стать вашим партнером",
    "холодильник поёт по ночам",
    "когда откроете магазин в самаре",
]


class Writer:
    """Applies the tally's writes in memory, then stores the result (what Redis would hold after the year)."""

    def __init__(self) -> None:
        self.hashes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.lists: dict[str, list[str]] = defaultdict(list)
        self.zsets: dict[str, dict[str, float]] = defaultdict(dict)
        self.steps = 0

    def apply(self, ops: list[list[str]]) -> None:
        for op in ops:
            if op[0] == "HINCRBY":
                self.hashes[op[1]][op[2]] += int(op[3])
            elif op[0] == "RPUSH":
                self.lists[op[1]].extend(op[2:])
            elif op[0] == "ZADD":
                self.zsets[op[1]][op[3]] = float(op[2])

    async def store(self, redis: aioredis.Redis) -> None:
        pipe = redis.pipeline(transaction=False)
        for i, (key, fields) in enumerate(self.hashes.items()):
            pipe.hset(key, mapping=dict(fields))
            if i % 200 == 199:
                await pipe.execute()
        for key, items in self.lists.items():
            for j in range(0, len(items), 5000):
                pipe.rpush(key, *items[j : j + 5000])
            await pipe.execute()
        for key, members in self.zsets.items():
            pipe.zadd(key, members)
        await pipe.execute()


def history(store: Store, writer: Writer, first: date, days: int, per_day: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    tally = store.tally
    case = 0
    for d in range(days):
        midnight = time.mktime((first + timedelta(days=d)).timetuple()) - time.timezone
        for _ in range(per_day):
            ts = midnight + rng.uniform(0, 86000)
            channel = rng.choice(CHANNELS)
            customer = f"{channel}:{rng.randrange(10**7)}"

            def step(type_: str, at: float = ts, **fields: object) -> None:
                writer.apply(tally.ops(type_, {k: str(v) for k, v in fields.items()}, at))
                writer.steps += 1

            writer.apply(tally.count("conversations", ts, channel=channel))
            writer.steps += 1
            roll = rng.random()
            handoff = None
            if roll < 0.7:
                entry = f"entry_{int(rng.paretovariate(1.2)) % 40}"
                step("faq_answered", customer=customer, entry=entry)
                if rng.random() < 0.1:
                    step("faq_not_helped", customer=customer, entry=entry, text=rng.choice(GAP_TEXTS))
                    handoff = "not_helped"
                else:
                    writer.apply(tally.count("deflected", ts, channel=channel))
                    handoff = "requested" if rng.random() < 0.1 else None
            elif roll < 0.8:
                step("faq_suggested", customer=customer, entry="entry_1")
                handoff = "requested" if rng.random() < 0.5 else None
            else:
                text = rng.choice(GAP_TEXTS) + rng.choice(("", "?", " пожалуйста", " please"))
                step("faq_no_match", customer=customer, text=text)
                handoff = rng.choice(REASONS) if rng.random() < 0.8 else None
            if handoff is None:
                continue
            case += 1
            operator = rng.choice(OPERATORS)
            step("handoff", case=case, customer=customer, channel=channel, reason=handoff)
            wait = rng.lognormvariate(5.5, 1.0)
            late = "1" if wait > 900 else None
            fields = {"case": case, "seconds": wait, "work": wait, "operator": operator, "channel": channel}
            step("first_response", ts + wait, **fields, **({"late": late} if late else {}))
            for _ in range(rng.randrange(1, 4)):
                step("operator_reply", ts + wait, case=case, operator=operator, channel=channel)
            took = wait + rng.lognormvariate(7.5, 1.2)
            step("resolved", ts + took, case=case, seconds=took, work=took, operator=operator, channel=channel)
            if rng.random() < 0.4:
                stars = rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
                step("rated", ts + took, case=case, stars=stars, customer=customer, operator=operator)
                if rng.random() < 0.12:
                    step("rating_comment", ts + took, case=case, stars=stars, operator=operator,
                         customer=customer, text="спасибо, всё быстро")  # fmt: skip


async def measure(fn, runs: int) -> tuple[list[float], float, object]:
    """``runs`` timed calls (no tracing), then one more under tracemalloc for the peak memory it allocates."""
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await fn()
        took.append(time.perf_counter() - t0)
    tracemalloc.start()
    await fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return took, peak / 2**20, result


def row(label: str, took: list[float], peak: float, note: str) -> None:
    print(f"{label:<28}{statistics.median(took):>10.3f}{max(took):>8.3f}{peak:>9.1f}   {note}")


async def queries(redis: aioredis.Redis, prefix: str, days: int, runs: int) -> None:
    """Run in a fresh process (``--query PREFIX``): what a manager's request costs, RSS included."""
    rss0 = peak_rss()
    last = date(2026, 11, 30)
    store = Store(redis, prefix, clock=lambda: time.mktime(last.timetuple()) - time.timezone + 86000)
    print(f"{'figure':<28}{'median s':>10}{'max s':>8}{'peak MB':>9}")
    for label, n, daily in (("today", 1, False), ("7d", 7, False), ("30d", 30, False), ("365d", 365, False),
                            ("365d with days (chart)", 365, True)):  # fmt: skip
        period = Period(last - timedelta(days=min(n, days) - 1), last)
        took, peak, fig = await measure(lambda p=period, d=daily: read_figures(store, p, daily=d), runs)
        row(label, took, peak, f"conversations {fig.overall.conversations:,}, handoffs {fig.overall.handoffs:,}")
    rss_figures = peak_rss()
    matcher = FaqMatcher(load_faq(FAQ_DATA))
    for n in (30, 365):
        period = Period(last - timedelta(days=min(n, days) - 1), last)

        async def gaps(p=period):
            questions = await read_gap_questions(store, p)
            return len(questions), group_gaps(matcher, gap_questions(questions))

        took, peak, (read, groups) = await measure(gaps, max(1, runs // 2))
        row(f"FAQ gaps {n}d", took, peak, f"{read:,} questions read, {len(groups)} groups")
    rss_gaps = peak_rss()
    fig = await read_figures(store, Period(last - timedelta(days=days - 1), last), daily=True)
    t0 = time.perf_counter()
    png = await asyncio.to_thread(render_chart, fig.daily, title="year")
    first = time.perf_counter() - t0
    row("chart 365 days (1st)", [first], 0.0, f"{len(png):,} bytes; the first call imports matplotlib")
    took, peak, _ = await measure(lambda: asyncio.to_thread(render_chart, fig.daily, title="year"), runs)
    row("chart 365 days (warm)", took, peak, "")
    rss = peak_rss()
    print(f"query process, peak RSS: {rss0:.0f} MB after imports, {rss_figures:.0f} MB after the figures, "
          f"{rss_gaps:.0f} MB after the gaps, {rss:.0f} MB after the charts")  # fmt: skip


def peak_rss() -> float:
    """This process's peak RSS in MB (``VmHWM``: unlike ``ru_maxrss``, not inherited through fork and exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--per-day", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--query", metavar="PREFIX", help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    redis = aioredis.from_url(args.redis, decode_responses=True)
    if args.query:
        try:
            return await queries(redis, args.query, args.days, args.runs)
        finally:
            await redis.aclose()
    prefix = f"bench:stats:{uuid.uuid4().hex[:8]}:"
    last = date(2026, 11, 30)
    store = Store(redis, prefix)
    try:
        t0 = time.perf_counter()
        writer = Writer()
        history(store, writer, last - timedelta(days=args.days - 1), args.days, args.per_day)
        made = time.perf_counter() - t0
        await writer.store(redis)
        stored = time.perf_counter() - t0 - made
        gap_rows = sum(len(v) for v in writer.lists.values())
        print(f"history: {args.days} days x {args.per_day} conversations = {writer.steps:,} recorded steps")
        print(f"  kept: {len(writer.hashes):,} hashes, {sum(len(h) for h in writer.hashes.values()):,} fields, "
              f"{gap_rows:,} gap questions; generated in {made:.1f} s, stored in {stored:.1f} s")  # fmt: skip
        del writer
        cmd = [sys.executable, __file__, "--query", prefix, "--days", str(args.days), "--runs", str(args.runs),
               "--redis", args.redis]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*cmd)
        await proc.wait()
    finally:
        async for key in redis.scan_iter(match=prefix + "*", count=1000):
            await redis.unlink(key)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
