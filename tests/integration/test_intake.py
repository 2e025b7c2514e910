"""The intake (every adapter's EventSink): an event is handled once, in full or not at all.

It is marked handled in the same atomic step that applies the desk's changes and queues what it caused; a
re-delivered event is skipped; an event whose handling failed, or whose process died before the commit,
is handled again when it comes back.
"""

import asyncio

import pytest

from core.events import dedup_key
from core.messages import StaffKind, UserRef

ANNA = UserRef("console", "anna")


async def snapshot(conv) -> tuple:
    """What the event log, the outbox and the customer's state hold now."""
    store = conv.store
    return len(await store.events()), await conv.core.outbox.pending(), await store.get_user(ANNA)


async def test_an_event_is_handled_once_and_a_redelivery_is_skipped(conversation):
    conv = await conversation(user=ANNA)
    event = conv.inbound("/operator")
    await conv.core.intake(event)
    assert await conv.store.handled(dedup_key(event))
    assert await conv.core.outbox.pending() == 3  # the answer, the questions after it, the card: with the commit
    before = await snapshot(conv)
    await conv.core.intake(event)  # the platform delivers the same update again
    assert await snapshot(conv) == before
    outs = await conv.deliver()
    assert len(conv.staff_msgs(outs, StaffKind.CASE_OPENED)) == 1 and len(outs) == 3
    assert await conv.send(event) == []  # even after delivery
    assert await conv.store.last_case_id() == 1


async def test_the_same_event_delivered_twice_at_once_is_handled_once(conversation):
    conv = await conversation(user=ANNA)
    event = conv.inbound("/operator")
    outs = await conv.send(event, event, event, together=True)
    assert len(conv.staff_msgs(outs, StaffKind.CASE_OPENED)) == 1 and len(outs) == 3


async def test_an_event_whose_handling_raised_is_handled_again_later(conversation):
    conv = await conversation(user=ANNA)
    store = conv.store
    await conv.say("Мой холодильник поёт по ночам")  # buttons offered: "1" will press the first
    await store.redis.hset(store.keys.user(ANNA), "buttons", "{broken")  # the desk cannot read this
    event = conv.inbound("1")
    before = await snapshot(conv)
    with pytest.raises(ValueError):
        await conv.core.intake(event)
    # nothing happened: not marked handled, nothing queued or recorded, the customer's lane let go
    assert not await store.handled(dedup_key(event))
    assert await snapshot(conv) == before
    await store.redis.hdel(store.keys.user(ANNA), "buttons")  # the cause goes away
    outs = await conv.send(event)  # the same update, delivered again: handled in full now
    assert outs and await store.handled(dedup_key(event))


async def test_an_event_whose_process_died_before_the_commit_is_handled_after_the_lane_expires(conversation):
    conv = await conversation(user=ANNA)
    store, desk, outbox = conv.store, conv.core.desk, conv.core.outbox
    event = conv.inbound("/operator")
    # a process took the event, the desk did its work (a case number included), then it died before the commit
    dead = await store.begin(ANNA, dedup_key(event), ttl=0.2)
    outbox.add(dead, await desk.handle(event, dead))
    assert await outbox.pending() == 0 and not await store.handled(dedup_key(event))
    # the platform delivers the update again: it waits for the dead process's lane to expire, then is handled
    outs = await asyncio.wait_for(conv.send(event), 10)
    (card,) = conv.staff_msgs(outs, StaffKind.CASE_OPENED)
    assert card.case_id == 2  # the dead process's number is a gap, never a repeat
    assert [e["case"] for e in await conv.events("handoff")] == ["2"]
    assert not await dead.commit()  # had it only stalled, its late commit writes nothing
    assert [e["case"] for e in await conv.events("handoff")] == ["2"]
    assert await outbox.pending() == 0 and await store.open_case_ids() == [2]


async def test_other_customers_are_not_held_up_by_a_busy_lane(conversation):
    conv = await conversation(user=ANNA)
    stalled = await conv.store.begin(ANNA, "elsewhere", ttl=30)  # Anna's lane is busy for a long time
    try:
        outs = await asyncio.wait_for(conv.say("/start", user="boris"), 5)
        assert [o.to.user_id for o in outs] == ["boris"]
    finally:
        await stalled.abort()
    assert await asyncio.wait_for(conv.say("/start"), 5)  # and Anna's events go on once it is let go
