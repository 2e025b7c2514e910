"""The outbox against real Redis, with recording stand-in channels: order, shared limits, retries, merging."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import redis.asyncio as aioredis

from bots.channel import DeliveryError, Limit, Media
from bots.delivery import Delivery
from core.messages import Attachment, Audience, MessageRef, Outbound, StaffKind, UserRef, to_customer, to_staff
from core.store import Store
from tests.fakes.telegram_api import free_port


class Recorder:
    """A channel that records sends; ``script`` maps a text to the errors its next sends raise, ``slow`` to the
    seconds its next sends hang before they go out."""

    name = "rec"

    def __init__(self, per: float = 1.0, count: int = 1, group: tuple[int, float] = (20, 60.0)):
        self.sent: list[tuple[float, Outbound, str]] = []
        self.staff_sent: list[tuple[float, Outbound, str]] = []
        self.script: dict[str, list[Exception]] = {}
        self.slow: dict[str, list[float]] = {}
        self.per, self.count, self.group = per, count, group
        self.media = None
        self.files = {"f1": b"bytes of f1"}

    def limits(self, out: Outbound) -> list[Limit]:
        if out.audience == Audience.STAFF:
            n = 2 if out.kind == StaffKind.CASE_OPENED else 1
            return [Limit("group", *self.group)] * n
        return [Limit(f"chat:{out.to.user_id}", self.count, self.per), Limit("global", 30, 1.0)]

    async def _maybe_fail(self, out: Outbound) -> None:
        errors = self.script.get(out.text)
        if errors:
            raise errors.pop(0)
        delays = self.slow.get(out.text)
        if delays:
            await asyncio.sleep(delays.pop(0))

    async def send(self, out: Outbound, key: str) -> str:
        await self._maybe_fail(out)
        self.sent.append((time.monotonic(), out, key))
        return str(len(self.sent))

    async def send_staff(self, out: Outbound, key: str) -> str:
        await self._maybe_fail(out)
        self.staff_sent.append((time.monotonic(), out, key))
        return str(len(self.staff_sent))

    async def download(self, att: Attachment) -> Media:
        return Media(self.files[att.ref], att.ref)


class Desk:
    def __init__(self):
        self.failed: list[tuple[Outbound, str]] = []

    async def delivery_failed(self, out: Outbound, reason: str) -> list[Outbound]:
        self.failed.append((out, reason))
        if out.audience == Audience.CUSTOMER:
            return [to_staff(out.case_id or 0, f"not delivered: {reason}", StaffKind.INFO, meta={"undelivered": True})]
        return []


ANNA = UserRef("rec", "1")
BORIS = UserRef("rec", "2")
SCALE = 0.05


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def desk():
    return Desk()


@pytest.fixture
def delivery(store, rec, desk):
    return Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE, backoff=0.2)


async def test_enqueue_is_durable_and_drain_sends_in_order(store, rec, desk, delivery):
    outs = [to_customer(ANNA, f"a{i}") for i in range(5)] + [to_customer(BORIS, "b0")]
    await delivery.enqueue(outs)
    # another Delivery (another process) sees the same outbox
    other = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE)
    assert await other.pending() == 6
    assert await other.drain(10)
    assert [o.text for _, o, _ in rec.sent if o.to == ANNA] == [f"a{i}" for i in range(5)]
    assert [o.text for _, o, _ in rec.sent if o.to == BORIS] == ["b0"]
    assert await delivery.pending() == 0


async def test_per_chat_limit_spaces_sends_and_is_shared_by_processes(store, rec, desk):
    a = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE)
    b = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE)
    await a.enqueue([to_customer(ANNA, f"a{i}") for i in range(6)])
    await asyncio.gather(a.drain(10), b.drain(10))
    times = [t for t, o, _ in rec.sent]
    assert len(times) == 6
    window = 1.0 * SCALE
    assert all(t2 - t1 >= window * 0.9 for t1, t2 in itertools.pairwise(times)), times
    assert [o.text for _, o, _ in rec.sent] == [f"a{i}" for i in range(6)]


async def test_group_budget_counts_topic_creation_and_merges_waiting_customer_messages(store, desk):
    rec = Recorder(group=(3, 60.0))  # 3 per 3 s at this scale: the budget runs out at once
    d = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE)
    photo = Attachment("photo", "f1", "rec")
    outs = [to_staff(7, "card", StaffKind.CASE_OPENED)]  # 2 units: topic + card
    outs += [to_staff(7, f"m{i}", StaffKind.CUSTOMER_MESSAGE) for i in range(5)]
    outs += [to_staff(7, "m5", StaffKind.CUSTOMER_MESSAGE, attachments=(photo,))]
    outs += [to_staff(7, "status", StaffKind.STATUS)]
    await d.enqueue(outs)
    assert await d.drain(15)
    texts = [o.text for _, o, _ in rec.staff_sent]
    assert texts[0] == "card" and texts[1] == "m0"  # 3 units: no wait yet
    merged = rec.staff_sent[2][1]
    assert merged.text == "m1\nm2\nm3\nm4\nm5" and merged.attachments == (photo,)
    assert merged.meta["merged"] == 5
    assert texts[-1] == "status"
    assert d.stats["merged"] == 4


async def test_retry_after_is_honoured_without_using_an_attempt(store, rec, desk, delivery):
    rec.script["hi"] = [DeliveryError("Too Many Requests: retry after 1", retry_after=0.5)] * 3
    await delivery.enqueue([to_customer(ANNA, "hi")])
    t0 = time.monotonic()
    assert await delivery.drain(10)
    assert len(rec.sent) == 1
    assert rec.sent[0][0] - t0 >= 1.5 * 0.95  # three waits of 0.5 s (retry_after is not scaled)
    assert delivery.stats["rate_limited"] == 3 and not desk.failed


async def test_transient_errors_back_off_then_succeed_with_the_same_key(store, rec, desk, delivery):
    rec.script["hi"] = [DeliveryError("Internal Server Error"), TimeoutError()]
    await delivery.enqueue([to_customer(ANNA, "hi")])
    assert await delivery.drain(10)
    assert len(rec.sent) == 1 and delivery.stats["retried"] == 2 and not desk.failed


async def test_permanent_error_gives_up_at_once_and_tells_the_other_side(store, rec, desk, delivery):
    rec.script["hi"] = [DeliveryError("the customer blocked the bot", permanent=True)]
    await delivery.enqueue([to_customer(ANNA, "hi", case_id=3), to_customer(ANNA, "after")])
    assert await delivery.drain(10)
    assert [(o.text, r) for o, r in desk.failed] == [("hi", "the customer blocked the bot")]
    assert [o.text for _, o, _ in rec.staff_sent] == ["not delivered: the customer blocked the bot"]
    assert [o.text for _, o, _ in rec.sent] == ["after"]  # the queue moves on


async def test_last_attempt_gives_up(store, rec, desk):
    d = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE, max_attempts=3, backoff=0.1)
    rec.script["hi"] = [DeliveryError("Bad Gateway")] * 10
    await d.enqueue([to_customer(ANNA, "hi", case_id=1)])
    assert await d.drain(10)
    assert [r for _, r in desk.failed] == ["Bad Gateway"]
    assert d.stats["retried"] == 2 and not rec.sent


async def test_channels_get_a_media_resolver_for_other_channels_files(store, rec, desk, delivery):
    assert rec.media is not None
    media = await rec.media(Attachment("photo", "f1", "rec"))
    assert media.data == b"bytes of f1"
    with pytest.raises(DeliveryError):
        await delivery.fetch_media(Attachment("photo", "x", "nowhere"))


async def test_run_loop_sends_what_is_enqueued_later(store, rec, desk, delivery):
    task = asyncio.create_task(delivery.run())
    try:
        await delivery.enqueue([to_customer(ANNA, "late")])
        for _ in range(200):
            if rec.sent:
                break
            await asyncio.sleep(0.02)
        assert [o.text for _, o, _ in rec.sent] == ["late"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_copy_only_message_is_not_merged_away(store, desk):
    """A location or contact exists only as the original to copy: merging stops at it, it is copied alone."""
    rec = Recorder(group=(1, 60.0))  # one per 3 s at this scale: the budget is spent after the first send
    d = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE)
    location = MessageRef("telegram", "1", "77")
    outs = [
        to_staff(7, "first", StaffKind.CUSTOMER_MESSAGE),
        to_staff(7, "hi", StaffKind.CUSTOMER_MESSAGE),
        to_staff(7, "", StaffKind.CUSTOMER_MESSAGE, copy_from=location),
        to_staff(7, "later", StaffKind.CUSTOMER_MESSAGE),
    ]
    await d.enqueue(outs)
    assert await d.drain(20)
    sent = [o for _, o, _ in rec.staff_sent]
    assert [o.text for o in sent] == ["first", "hi", "", "later"]
    assert sent[2].copy_from == location and sent[1].copy_from is None
    assert d.stats["merged"] == 0


async def test_a_send_that_hangs_is_cut_off_before_the_lease_ends_and_retried(store, rec, desk):
    d = Delivery(store, desk, {"rec": rec}, rec, time_scale=SCALE, backoff=0.1, lease_seconds=0.5)
    rec.slow["hi"] = [30.0]
    await d.enqueue([to_customer(ANNA, "hi")])
    t0 = time.monotonic()
    assert await d.drain(10)
    assert time.monotonic() - t0 < 5
    assert [o.text for _, o, _ in rec.sent] == ["hi"]
    assert d.stats["retried"] == 1 and not desk.failed


async def test_run_survives_redis_being_away(rec, desk):
    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    d = Delivery(Store(dead, "test:dead:"), desk, {"rec": rec}, rec, time_scale=SCALE, max_backoff=0.2)
    task = asyncio.create_task(d.run())
    try:
        await asyncio.sleep(1.0)
        assert not task.done(), task.exception() if task.done() else None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await dead.aclose()
    assert task.cancelled()
