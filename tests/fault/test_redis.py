"""Redis goes away under traffic, and comes back; `supportbot run` is not restarted.

* stopped for 10 s (SIGTERM; AOF on, so it comes back with its data, on the same port) while a send is made
  and not yet answered (its answer comes back while Redis is away): customers and the operator keep writing
  meanwhile, /healthz answers 503 and says Redis is down; afterwards every message is relayed, answered or
  delivered, once (nothing else the bot sends arrives twice either);
* frozen for 10 s (SIGSTOP, then SIGCONT), the same way: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.fault.conftest import SLOW_LEASE
from tests.fault.traffic import Traffic
from tests.procs import until

pytestmark = pytest.mark.fault

OUTAGE = 10.0


async def health(base: str) -> tuple[int, dict]:
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r,
        ):
            return r.status, await r.json()
    except (aiohttp.ClientError, TimeoutError):
        return 0, {}


async def settled(redis) -> bool:
    return not await redis.zcard("sb:outbox:ready") and not await redis.keys("sb:outbox:lease:*")


async def serve_through(tg, server, redis, bot, traffic: Traffic, fault, label: str) -> None:
    """Traffic before, during and after ``fault`` (an async callable); then everything must arrive once."""
    started = time.monotonic()
    await traffic.open_cases(6, [bot])
    tg.latency = 0.15  # a send is answered 150 ms after it went out: some are in flight when Redis goes
    flow = asyncio.create_task(traffic.run(OUTAGE + 2.0))  # starts 1 s before the fault, ends 1 s after it
    try:
        await asyncio.sleep(1.0)
        await fault()
        await asyncio.wait_for(flow, 30)
    finally:
        flow.cancel()
    await until(traffic.all_arrived, 90, f"every message of the traffic after {label}", [bot], 0.05,
                lambda: f"missing: {traffic.verdict()['lost']}")  # fmt: skip
    await until(lambda: settled(redis), 60, "the outbox to empty", [bot])
    await until(lambda: not tg._updates, 30, "every update confirmed", [bot])
    verdict = traffic.verdict()
    print(
        f"\n[{label}] {verdict['messages']} messages (relays, answers from operators, FAQ answers): "
        f"{len(verdict['lost'])} lost, {len(verdict['doubled'])} doubled; {time.monotonic() - started:.1f}s"
    )
    assert not verdict["lost"], f"lost: {verdict['lost']}\n{bot.tail()}"
    assert not verdict["doubled"], f"doubled: {verdict['doubled']}\n{bot.tail()}"
    assert bot.alive()


async def test_redis_stopped_for_10s_under_traffic(tg, redis_server, redis_client, spawn_bot):
    server = redis_server(persist=True)
    redis = redis_client(server)
    bot = spawn_bot(server, tg, options=SLOW_LEASE)
    await until(lambda: any(m == "getUpdates" for m, _ in tg.calls), 30, "the bot to poll", [bot])
    assert (await health(bot.base))[0] == 200
    seen_down: list[tuple[int, dict]] = []

    async def outage() -> None:
        await until(lambda: tg.answering, 10, "a send made and not yet answered", [bot], 0.001)
        server.stop()  # that send's answer comes back while Redis is away
        t0 = time.monotonic()
        seen_down.append(
            await until(lambda: _down(bot.base), OUTAGE, "/healthz to answer 503 while Redis is down", [bot], 0.1)
        )
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - t0)))
        server.start()

    await serve_through(tg, server, redis, bot, Traffic(tg, 940_000), outage, "redis stopped 10 s")
    status, body = seen_down[0]
    assert status == 503 and body.get("redis") == "down", seen_down
    assert (await health(bot.base))[0] == 200


async def _down(base: str):
    status, body = await health(base)
    return (status, body) if status == 503 else None


async def test_redis_frozen_for_10s_under_traffic(tg, redis_server, redis_client, spawn_bot):
    server = redis_server(persist=True)
    redis = redis_client(server)
    bot = spawn_bot(server, tg, options=SLOW_LEASE)
    await until(lambda: any(m == "getUpdates" for m, _ in tg.calls), 30, "the bot to poll", [bot])

    async def freeze() -> None:
        await until(lambda: tg.answering, 10, "a send made and not yet answered", [bot], 0.001)
        server.freeze()
        try:
            await asyncio.sleep(OUTAGE)
        finally:
            server.thaw()

    await serve_through(tg, server, redis, bot, Traffic(tg, 950_000), freeze, "redis frozen 10 s")
