"""Waiting sends take turns: a send held up by a rate limit books its moment instead of trying again with every
other one when the window opens; a destination being sent is not due for anyone else; one commit costs one
claim. Real Redis, the recording channel of ``tests.integration.recorder``."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from bots.delivery import Delivery, DeliveryOptions, Outbox
from bots.delivery.limits import Limiter
from bots.ports import Limit
from core.messages import StaffKind, to_customer, to_staff
from core.store import Store
from tests.integration.recorder import ANNA, BORIS, SCALE, Recorder, make, until


async def test_senders_waiting_for_a_window_book_their_turns_in_order(redis, prefix):
    """A send that has to wait books the moment its limit has room, after the bookings made before it: the
    waiting senders are spread over the next windows in the order they came. A due booking is taken; one asked
    for early says how long is left; bookings count against newcomers but, once due, not as sends."""
    now = [100.0]
    limiter = Limiter(Store(redis, prefix, clock=lambda: now[0]), margin=0.0)
    limit = [Limit("group", 3, 1.0)]
    assert [(await limiter.take(limit, name))[0] for name in "abc"] == [0.0] * 3
    waits = [(await limiter.take(limit, name))[0] for name in "defg"]
    assert waits == pytest.approx([1.0, 1.0, 1.0, 2.0])  # d, e, f in the next window; g in the one after
    assert (await limiter.take(limit, "x", book=False))[0] == pytest.approx(2.0)  # not booked: nothing held
    now[0] = 100.5
    assert (await limiter.take(limit, "d"))[0] == pytest.approx(0.5)  # early: the time left
    now[0] = 101.0
    for name in "fde":  # any order: a due booking is no send, so none of them holds the others up
        wait, taken = await limiter.take(limit, name)
        assert wait == 0.0 and len(taken) == 1
    assert (await limiter.take(limit, "g"))[0] == pytest.approx(1.0)
    assert (await limiter.take(limit, "h"))[0] == pytest.approx(1.0)  # after g's booking, in its window


async def test_a_booking_waits_for_sends_dated_later_than_it_was_made_for(redis, prefix):
    """Sends are dated when they finish: a booking that comes due while the send before it finished late still
    keeps the window (it waits until that send has left it)."""
    now = [100.0]
    store = Store(redis, prefix, clock=lambda: now[0])
    limiter = Limiter(store, margin=0.0)
    limit = [Limit("chat", 1, 1.0)]
    _, taken = await limiter.take(limit, "a")
    assert (await limiter.take(limit, "b"))[0] == pytest.approx(1.0)
    for key, member in taken:  # a's send finished at 100.4 (what Outbox.done records)
        await redis.zadd(key, {member: 100.4}, xx=True)
    now[0] = 101.0
    assert (await limiter.take(limit, "b"))[0] == pytest.approx(0.4)
    key = taken[0][0]
    assert await redis.zscore(key, "b:b:1") == pytest.approx(100.4 + 1.0)  # kept, dated anew: never pruned as old
    now[0] = 101.4
    assert (await limiter.take(limit, "b"))[0] == 0.0


async def test_a_send_dated_ahead_by_another_clock_is_counted_but_is_no_queue(redis, prefix):
    """A send dated in the future (another host's clock runs ahead, or its finish was recorded late) fills its
    window like any send, but newcomers do not queue behind it as they would behind a booking."""
    now = [100.0]
    limiter = Limiter(Store(redis, prefix, clock=lambda: now[0]), margin=0.0)
    _, taken = await limiter.take([Limit("global", 3, 1.0)], "a")
    key = taken[0][0]
    await redis.zadd(key, {"other-host:1": 100.3})  # sent by a process whose clock is 0.3 s ahead
    assert (await limiter.take([Limit("global", 3, 1.0)], "b"))[0] == 0.0  # room: no wait until 100.3
    one = [Limit("chat", 1, 1.0)]
    _, taken = await limiter.take(one, "c")
    assert (await limiter.take(one, "d"))[0] == pytest.approx(1.0)  # booked for 101.0
    await redis.zadd(taken[0][0], {"other-host:2": 101.2})  # meanwhile a send dated after that booking
    now[0] = 101.0
    assert (await limiter.take(one, "d"))[0] == pytest.approx(1.2)  # the due booking waits for it to leave


async def test_relays_waiting_for_the_group_budget_are_tried_about_once_each(core):
    """20 topics waiting for a budget of 2 per window: each is turned away about once (it books its turn),
    not once per window until its turn comes (that herd cost a Redis round trip and a claim every time)."""
    rec = Recorder(group=(2, 2.0))  # 2 per 0.1 s at this scale
    d = make(core, rec)
    await core.outbox.enqueue([to_staff(100 + i, f"m{i}", StaffKind.CUSTOMER_MESSAGE) for i in range(20)])
    assert await d.drain(20)
    assert sorted(o.text for _, o, _ in rec.staff_sent) == sorted(f"m{i}" for i in range(20))
    # each of the 18 that wait: its booking, and a wait or two more when the sends before it finished late (they
    # are dated when they finish); without bookings every waiting one is refused once per window: 90 to 120
    assert d.stats["throttled"] <= 3 * 18, d.stats


async def test_a_destination_being_sent_is_not_due_for_other_workers(core, rec):
    """A claimed destination is due again only when its lease ends (or its sender finishes): other workers wait
    for that instead of claiming it again and again while the send runs, or while a dead worker's lease runs out;
    then one of them takes it over."""
    await core.outbox.enqueue([to_customer(ANNA, "hi")])
    dead = Outbox(core.store, lease_seconds=0.6)  # claims, then dies: never done, never later
    claimed_at = time.monotonic()
    (entry,), _ = await dead.claim(10)
    assert entry.out.text == "hi"
    other = Outbox(core.store, lease_seconds=0.6)
    claimed, next_due = await other.claim(10)
    now = core.store.clock()
    assert claimed == [] and next_due is not None and next_due > now + 0.3, (next_due, now)
    d = Delivery(other, {"rec": rec}, rec, core.intake, DeliveryOptions(time_scale=SCALE, lease_seconds=0.6))
    task = asyncio.create_task(d.run())
    try:
        await rec.wait_for(lambda: len(rec.sent) == 1)  # taken over once the dead worker's lease ran out
        assert rec.sent[0][0] - claimed_at >= 0.5
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [o.text for _, o, _ in rec.sent] == ["hi"]


async def test_a_message_queued_while_every_slot_is_busy_goes_out_after(core, rec):
    """With every send slot taken, a new entry waits for a slot (the worker yields meanwhile: it used to spin
    without yielding, and the sends it waited for never finished)."""
    d = make(core, rec, concurrency=1)
    rec.slow["first"] = [0.2]
    task = asyncio.create_task(d.run())
    try:
        await core.outbox.enqueue([to_customer(ANNA, "first")])
        await until(lambda: any(text == "first" for text, _ in rec.attempts))  # its send has begun: no slot free
        await core.outbox.enqueue([to_customer(BORIS, "second")])  # wakes the worker while no slot is free
        await rec.wait_for(lambda: len(rec.sent) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [o.text for _, o, _ in rec.sent] == ["first", "second"]


@pytest.mark.parametrize("by", ["this process", "another process"])
async def test_a_queued_message_costs_one_claim(core, rec, redis_url, prefix, by):
    """Woken by its own process and by Redis's numbered token for the same commit, or by a token alone, an idle
    worker claims once per commit: not again while the send runs, and not after it when nothing more is due."""
    d = make(core, rec, idle_wait=30.0)  # no periodic look during the test
    task = asyncio.create_task(d.run())
    other_redis = aioredis.from_url(redis_url, decode_responses=True)
    watcher = aioredis.from_url(redis_url, decode_responses=True)
    outbox = core.outbox if by == "this process" else Outbox(Store(other_redis, prefix))
    seen: list[str] = []
    marker = f"{prefix}monitor-marker"

    def idle() -> bool:
        return not d._busy and d.outbox._blocked is not None and not d.outbox._blocked.done()

    try:
        await until(idle)
        async with watcher.monitor() as monitor:

            async def collect() -> None:
                while True:
                    seen.append((await monitor.next_command())["command"])

            collector = asyncio.create_task(collect())
            await outbox.enqueue([to_customer(ANNA, "hi")])
            await rec.wait_for(lambda: len(rec.sent) == 1)
            await until(lambda: idle() and not d.outbox._local.is_set())
            await other_redis.get(marker)  # everything before it has reached the monitor when it shows
            await until(lambda: any(c == f"GET {marker}" for c in seen))
            collector.cancel()
        claims = [c for c in seen if c.startswith(f"ZRANGEBYSCORE {prefix}outbox:ready ")]
        assert len(claims) == 1, claims
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await other_redis.aclose()
        await watcher.aclose()
