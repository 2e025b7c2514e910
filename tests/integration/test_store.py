"""The Redis store against a real server: atomic case numbers, one open case per customer, dedup, bans."""

import asyncio

import redis.asyncio as aioredis

from core.cases import Case, CaseStatus
from core.messages import UserRef
from core.store import Store

ANNA = UserRef("telegram", "42")


def draft(user=ANNA, **kw) -> Case:
    return Case(id=0, customer=user, status=CaseStatus.ACCEPTED, created_at=1000.0, **kw)


async def test_case_numbers_are_sequential_and_never_reused(store):
    first, created = await store.open_case(draft())
    assert created and first.id == 1
    again, created = await store.open_case(draft())
    assert not created and again.id == 1  # one open case per customer per channel
    await store.save_case(_resolved(first))
    second, created = await store.open_case(draft())
    assert created and second.id == 2
    other, _ = await store.open_case(draft(UserRef("vk", "42")))
    assert other.id == 3  # same native id on another channel: another customer
    assert [c.id for c in await store.cases_of(ANNA)] == [1, 2]
    assert await store.open_case_ids() == [2, 3]


def _resolved(case: Case) -> Case:
    from core.cases import move

    return move(case, CaseStatus.RESOLVED, 2000.0)


async def test_concurrent_opens_from_two_processes_make_one_case(redis_url, redis, prefix):
    # two separate connections stand for two bot processes racing on the same customer
    other = aioredis.from_url(redis_url, decode_responses=True)
    try:
        a, b = Store(redis, prefix), Store(other, prefix)
        results = await asyncio.gather(*[s.open_case(draft()) for s in (a, b, a, b, a, b)])
    finally:
        await other.aclose()
    ids = {case.id for case, _ in results}
    assert ids == {1}
    assert sum(created for _, created in results) == 1


async def test_transcript_and_meta(store):
    case, _ = await store.open_case(draft(), transcript=['{"who": "customer", "text": "hi", "ts": 1, "files": []}'])
    await store.log(case.id, "operator", "hello")
    lines = await store.transcript(case.id)
    assert [(e["who"], e["text"]) for e in lines] == [("customer", "hi"), ("operator", "hello")]
    await store.set_case_meta(case.id, topic="99")
    await store.link("topic", 99, case.id)
    assert await store.case_meta(case.id) == {"topic": "99"}
    assert await store.lookup("topic", "99") == case.id
    assert await store.lookup("topic", "100") is None
    assert await store.redis.ttl(store.k("ref", "topic", 99)) == -1  # topics are kept
    await store.link("msg", 5, case.id, ttl=3600)
    assert 3500 < await store.redis.ttl(store.k("ref", "msg", 5)) <= 3600


async def test_dedup(store):
    assert await store.first_time("vk", "m1")
    assert not await store.first_time("vk", "m1")
    assert await store.first_time("telegram", "m1")
    await store.forget("vk", "m1")
    assert await store.first_time("vk", "m1")


async def test_ban_persists_and_counts(store, redis_url, prefix):
    assert await store.ban(ANNA)
    assert not await store.ban(ANNA)
    assert await store.count_dropped(ANNA) == 1
    fresh = aioredis.from_url(redis_url, decode_responses=True)
    try:
        reopened = Store(fresh, prefix)
        assert await reopened.is_banned(ANNA)
        assert await reopened.dropped(ANNA) == 1
        assert await reopened.unban(ANNA)
        assert not await reopened.is_banned(ANNA)
    finally:
        await fresh.aclose()


async def test_events_are_recorded_in_order(store):
    await store.record("handoff", case=1, reason="requested", skipped=None)
    await store.record("rated", case=1, stars=5)
    events = await store.events()
    assert [e["type"] for e in events] == ["handoff", "rated"]
    assert events[0]["reason"] == "requested" and "skipped" not in events[0]
    assert float(events[0]["ts"]) == 1_767_225_600.0


async def test_lock_serialises(store):
    order = []

    async def worker(name):
        async with store.lock(ANNA):
            order.append(f"{name}-in")
            await asyncio.sleep(0.05)
            order.append(f"{name}-out")

    await asyncio.gather(worker("a"), worker("b"))
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
