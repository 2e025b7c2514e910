"""Everything Redis: connections, the atomic unit of work, reads, leases and adapters' memory.

The key layout is in ``core.store.keys`` (one docstring lists every key). Writes of the conversation go
through a ``Unit`` (``core.store.unit``): one event's changes, its dedup mark and what it queues in the
outbox become visible together, or not at all.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from core.cases import Case
from core.messages import UserRef
from core.stats.tally import DEFAULT_RETENTION_DAYS, Tally
from core.store.keys import Keys
from core.store.lease import RELEASE_LUA, Lease, LeaseTimeout
from core.store.unit import BEGIN_LUA, COMMIT_LUA, DEDUP_TTL, RECENT_MAX, Unit, log_entry

__all__ = [
    "DEDUP_TTL",
    "EMBEDDED_NOTICE",
    "RECENT_MAX",
    "ChannelMemory",
    "Keys",
    "Lease",
    "LeaseTimeout",
    "Store",
    "Unit",
    "connect_redis",
    "log_entry",
]

REDIS_MAX_CONNECTIONS = 64
LANE_TTL = 30.0  # a lane held longer than this by a stalled or dead process is taken over
LANE_WAIT = 60.0  # how long an event waits for its customer's lane before it fails (and is retried)

EMBEDDED_NOTICE = (
    "REDIS_URL is not set: using an embedded in-memory store. Nothing will persist after this process exits."
)


async def connect_redis(
    url: str | None, sentinels: str | None = None, master: str | None = None
) -> tuple[aioredis.Redis, bool]:
    """A redis-py asyncio client for ``url``; with no url, an embedded in-process server (fakeredis).

    With ``sentinels`` ("host:port,host:port") and ``master``, the client asks the Sentinels where the master
    is, and asks again when a connection to it fails: a failover needs no restart. ``url`` then only gives
    the database number and the password, if any. Returns the client and whether it is embedded.
    """
    if sentinels and master:
        from redis.asyncio.sentinel import Sentinel
        from redis.connection import parse_url

        opts = parse_url(url) if url else {}
        hosts = []
        for item in sentinels.split(","):
            host, _, port = item.strip().rpartition(":")
            hosts.append((host or item.strip(), int(port or 26379)))
        sentinel = Sentinel(hosts, socket_timeout=5, decode_responses=True)
        client = sentinel.master_for(
            master,
            db=int(opts.get("db") or 0),
            password=opts.get("password"),
            decode_responses=True,
            socket_timeout=5,
            max_connections=REDIS_MAX_CONNECTIONS,
        )
        return client, False
    if url:
        # A blocking pool: under a burst, callers wait for a free connection instead of failing with
        # "Too many connections" (the default pool raises once its connections are in use).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_MAX_CONNECTIONS, timeout=30, decode_responses=True
        )
        return aioredis.Redis(connection_pool=pool), False
    import fakeredis  # the embedded default: same redis-py client API, Lua scripts included

    return fakeredis.FakeAsyncRedis(
        decode_responses=True,
        connection_pool_class=aioredis.BlockingConnectionPool,
        max_connections=REDIS_MAX_CONNECTIONS,
    ), True


class Store:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "sb:",
        clock: Callable[[], float] = time.time,
        *,
        timezone: str = "UTC",
        retention_days: float = DEFAULT_RETENTION_DAYS,
    ):
        self.redis = redis
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.clock = clock
        self.tally = Tally(self.keys, timezone, retention_days)  # managers' figures, kept as steps are recorded
        self._begin = redis.register_script(BEGIN_LUA)
        self.commit_script = redis.register_script(COMMIT_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._next_case = redis.register_script(_NEXT_CASE_LUA)
        self.highest_case = 0  # the highest case number this process has handed out or seen
        self.clock_floor = False  # see use_clock_floor

    def use_clock_floor(self) -> None:
        """Redis keeps nothing on disk (``supportbot run`` checks at start): a lost counter restarts from a
        clock-based floor instead of from 1, so case numbers never repeat."""
        self.clock_floor = True

    async def next_case_id(self) -> int:
        """A fresh case number, never one handed out before, even after Redis lost its data (see above)."""
        floor = case_number_floor(self.clock()) if self.clock_floor else 0
        number = int(await self._next_case(keys=[self.keys.case_seq], args=[self.highest_case, floor]))
        self.highest_case = max(self.highest_case, number)
        return number

    async def persistence(self) -> dict[str, bool | None]:
        """Whether Redis keeps its data on disk: ``aof``, ``rdb`` (None when the server will not say)."""
        try:
            aof = (await self.redis.config_get("appendonly")).get("appendonly") == "yes"
            rdb = bool((await self.redis.config_get("save")).get("save", "").strip())
            return {"aof": aof, "rdb": rdb}
        except Exception:  # CONFIG may be disabled (managed Redis): ask INFO instead
            try:
                info = await self.redis.info("persistence")
            except Exception:
                return {"aof": None, "rdb": None}
            return {"aof": bool(info.get("aof_enabled")), "rdb": None}

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self.redis.aclose()

    # --- units of work ---------------------------------------------------------------------------------------
    async def begin(
        self, lane: UserRef | None, dedup: str | None, *, wait: float = LANE_WAIT, ttl: float = LANE_TTL
    ) -> Unit | None:
        """Start handling an event: take ``lane`` (waiting for it), load the customer's state.

        None when the event (``dedup``) was handled already."""
        k = self.keys
        token = uuid.uuid4().hex
        user_key = lane.key if lane is not None else ""
        keys = [
            k.lane(user_key) if lane else k.lane("-"),
            k.dedup(dedup) if dedup else k.dedup("-"),
            k.user(lane) if lane else k.user(UserRef("-", "-")),
            k.open(lane) if lane else k.open(UserRef("-", "-")),
            k.banned,
            k.user_cases(lane) if lane else k.user_cases(UserRef("-", "-")),
        ]
        args = [token, int(ttl * 1000), "1" if lane else "0", "1" if dedup else "0", user_key]
        deadline = time.monotonic() + wait
        delay = 0.002
        while True:
            loaded = await self._begin(keys=keys, args=args)
            status = int(loaded[0])
            if status == 0:
                return None
            if status == 1:
                return Unit(self, user_key or None, token, dedup, lane, loaded if lane else None)
            if time.monotonic() >= deadline:
                raise LeaseTimeout(f"the lane of {user_key} stayed busy for {wait:.0f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def release_lane(self, lane: str, token: str) -> None:
        await self._release(keys=[self.keys.lane(lane)], args=[token])

    def lease(self, name: str, ttl: float) -> Lease:
        return Lease(self.redis, self.keys.lease(name), ttl)

    def memory(self, channel: str) -> ChannelMemory:
        return ChannelMemory(self, channel)

    async def handled(self, event_key: str) -> bool:
        return bool(await self.redis.exists(self.keys.dedup(event_key)))

    # --- reads -----------------------------------------------------------------------------------------------
    async def get_user(self, user: UserRef) -> dict[str, str]:
        return await self.redis.hgetall(self.keys.user(user))

    async def get_case(self, case_id: int) -> Case | None:
        h = await self.redis.hgetall(self.keys.case(case_id))
        if not h:
            return None
        self.highest_case = max(self.highest_case, case_id)
        return Case.from_hash(h)

    async def open_case_of(self, user: UserRef) -> Case | None:
        case_id = await self.redis.get(self.keys.open(user))
        return await self.get_case(int(case_id)) if case_id else None

    async def cases_of(self, user: UserRef, last: int = 10) -> list[Case]:
        ids = await self.redis.lrange(self.keys.user_cases(user), -last, -1)
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as p:
            for i in ids:
                p.hgetall(self.keys.case(int(i)))
            rows = await p.execute()
        return [Case.from_hash(h) for h in rows if h]

    async def open_case_ids(self) -> list[int]:
        return sorted(int(i) for i in await self.redis.smembers(self.keys.cases_open))

    async def last_case_id(self) -> int:
        return int(await self.redis.get(self.keys.case_seq) or 0)

    async def transcript(self, case_id: int, last: int = 0) -> list[dict[str, Any]]:
        raw = await self.redis.lrange(self.keys.case_log(case_id), -last if last else 0, -1)
        return [json.loads(r) for r in raw]

    async def case_meta(self, case_id: int) -> dict[str, str]:
        return await self.redis.hgetall(self.keys.case_meta(case_id))

    async def set_case_meta(self, case_id: int, *, link: tuple[str, str | int] | None = None, **fields: str) -> None:
        """Set adapter facts of a case; with ``link`` (kind, native id), that native object is linked to the case
        in the same step (a topic known from the case but not linked back would take no operator message)."""
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(self.keys.case_meta(case_id), mapping=fields)
            if link is not None:
                p.set(self.keys.ref(*link), case_id)
            await p.execute()

    async def drop_case_meta(self, case_id: int, *fields: str) -> None:
        await self.redis.hdel(self.keys.case_meta(case_id), *fields)

    async def link(self, kind: str, native_id: str | int, case_id: int, ttl: float | None = None) -> None:
        """Remember that a native object (a staff topic, a relayed message) belongs to a case."""
        await self.redis.set(self.keys.ref(kind, native_id), case_id, ex=int(ttl) if ttl else None)

    async def lookup(self, kind: str, native_id: str | int) -> int | None:
        v = await self.redis.get(self.keys.ref(kind, native_id))
        return int(v) if v else None

    async def is_banned(self, user: UserRef) -> bool:
        return bool(await self.redis.sismember(self.keys.banned, user.key))

    async def events(self, count: int | None = None) -> list[dict[str, str]]:
        rows = await self.redis.xrange(self.keys.events, count=count)
        return [fields for _, fields in rows]


# KEYS: the case-number counter. ARGV: the highest number this process has seen, a clock-based floor (or 0).
# The counter never goes below a number this process handed out or saw (Redis restarted without its data
# while the bot ran); a counter that is gone starts again from the clock-based floor when one is given.
_NEXT_CASE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[2]) end
if tonumber(redis.call('GET', KEYS[1])) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCR', KEYS[1])
"""
CASE_EPOCH = 1_767_225_600  # 2026-01-01 UTC: the clock-based floor counts tenths of a second from here


def case_number_floor(now: float) -> int:
    """Tenths of a second since 2026-01-01: where numbering restarts when Redis has lost the counter. Numbers
    handed out before stay below it unless more than ten cases a second were opened on average since the
    counter was last seeded (a bot and its Redis restarted within the same minute included)."""
    return max(0, int((now - CASE_EPOCH) * 10))


_SET_MAX_LUA = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return cur or ''
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return cur
"""


class ChannelMemory:
    """An adapter's small facts in Redis, under keys the store builds (``mem:{channel}:...``)."""

    def __init__(self, store: Store, channel: str):
        self.store = store
        self.redis = store.redis
        self.channel = channel
        self._set_max = store.redis.register_script(_SET_MAX_LUA)

    async def get(self, name: str, key: str | int) -> str | None:
        return await self.redis.get(self.store.keys.mem(self.channel, name, key))

    async def set(self, name: str, key: str | int, value: str, ttl: float | None = None, nx: bool = False) -> bool:
        px = int(ttl * 1000) if ttl else None
        return bool(await self.redis.set(self.store.keys.mem(self.channel, name, key), value, px=px, nx=nx))

    async def delete(self, name: str, key: str | int) -> None:
        await self.redis.delete(self.store.keys.mem(self.channel, name, key))

    async def set_max(self, name: str, key: str | int, value: float, ttl: float) -> float | None:
        key_ = self.store.keys.mem(self.channel, name, key)
        before = await self._set_max(keys=[key_], args=[repr(value), int(ttl * 1000)])
        return float(before) if before else None

    async def get_hash(self, name: str, key: str | int) -> dict[str, str]:
        return await self.redis.hgetall(self.store.keys.mem_hash(self.channel, name, key))

    async def set_hash(self, name: str, key: str | int, fields: dict[str, str], ttl: float | None = None) -> None:
        key_ = self.store.keys.mem_hash(self.channel, name, key)
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(key_, mapping=fields)
            if ttl:
                p.pexpire(key_, int(ttl * 1000))
            await p.execute()

    async def push(self, name: str, value: str) -> None:
        await self.redis.rpush(self.store.keys.mem_list(self.channel, name), value)

    async def items(self, name: str) -> list[str]:
        return await self.redis.lrange(self.store.keys.mem_list(self.channel, name), 0, -1)
