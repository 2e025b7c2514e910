"""The Redis store against a real server: units of work (dedup, lanes, atomic commits), case numbers, reads,
the lease primitive and adapters' memory."""

import asyncio

import pytest
import redis.asyncio as aioredis

from core.cases import Case, CaseStatus, move
from core.messages import UserRef
from core.store import DEDUP_TTL, Keys, LeaseTimeout, Store

ANNA = UserRef("telegram", "42")
BORIS = UserRef("vk", "7")


def draft(user=ANNA, case_id=0, **kw) -> Case:
    return Case(id=case_id, customer=user, status=CaseStatus.ACCEPTED, created_at=1000.0, **kw)


async def open_case(store: Store, user: UserRef, key: str, transcript=()) -> Case:
    """What a handoff does: in the customer's lane, the open case or a new one."""
    unit = await store.begin(user, key)
    case = await unit.open_case_of(user)
    if case is None:
        case = draft(user, await unit.next_case_id())
        unit.create_case(case, list(transcript))
    assert await unit.commit()
    return case


async def test_case_numbers_are_sequential_and_never_reused(store):
    first = await open_case(store, ANNA, "e1")
    assert first.id == 1
    again = await open_case(store, ANNA, "e2")
    assert again.id == 1  # one open case per customer per channel
    unit = await store.begin(ANNA, "e3")
    unit.save_case(move(first, CaseStatus.RESOLVED, 2000.0))
    assert await unit.commit()
    assert await store.open_case_of(ANNA) is None
    second = await open_case(store, ANNA, "e4")
    assert second.id == 2
    other = await open_case(store, UserRef("vk", "42"), "e5")
    assert other.id == 3  # same native id on another channel: another customer
    assert [c.id for c in await store.cases_of(ANNA)] == [1, 2]
    assert await store.open_case_ids() == [2, 3]
    # a unit that took a number and never committed leaves a gap, never a repeat
    unit = await store.begin(BORIS, "e6")
    assert await unit.next_case_id() == 4
    await unit.abort()
    assert (await open_case(store, BORIS, "e7")).id == 5
    assert await store.last_case_id() == 5


async def test_concurrent_opens_from_two_processes_make_one_case(redis_url, redis, prefix):
    # two separate connections stand for two bot processes racing on the same customer: the lane serialises
    other = aioredis.from_url(redis_url, decode_responses=True)
    try:
        a, b = Store(redis, prefix), Store(other, prefix)
        results = await asyncio.gather(*[open_case(s, ANNA, f"e{i}") for i, s in enumerate((a, b, a, b, a, b))])
    finally:
        await other.aclose()
    assert {case.id for case in results} == {1}
    assert await Store(redis, prefix).last_case_id() == 1


async def test_writes_are_invisible_until_the_commit_and_the_unit_reads_its_own(store):
    unit = await store.begin(ANNA, "e1")
    unit.update_user(ANNA, lang="en", name="Anna")
    case = draft(ANNA, await unit.next_case_id())
    unit.create_case(case, [])
    unit.record("handoff", case=case.id)
    assert (await unit.get_user(ANNA))["lang"] == "en"
    assert (await unit.open_case_of(ANNA)).id == case.id
    assert await store.get_user(ANNA) == {} and await store.open_case_of(ANNA) is None
    assert await store.events() == []
    assert await unit.commit()
    assert (await store.get_user(ANNA))["name"] == "Anna"
    assert (await store.open_case_of(ANNA)).id == case.id
    assert [e["type"] for e in await store.events()] == ["handoff"]
    # the next unit of the lane loads the committed state in its first round trip
    unit = await store.begin(ANNA, "e2")
    unit.update_user(ANNA, name=None)
    unit.save_case(move(case, CaseStatus.RESOLVED, 2000.0))
    assert "name" not in await unit.get_user(ANNA) and await unit.open_case_of(ANNA) is None
    assert await unit.commit()
    assert "name" not in await store.get_user(ANNA) and await store.open_case_ids() == []


async def test_transcript_and_meta(store):
    first_line = '{"who": "customer", "text": "hi", "ts": 1, "files": []}'
    case = await open_case(store, ANNA, "e1", transcript=[first_line])
    unit = await store.begin(ANNA, "e2")
    unit.log(case.id, "operator", "hello")
    unit.link("msg", 5, case.id, ttl=3600)
    assert await unit.commit()
    lines = await store.transcript(case.id)
    assert [(e["who"], e["text"]) for e in lines] == [("customer", "hi"), ("operator", "hello")]
    assert lines[1]["ts"] == store.clock()
    await store.set_case_meta(case.id, topic="99", card="5")
    await store.drop_case_meta(case.id, "card")
    await store.link("topic", 99, case.id)
    assert await store.case_meta(case.id) == {"topic": "99"}
    assert await store.lookup("topic", "99") == case.id
    assert await store.lookup("topic", "100") is None
    assert await store.redis.ttl(store.keys.ref("topic", 99)) == -1  # topics are kept
    assert 3500 < await store.redis.ttl(store.keys.ref("msg", 5)) <= 3600
    assert await store.lookup("msg", 5) == case.id
    # a place and the link back to the case are written in one step (a process killed in between would leave a
    # topic whose operator messages reach no case)
    await store.set_case_meta(case.id, link=("topic", 101), topic="101")
    assert await store.lookup("topic", 101) == case.id and (await store.case_meta(case.id))["topic"] == "101"


async def test_dedup(store):
    unit = await store.begin(ANNA, "cm:vk:m1")
    assert await unit.commit()
    assert await store.begin(ANNA, "cm:vk:m1") is None  # handled: a re-delivery is skipped
    assert await store.handled("cm:vk:m1")
    assert DEDUP_TTL - 10 < await store.redis.ttl(store.keys.dedup("cm:vk:m1")) <= DEDUP_TTL
    other = await store.begin(ANNA, "cm:telegram:m1")  # the same native id on another channel
    assert other is not None
    await other.abort()  # not handled: it may come again
    assert not await store.handled("cm:telegram:m1")
    again = await store.begin(ANNA, "cm:telegram:m1")
    assert again is not None
    await again.commit()
    # an event with no lane (an operator's line about no case) is deduplicated all the same
    unit = await store.begin(None, "op:1")
    assert await unit.commit()
    assert await store.begin(None, "op:1") is None


async def test_a_lane_takes_one_event_at_a_time_and_the_next_one_waits(store):
    first = await store.begin(ANNA, "e1")
    first.update_user(ANNA, step="first")
    with pytest.raises(LeaseTimeout):
        await store.begin(ANNA, "e2", wait=0)  # busy: one try only
    other = await store.begin(BORIS, "e3", wait=0)  # another customer is not held up
    assert await other.commit()
    waiting = asyncio.create_task(store.begin(ANNA, "e2", wait=10))
    assert await first.commit()
    second = await waiting
    assert (await second.get_user(ANNA))["step"] == "first"  # it began after the first one's commit
    assert await second.commit()


async def test_a_commit_after_the_lane_was_taken_over_writes_nothing(store):
    stalled = await store.begin(ANNA, "e1", ttl=0.2)
    stalled.update_user(ANNA, who="stalled")
    stalled.record("handoff", case=1)
    # the lane's lease expires: whoever handles the event again gets the lane (the event is not handled yet)
    fresh = await store.begin(ANNA, "e1", wait=10)
    assert fresh is not None
    assert not await stalled.commit()
    assert await store.get_user(ANNA) == {} and await store.events() == []
    assert not await store.handled("e1")
    fresh.update_user(ANNA, who="fresh")
    assert await fresh.commit()
    assert (await store.get_user(ANNA))["who"] == "fresh" and await store.handled("e1")


async def test_abort_releases_the_lane_and_only_its_own(store):
    unit = await store.begin(ANNA, "e1")
    unit.update_user(ANNA, lost="yes")
    await unit.abort()
    assert await store.get_user(ANNA) == {}
    again = await store.begin(ANNA, "e1", wait=0)  # the lane is free at once, the event not handled
    assert again is not None
    assert await again.commit()
    holder = await store.begin(ANNA, "e2")
    await again.abort()  # a unit that is done lets nothing go: the lane is someone else's now
    await unit.abort()
    with pytest.raises(LeaseTimeout):
        await store.begin(ANNA, "e3", wait=0)
    await holder.abort()


async def test_ban_persists_and_counts(store, redis_url, prefix):
    unit = await store.begin(ANNA, "e1")
    assert not await unit.is_banned(ANNA)
    unit.ban(ANNA)
    unit.count_dropped(ANNA)
    assert await unit.is_banned(ANNA)
    assert await unit.commit()
    fresh = aioredis.from_url(redis_url, decode_responses=True)
    try:
        reopened = Store(fresh, prefix)
        assert await reopened.is_banned(ANNA)
        unit = await reopened.begin(ANNA, "e2")
        assert await unit.is_banned(ANNA)  # loaded with the lane
        assert await unit.dropped(ANNA) == 1
        unit.unban(ANNA)
        assert await unit.commit()
        assert not await reopened.is_banned(ANNA)
    finally:
        await fresh.aclose()


async def test_events_are_recorded_in_order(store, clock):
    unit = await store.begin(None, "e1")
    unit.record("handoff", case=1, reason="requested", skipped=None)
    clock.advance(5)
    unit.record("rated", case=1, stars=5)  # a unit has one time: when it began
    assert await unit.commit()
    events = await store.events()
    assert [e["type"] for e in events] == ["handoff", "rated"]
    assert events[0]["reason"] == "requested" and "skipped" not in events[0]
    assert float(events[0]["ts"]) == float(events[1]["ts"]) == 1_767_225_600.0


async def test_the_lease_has_one_holder_and_passes_on_when_it_expires(store):
    first = store.lease("poller", 5)
    await first.take(0)
    assert await store.redis.get(store.keys.lease("poller")) == first.token
    second = store.lease("poller", 5)
    assert not await second.try_take()
    waiting = asyncio.create_task(second.take(10))
    await first.release()
    await waiting
    assert await second.renew()
    assert not await first.renew()  # an old holder can neither extend nor release someone else's lease
    await first.release()
    assert await store.redis.get(store.keys.lease("poller")) == second.token
    await second.release()
    # a holder that dies lets its lease expire, and another process takes over
    dead = store.lease("topic:1", 0.2)
    await dead.take(0)
    with pytest.raises(LeaseTimeout):
        await store.lease("topic:1", 5).take(0)
    async with store.lease("topic:1", 5) as taken:  # waits at most 2 ttl: the dead holder's lease expires first
        assert await store.redis.get(store.keys.lease("topic:1")) == taken.token
    assert await store.redis.get(store.keys.lease("topic:1")) is None  # released on the way out


async def test_channel_memory(store):
    vk, tg = store.memory("vk"), store.memory("telegram")
    assert await vk.get("name", 5) is None
    assert await vk.set("name", 5, "Anna")
    assert not await vk.set("name", 5, "Other", nx=True)  # only if absent
    assert await vk.get("name", 5) == "Anna" and await tg.get("name", 5) is None
    assert await store.redis.get(store.keys.mem("vk", "name", 5)) == "Anna"
    assert await vk.set("seen", "u1", "1", ttl=60)
    assert 59_000 < await store.redis.pttl(store.keys.mem("vk", "seen", "u1")) <= 60_000
    await vk.delete("name", 5)
    assert await vk.get("name", 5) is None
    assert await vk.set_max("offset", "poll", 10, ttl=60) is None
    assert await vk.set_max("offset", "poll", 7, ttl=60) == 10  # the larger number stays
    assert await vk.set_max("offset", "poll", 12, ttl=60) == 10
    assert await vk.get("offset", "poll") == "12"
    await vk.set_hash("msg", "w1", {"case": "3", "kind": "text"}, ttl=60)
    assert await vk.get_hash("msg", "w1") == {"case": "3", "kind": "text"}
    assert await store.redis.ttl(store.keys.mem_hash("vk", "msg", "w1")) > 0
    await vk.push("parked", "update 1")
    await vk.push("parked", "update 2")
    assert await vk.items("parked") == ["update 1", "update 2"] and await tg.items("parked") == []


async def test_every_key_starts_with_the_prefix(store, prefix):
    keys = Keys(prefix)
    built = [keys.case_seq, keys.case(1), keys.case_log(1), keys.case_meta(1), keys.cases_open, keys.open(ANNA),
             keys.user(ANNA), keys.user_cases(ANNA), keys.user_recent(ANNA), keys.banned, keys.banned_dropped,
             keys.dedup("cm:vk:1"), keys.lane(ANNA.key), keys.lease("x"), keys.ref("topic", 1), keys.events,
             keys.mem("vk", "n", 1), keys.mem_hash("vk", "n", 1), keys.mem_list("vk", "n"), keys.outbox_msg("1"),
             keys.outbox_queue("c:vk:1"), keys.outbox_ready, keys.outbox_lease("c:vk:1"), keys.outbox_rate("g"),
             keys.outbox_wake]  # fmt: skip
    assert all(k.startswith(prefix) for k in built) and len(set(built)) == len(built)
    await open_case(store, ANNA, "e1")  # a handoff's unit: the lane is gone after the commit
    stored = {k async for k in store.redis.scan_iter(match=prefix + "*", count=1000)}
    assert stored == {keys.case_seq, keys.case(1), keys.open(ANNA), keys.user_cases(ANNA), keys.cases_open,
                      keys.dedup("e1")}  # fmt: skip
