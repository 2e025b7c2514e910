"""The outbox and its delivery workers against real Redis, with a recording channel: order, shared limits,
retries, giving up (through the intake to the desk), merging, multi-part progress, links, waking up."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bots.app import bootstrap
from bots.delivery import Delivery, DeliveryOptions, Outbox
from bots.delivery.limits import Limiter
from bots.ports import Capabilities, DeliveryError, Limit, Media, SendContext
from core.config import Settings
from core.events import OperatorText, StaffPlace
from core.messages import (
    Attachment,
    Audience,
    Inbound,
    MessageRef,
    Operator,
    Outbound,
    StaffKind,
    UserRef,
    to_customer,
    to_staff,
)
from core.store import Store
from tests.fakes.telegram_api import free_port

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
ANNA = UserRef("rec", "1")
BORIS = UserRef("rec", "2")
OLGA = Operator("7", "Olga")
SCALE = 0.05


class Recorder:
    """A channel (customers and the staff side) that records what it sends.

    ``script`` maps a text to the errors its next sends raise, ``slow`` to the seconds its next sends hang;
    a text with "|" goes out as several parts (one message each, progress kept by the outbox), and
    ``part_script`` maps (text, part index) to the errors that part raises. Every staff message sent for a
    case is linked to it (``ctx.link``), the parts sent by an earlier attempt included."""

    name = "rec"
    capabilities = Capabilities()

    def __init__(self, per: float = 1.0, count: int = 1, group: tuple[int, float] = (20, 60.0)):
        self.sent: list[tuple[float, Outbound, str]] = []
        self.staff_sent: list[tuple[float, Outbound, str]] = []
        self.parts: list[str] = []  # every part that went out, in order
        self.attempts: list[tuple[str, str]] = []  # (text, ctx.key) of every attempt
        self.script: dict[str, list[Exception]] = {}
        self.part_script: dict[tuple[str, int], list[Exception]] = {}
        self.slow: dict[str, list[float]] = {}
        self.fetched: list[bytes] = []
        self.per, self.count, self.group = per, count, group
        self.files = {"f1": b"bytes of f1"}
        self._changed = asyncio.Condition()

    def limits(self, out: Outbound) -> list[Limit]:
        return [Limit(f"chat:{out.to.user_id}", self.count, self.per), Limit("global", 30, 1.0)]

    async def staff_limits(self, out: Outbound) -> list[Limit]:  # may be a coroutine
        n = 2 if out.kind == StaffKind.CASE_OPENED else 1
        return [Limit("group", *self.group)] * n

    async def _send(self, out: Outbound, ctx: SendContext, log: list) -> str:
        self.attempts.append((out.text, ctx.key))
        errors = self.script.get(out.text)
        if errors:
            raise errors.pop(0)
        delays = self.slow.get(out.text)
        if delays:
            await asyncio.sleep(delays.pop(0))
        for a in out.attachments:
            self.fetched.append((await ctx.media(a)).data)
        native = ""
        for i, part in enumerate(out.text.split("|")):
            if i < ctx.progress.done:
                native = ctx.progress.sent[i]
            else:
                errors = self.part_script.get((out.text, i))
                if errors:
                    raise errors.pop(0)
                self.parts.append(part)
                native = f"n{len(self.parts)}"
                await ctx.progress.mark(i, native)
            if out.audience == Audience.STAFF and out.case_id:
                ctx.link("recmsg", native, out.case_id, ttl=3600)
        async with self._changed:
            log.append((time.monotonic(), out, ctx.key))
            self._changed.notify_all()
        return native

    async def send(self, out: Outbound, ctx: SendContext) -> str:
        return await self._send(out, ctx, self.sent)

    async def send_staff(self, out: Outbound, ctx: SendContext) -> str:
        return await self._send(out, ctx, self.staff_sent)

    async def download(self, att: Attachment) -> Media:
        return Media(self.files[att.ref], att.ref)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
        """A barrier: until ``condition()`` holds after a send."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)


@pytest.fixture
async def core(redis_url, prefix, redis):
    """The real core (desk, intake, outbox) on the test's prefix, with the real clock: limits and backoffs
    are measured in real time here."""
    settings = Settings(
        REDIS_URL=redis_url, REDIS_PREFIX=prefix, FAQ_PATH=str(FAQ), DEFAULT_LANGUAGE="ru", STAFF_LANGUAGE="en"
    )
    core = await bootstrap(settings, notice=None)
    yield core
    await core.close()


@pytest.fixture
def rec():
    return Recorder()


def make(core, rec, **options) -> Delivery:
    options.setdefault("time_scale", SCALE)
    return Delivery(core.outbox, {"rec": rec}, rec, core.intake, DeliveryOptions(**options))


@pytest.fixture
def delivery(core, rec):
    return make(core, rec, backoff=0.2)


async def test_enqueue_is_durable_and_drain_sends_in_order(core, rec, delivery, redis_url, prefix):
    outs = [to_customer(ANNA, f"a{i}") for i in range(5)] + [to_customer(BORIS, "b0")]
    await core.outbox.enqueue(outs)
    # another process (its own connection) sees the same outbox and sends it
    other_redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        other = Outbox(Store(other_redis, prefix))
        assert await other.pending() == 6
        assert await Delivery(other, {"rec": rec}, rec, core.intake, DeliveryOptions(time_scale=SCALE)).drain(10)
    finally:
        await other_redis.aclose()
    assert [o.text for _, o, _ in rec.sent if o.to == ANNA] == [f"a{i}" for i in range(5)]
    assert [o.text for _, o, _ in rec.sent if o.to == BORIS] == ["b0"]
    assert await core.outbox.pending() == 0 and await core.outbox.empty()


async def test_per_chat_limit_spaces_sends_and_is_shared_by_processes(core, rec):
    a = make(core, rec)
    b = Delivery(Outbox(core.store), {"rec": rec}, rec, core.intake, DeliveryOptions(time_scale=SCALE))  # 2nd worker
    await core.outbox.enqueue([to_customer(ANNA, f"a{i}") for i in range(6)])
    assert all(await asyncio.gather(a.drain(10), b.drain(10)))
    times = [t for t, o, _ in rec.sent]
    assert len(times) == 6
    window = 1.0 * SCALE
    assert all(t2 - t1 >= window * 0.9 for t1, t2 in itertools.pairwise(times)), times
    assert [o.text for _, o, _ in rec.sent] == [f"a{i}" for i in range(6)]


async def test_group_budget_counts_topic_creation_and_merges_waiting_customer_messages(core):
    rec = Recorder(group=(3, 10.0))  # 3 per 0.5 s at this scale: the budget runs out at once
    d = make(core, rec)
    photo = Attachment("photo", "f1", "rec")
    outs = [to_staff(7, "card", StaffKind.CASE_OPENED), to_staff(7, "taken", StaffKind.STATUS)]  # 2 units + 1
    outs += [to_staff(7, f"m{i}", StaffKind.CUSTOMER_MESSAGE) for i in range(5)]
    outs += [to_staff(7, "m5", StaffKind.CUSTOMER_MESSAGE, attachments=(photo,))]
    outs += [to_staff(7, "status", StaffKind.STATUS)]
    await core.outbox.enqueue(outs)
    assert await d.drain(15)
    texts = [o.text for _, o, _ in rec.staff_sent]
    assert texts[:2] == ["card", "taken"]  # 3 units: no wait yet
    merged = rec.staff_sent[2][1]
    assert merged.text == "m0\nm1\nm2\nm3\nm4\nm5" and merged.attachments == (photo,)
    assert merged.meta["merged"] == 6
    assert texts[-1] == "status" and len(texts) == 4
    assert d.stats["merged"] == 5 and d.stats["throttled"] >= 1


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
    now[0] = 101.4
    assert (await limiter.take(limit, "b"))[0] == 0.0


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


async def test_a_copy_only_message_is_not_merged_away(core):
    """A location or contact exists only as the original to copy: merging stops at it, it is copied alone."""
    rec = Recorder(group=(1, 2.0))  # one per 0.1 s at this scale: the budget is spent after the first send
    d = make(core, rec)
    location = MessageRef("telegram", "1", "77")
    outs = [
        to_staff(7, "first", StaffKind.CUSTOMER_MESSAGE),
        to_staff(7, "hi", StaffKind.CUSTOMER_MESSAGE),
        to_staff(7, "", StaffKind.CUSTOMER_MESSAGE, copy_from=location),
        to_staff(7, "later", StaffKind.CUSTOMER_MESSAGE),
    ]
    await core.outbox.enqueue(outs)
    assert await d.drain(20)
    sent = [o for _, o, _ in rec.staff_sent]
    assert [o.text for o in sent] == ["first", "hi", "", "later"]
    assert sent[2].copy_from == location and sent[1].copy_from is None
    assert d.stats["merged"] == 0


async def test_retry_after_is_honoured_without_using_an_attempt(core, rec):
    d = make(core, rec, max_attempts=2)
    rec.script["hi"] = [DeliveryError("Too Many Requests: retry after 1", retry_after=0.1)] * 3
    await core.outbox.enqueue([to_customer(ANNA, "hi")])
    t0 = time.monotonic()
    assert await d.drain(10)
    assert len(rec.sent) == 1
    assert rec.sent[0][0] - t0 >= 0.3 * 0.95  # three waits of 0.1 s (retry_after is not scaled)
    assert d.stats["rate_limited"] == 3 and d.stats["retried"] == 0 and d.stats["failed"] == 0


async def test_transient_errors_back_off_then_succeed_with_the_same_key(core):
    rec = Recorder(per=0.001)  # real time here: the per-chat limit out of the way
    d = make(core, rec, time_scale=1.0, backoff=0.05)
    rec.script["hi"] = [DeliveryError("Internal Server Error"), TimeoutError()]
    await core.outbox.enqueue([to_customer(ANNA, "hi")])
    started = time.monotonic()
    assert await d.drain(10)
    assert len(rec.sent) == 1 and d.stats["retried"] == 2 and d.stats["failed"] == 0
    assert time.monotonic() - started >= (0.05 + 0.1) * 0.95  # backoff, doubled
    keys = {key for text, key in rec.attempts}
    assert len(rec.attempts) == 3 and len(keys) == 1  # one idempotency key across the attempts


async def test_a_permanent_error_gives_up_at_once_and_the_desk_tells_the_other_side(core, rec, delivery):
    await core.intake(Inbound(ANNA, "/operator", "m1", name="Anna"))
    assert await delivery.drain(10)
    case_id = rec.staff_sent[0][1].case_id
    rec.script["Ответ"] = [DeliveryError("the customer blocked the bot", permanent=True)]
    await core.intake(OperatorText(OLGA, "Ответ", StaffPlace(case_id=case_id), message_id="o1"))
    await core.outbox.enqueue([to_customer(ANNA, "after")])
    assert await delivery.drain(10)
    assert [a[0] for a in rec.attempts].count("Ответ") == 1  # no retry
    (warning,) = [o for _, o, _ in rec.staff_sent if o.kind == StaffKind.INFO]
    assert warning.case_id == case_id and "the customer blocked the bot" in warning.text and "Ответ" in warning.text
    assert [o.text for _, o, _ in rec.sent][-1] == "after"  # the queue moves on
    (failed,) = [e for e in await core.store.events() if e["type"] == "delivery_failed"]
    assert failed["reason"] == "the customer blocked the bot" and failed["case"] == str(case_id)
    assert "Not delivered to the customer" in (await core.store.transcript(case_id))[-1]["text"]
    assert delivery.stats["failed"] == 1


async def test_the_last_attempt_gives_up_and_a_lost_relay_is_told_to_the_customer(core, rec):
    d = make(core, rec, max_attempts=3, backoff=0.1)
    await core.intake(Inbound(ANNA, "/operator", "m1", name="Anna"))
    assert await d.drain(10)
    rec.script["где ответ?"] = [DeliveryError("Bad Gateway")] * 10
    await core.intake(Inbound(ANNA, "где ответ?", "m2"))
    assert await d.drain(10)
    assert d.stats["retried"] == 2 and d.stats["failed"] == 1
    assert [text for text, _ in rec.attempts].count("где ответ?") == 3
    told = rec.sent[-1][1]
    assert told.to == ANNA and "повторите" in told.text
    assert [e["reason"] for e in await core.store.events() if e["type"] == "delivery_failed"] == ["Bad Gateway"]


async def test_transient_errors_give_up_when_the_message_is_too_old_to_help(core):
    rec = Recorder(per=0.001)
    d = make(core, rec, time_scale=1.0, backoff=0.02, max_backoff=0.05, give_up_after=0.3)
    rec.script["late"] = [DeliveryError("Bad Gateway")] * 1000
    await core.outbox.enqueue([to_customer(ANNA, "late", case_id=4)])
    started = time.monotonic()
    assert await d.drain(10)
    assert time.monotonic() - started >= 0.3 * 0.95 and d.stats["retried"] >= 3 and d.stats["failed"] == 1
    (notice,) = [o for _, o, _ in rec.staff_sent]
    assert notice.case_id == 4 and "Bad Gateway" in notice.text and not rec.sent


async def test_an_undeliverable_notice_is_not_reported_in_a_loop(core, rec, delivery):
    await core.intake(Inbound(ANNA, "/operator", "m1", name="Anna"))
    assert await delivery.drain(10)
    case_id = rec.staff_sent[0][1].case_id
    rec.script["Ответ"] = [DeliveryError("blocked", permanent=True)]
    notice = "⚠️ Not delivered to the customer: blocked\n« Ответ »"
    rec.script[notice] = [DeliveryError("staff group gone", permanent=True)]
    await core.intake(OperatorText(OLGA, "Ответ", StaffPlace(case_id=case_id), message_id="o1"))
    assert await delivery.drain(10)
    assert delivery.stats["failed"] == 2  # the reply, then its notice: nothing more
    assert [e["reason"] for e in await core.store.events() if e["type"] == "delivery_failed"] == [
        "blocked",
        "staff group gone",
    ]


async def test_channels_get_a_media_resolver_for_any_channels_files(core, rec, delivery):
    await core.outbox.enqueue([to_customer(ANNA, "look", attachments=(Attachment("photo", "f1", "rec"),))])
    assert await delivery.drain(10)
    assert rec.fetched == [b"bytes of f1"]
    with pytest.raises(DeliveryError):
        await delivery.fetch_media(Attachment("photo", "x", "nowhere"))


async def test_multi_part_progress_survives_a_retry_and_every_part_is_linked(core, rec, delivery):
    rec.part_script[("p1|p2|p3", 1)] = [DeliveryError("Bad Gateway")]
    await core.outbox.enqueue([to_staff(7, "p1|p2|p3", StaffKind.CASE_OPENED)])
    assert await delivery.drain(10)
    assert rec.parts == ["p1", "p2", "p3"]  # the part sent before the failure is not sent again
    assert delivery.stats["retried"] == 1 and len(rec.staff_sent) == 1
    for native in ("n1", "n2", "n3"):  # links are recorded by the outbox when the entry is done
        assert await core.store.lookup("recmsg", native) == 7
        assert 3500 < await core.store.redis.ttl(core.store.keys.ref("recmsg", native)) <= 3600


async def test_links_of_a_send_that_failed_are_not_recorded(core, rec, delivery):
    rec.part_script[("a|b", 1)] = [DeliveryError("chat not found", permanent=True)]
    await core.outbox.enqueue([to_staff(8, "a|b", StaffKind.STATUS)])
    assert await delivery.drain(10)
    assert rec.parts == ["a"] and delivery.stats["failed"] == 1
    assert await core.store.lookup("recmsg", "n1") is None


async def test_a_send_that_hangs_is_cut_off_before_the_lease_ends_and_retried(core, rec):
    d = make(core, rec, backoff=0.1, lease_seconds=0.5)
    rec.slow["hi"] = [30.0]
    await core.outbox.enqueue([to_customer(ANNA, "hi")])
    t0 = time.monotonic()
    assert await d.drain(10)
    assert time.monotonic() - t0 < 5
    assert [o.text for _, o, _ in rec.sent] == ["hi"]
    assert d.stats["retried"] == 1 and d.stats["failed"] == 0


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


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:  # noqa: ASYNC109
    """A barrier on state this test cannot be told about otherwise: polls ``condition`` until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing signals it (the worker parked in BLPOP)
            await asyncio.sleep(0.005)


async def test_an_idle_worker_wakes_at_once_for_a_new_entry(core, rec, redis_url, prefix):
    d = make(core, rec, idle_wait=30.0)  # an idle worker would otherwise sleep 30 s
    task = asyncio.create_task(d.run())
    other_redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await core.outbox.enqueue([to_customer(ANNA, "first")])  # queued in this process
        await rec.wait_for(lambda: len(rec.sent) == 1)
        for n, outbox in ((2, Outbox(Store(other_redis, prefix))), (3, core.outbox)):  # another process, then ours
            await until(lambda: d.outbox._blocked is not None and not d.outbox._blocked.done())  # idle, blocked
            queued = time.monotonic()
            await outbox.enqueue([to_customer(BORIS, f"entry {n}")])
            await rec.wait_for(lambda n=n: len(rec.sent) == n)
            assert time.monotonic() - queued < 1.0
        assert [o.text for _, o, _ in rec.sent] == ["first", "entry 2", "entry 3"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await other_redis.aclose()


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


class _Count(logging.Handler):
    def __init__(self, needle: str, enough: int):
        super().__init__(logging.ERROR)
        self.needle, self.enough, self.seen = needle, enough, 0
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.seen += 1
            if self.seen >= self.enough:
                self.reached.set()


async def test_run_survives_redis_being_away(rec, core):
    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    outbox = Outbox(Store(dead, "test:dead:"))
    d = Delivery(outbox, {"rec": rec}, rec, core.intake, DeliveryOptions(time_scale=SCALE, max_backoff=0.05))
    errors = _Count("cannot reach the queue", enough=3)
    logger = logging.getLogger("bots.delivery.worker")
    logger.addHandler(errors)
    task = asyncio.create_task(d.run())
    try:
        await asyncio.wait_for(errors.reached.wait(), 10)  # it failed three times, and went on trying
        assert not task.done(), task.exception() if task.done() else None
    finally:
        logger.removeHandler(errors)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await dead.aclose()
    assert task.cancelled()
