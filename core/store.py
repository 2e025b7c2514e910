"""Everything Redis: key layout, atomic steps, dedup, locks, the event log.

Key layout (every key starts with the configurable prefix, default ``sb:``):

=================================  ======  ===========================================================
key                                type    what
=================================  ======  ===========================================================
case:seq                           string  the case-number counter (INCR; numbers are never reused)
case:{id}                          hash    a case (see ``core.cases.Case.to_hash``)
case:{id}:log                      list    transcript, one JSON object per message (who, text, ts, files)
case:{id}:meta                     hash    adapter data about a case (staff topic id, card message id...)
cases:open                         set     ids of open cases
open:{channel}:{user_id}           string  id of the customer's open case on that channel (one at most)
user:{channel}:{user_id}           hash    customer state: language, name, offered buttons, pending rating
user:{channel}:{user_id}:cases     list    the customer's case ids, oldest first
user:{channel}:{user_id}:recent    list    the conversation before a handoff (capped), moved to the case
dedup:{channel}:{message_id}       string  a processed inbound message (expires after 7 days)
lock:{channel}:{user_id}           string  per-customer lock (redis-py Lock)
ref:{kind}:{native_id}             string  native id -> case id (a staff topic; relayed messages expire)
banned                             set     banned customers (``channel:user_id``)
banned:dropped                     hash    customer -> number of messages dropped while banned
events                             stream  one entry per step (see ``record``): managers' statistics
outbox:*                           ...     the delivery queue (bots/delivery.py documents its keys)
=================================  ======  ===========================================================

Opening a case is one Lua script, so two first messages at once can never create two cases, even from
two processes; the per-customer lock additionally serialises everything the desk does for one customer.
(The script builds the ``case:{id}`` key itself: fine on one Redis server, not on Redis Cluster.)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis

from core.cases import Case
from core.messages import Attachment, UserRef

log = logging.getLogger(__name__)

DEDUP_TTL = 7 * 24 * 3600
RECENT_MAX = 30
EVENTS_MAXLEN = 1_000_000
REDIS_MAX_CONNECTIONS = 64

EMBEDDED_NOTICE = (
    "REDIS_URL is not set: using an embedded in-memory store. Nothing will persist after this process exits."
)

_OPEN_CASE_LUA = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, tonumber(existing)} end
local id = redis.call('INCR', KEYS[2])
local case_key = ARGV[1] .. 'case:' .. id
local unpack_ = table.unpack or unpack
redis.call('HSET', case_key, 'id', tostring(id), unpack_(ARGV, 2))
redis.call('SET', KEYS[1], id)
redis.call('RPUSH', KEYS[3], id)
redis.call('SADD', KEYS[4], id)
return {1, id}
"""

_CLOSE_OPEN_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""


async def connect_redis(url: str | None) -> tuple[aioredis.Redis, bool]:
    """A redis-py asyncio client for ``url``; with no url, an embedded in-process server (fakeredis).

    Returns the client and whether it is embedded.
    """
    if url:
        # A blocking pool: under a burst, callers wait for a free connection instead of failing with
        # "Too many connections" (the default pool raises once its 100 connections are in use).
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
    def __init__(self, redis: aioredis.Redis, prefix: str = "sb:", clock: Callable[[], float] = time.time):
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._open_case = redis.register_script(_OPEN_CASE_LUA)
        self._close_open = redis.register_script(_CLOSE_OPEN_LUA)

    def k(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self.redis.aclose()

    # --- dedup and locks -------------------------------------------------------------------------------------
    async def first_time(self, channel: str, message_id: str, ttl: int = DEDUP_TTL) -> bool:
        """True the first time (channel, message_id) is seen; False for a re-delivery."""
        return bool(await self.redis.set(self.k("dedup", channel, message_id), "1", nx=True, ex=ttl))

    async def forget(self, channel: str, message_id: str) -> None:
        """Undo ``first_time`` when handling failed, so a re-delivery is processed."""
        await self.redis.delete(self.k("dedup", channel, message_id))

    def lock(self, user: UserRef, timeout: float = 30.0):
        """Per-customer lock (an async context manager). Expires after ``timeout`` if its holder dies."""
        return self.redis.lock(self.k("lock", user.key), timeout=timeout, blocking_timeout=timeout * 2)

    # --- customer state --------------------------------------------------------------------------------------
    async def get_user(self, user: UserRef) -> dict[str, str]:
        return await self.redis.hgetall(self.k("user", user.key))

    async def update_user(self, user: UserRef, **fields: str | None) -> None:
        key = self.k("user", user.key)
        drop = [f for f, v in fields.items() if v is None]
        keep = {f: v for f, v in fields.items() if v is not None}
        async with self.redis.pipeline(transaction=True) as p:
            if keep:
                p.hset(key, mapping=keep)
            if drop:
                p.hdel(key, *drop)
            await p.execute()

    async def push_recent(self, user: UserRef, who: str, text: str, attachments: Iterable[Attachment] = ()):
        key = self.k("user", user.key, "recent")
        entry = _log_entry(who, text, attachments, self.clock())
        async with self.redis.pipeline(transaction=True) as p:
            p.rpush(key, entry)
            p.ltrim(key, -RECENT_MAX, -1)
            await p.execute()

    async def take_recent(self, user: UserRef) -> list[str]:
        key = self.k("user", user.key, "recent")
        async with self.redis.pipeline(transaction=True) as p:
            p.lrange(key, 0, -1)
            p.delete(key)
            entries, _ = await p.execute()
        return entries

    # --- cases -----------------------------------------------------------------------------------------------
    async def open_case(self, case: Case, transcript: list[str] = ()) -> tuple[Case, bool]:
        """Create ``case`` under a fresh number unless the customer already has an open case on that channel.

        Returns (the open case, whether it was created now). ``case.id`` is ignored.
        """
        fields = case.to_hash()
        fields.pop("id")
        argv: list[str] = [self.prefix]
        for name, value in fields.items():
            argv += [name, value]
        created, case_id = await self._open_case(
            keys=[
                self.k("open", case.customer.key),
                self.k("case", "seq"),
                self.k("user", case.customer.key, "cases"),
                self.k("cases", "open"),
            ],
            args=argv,
        )
        if created and transcript:
            await self.redis.rpush(self.k("case", case_id, "log"), *transcript)
        stored = await self.get_case(int(case_id))
        assert stored is not None
        return stored, bool(created)

    async def get_case(self, case_id: int) -> Case | None:
        h = await self.redis.hgetall(self.k("case", case_id))
        return Case.from_hash(h) if h else None

    async def save_case(self, case: Case) -> None:
        """Write a case back; a case that is no longer open stops being the customer's open case."""
        await self.redis.hset(self.k("case", case.id), mapping=case.to_hash())
        if not case.is_open:
            await self._close_open(
                keys=[self.k("open", case.customer.key), self.k("cases", "open")], args=[str(case.id)]
            )

    async def reopen_case(self, case: Case) -> int | None:
        """Make a reopened case the customer's open case again; returns the id of another open case instead."""
        if not await self.redis.set(self.k("open", case.customer.key), case.id, nx=True):
            return int(await self.redis.get(self.k("open", case.customer.key)) or 0) or None
        await self.redis.sadd(self.k("cases", "open"), case.id)
        await self.redis.hset(self.k("case", case.id), mapping=case.to_hash())
        return None

    async def open_case_of(self, user: UserRef) -> Case | None:
        case_id = await self.redis.get(self.k("open", user.key))
        return await self.get_case(int(case_id)) if case_id else None

    async def cases_of(self, user: UserRef, last: int = 10) -> list[Case]:
        ids = await self.redis.lrange(self.k("user", user.key, "cases"), -last, -1)
        cases = [await self.get_case(int(i)) for i in ids]
        return [c for c in cases if c is not None]

    async def open_case_ids(self) -> list[int]:
        return sorted(int(i) for i in await self.redis.smembers(self.k("cases", "open")))

    async def last_case_id(self) -> int:
        return int(await self.redis.get(self.k("case", "seq")) or 0)

    async def log(self, case_id: int, who: str, text: str, attachments: Iterable[Attachment] = ()) -> None:
        await self.redis.rpush(self.k("case", case_id, "log"), _log_entry(who, text, attachments, self.clock()))

    async def transcript(self, case_id: int, last: int = 0) -> list[dict[str, Any]]:
        raw = await self.redis.lrange(self.k("case", case_id, "log"), -last if last else 0, -1)
        return [json.loads(r) for r in raw]

    async def case_meta(self, case_id: int) -> dict[str, str]:
        return await self.redis.hgetall(self.k("case", case_id, "meta"))

    async def set_case_meta(self, case_id: int, **fields: str) -> None:
        await self.redis.hset(self.k("case", case_id, "meta"), mapping=fields)

    async def link(self, kind: str, native_id: str | int, case_id: int, ttl: int | None = None) -> None:
        """Remember that a native object (a staff topic, a relayed message) belongs to a case.

        ``ttl`` (seconds) for links made per message, so they do not pile up forever."""
        await self.redis.set(self.k("ref", kind, native_id), case_id, ex=ttl)

    async def lookup(self, kind: str, native_id: str | int) -> int | None:
        v = await self.redis.get(self.k("ref", kind, native_id))
        return int(v) if v else None

    # --- bans ------------------------------------------------------------------------------------------------
    async def ban(self, user: UserRef) -> bool:
        return bool(await self.redis.sadd(self.k("banned"), user.key))

    async def unban(self, user: UserRef) -> bool:
        return bool(await self.redis.srem(self.k("banned"), user.key))

    async def is_banned(self, user: UserRef) -> bool:
        return bool(await self.redis.sismember(self.k("banned"), user.key))

    async def count_dropped(self, user: UserRef) -> int:
        return int(await self.redis.hincrby(self.k("banned", "dropped"), user.key, 1))

    async def dropped(self, user: UserRef) -> int:
        return int(await self.redis.hget(self.k("banned", "dropped"), user.key) or 0)

    # --- events ----------------------------------------------------------------------------------------------
    async def record(self, type_: str, **fields: Any) -> None:
        """Append one event: ``type`` and ``ts`` plus the given fields (None values are left out)."""
        entry = {"type": type_, "ts": repr(self.clock())}
        entry.update({k: str(v) for k, v in fields.items() if v is not None})
        await self.redis.xadd(self.k("events"), entry, maxlen=EVENTS_MAXLEN, approximate=True)

    async def events(self, count: int | None = None) -> list[dict[str, str]]:
        rows = await self.redis.xrange(self.k("events"), count=count)
        return [fields for _, fields in rows]


def _log_entry(who: str, text: str, attachments: Iterable[Attachment], ts: float) -> str:
    files = [{"kind": a.kind, "name": a.filename} for a in attachments]
    return json.dumps({"who": who, "text": text, "ts": ts, "files": files}, ensure_ascii=False)
