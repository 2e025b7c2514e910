"""The outbox and its delivery workers against real Redis, with a recording channel (``tests.integration.recorder``):
order, shared limits, retries, giving up (through the intake to the desk), merging, multi-part progress, links,
waking up. How waiting sends take turns and how often workers claim: test_outbox_turns.py."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest
import redis.asyncio as aioredis

from bots.delivery import Delivery, DeliveryOptions, Outbox
from bots.ports import DeliveryError
from core.events import OperatorText, StaffPlace
from core.messages import Attachment, Inbound, MessageRef, StaffKind, to_customer, to_staff
from core.store import Store
from tests.fakes.telegram_api import free_port
from tests.integration.recorder import ANNA, BORIS, OLGA, SCALE, Recorder, make, until


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
