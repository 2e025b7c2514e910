"""The outbox in Redis: entries queued per destination, claimed by any process, done once.

Entries are added inside an intake's unit of work (``add``), so they become visible together with the event's
other effects. A worker ``claim``s due destinations (a lease per destination: one sender at a time, order
kept) and gets each head entry in the same round trip; ``done`` removes it, moves the rate-limit entries of
the send to "now" and lets the destination go, in one Lua step. Idle workers block on ``outbox:wake``
(``wait``) instead of polling. A multi-part send records each part as it goes out (``EntryProgress``): a retry
after a crash or an error sends only the parts that are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.messages import Audience, Outbound
from core.store import Store, Unit

log = logging.getLogger(__name__)

WAKE_MAX = 64

# KEYS: ready, wake-up counter, wake-up list. ARGV: now, how many, lease ms, worker id, outbox key prefix.
# -> {next due time or '', the latest wake-up token's number, then per claimed destination: dest, token,
#     entry id, n, entry hash fields (n)}. A claim with room to spare took everything due: the wake-up tokens
# queued so far are spent (no worker needs to pop them one by one).
CLAIM_LUA = """
local now, want, px, me, p = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local out = {'', redis.call('GET', KEYS[2]) or '0'}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, want * 2)
local got = 0
for _, dest in ipairs(due) do
  if got >= want then break end
  local token = me .. ':' .. dest
  local lease = p .. 'lease:' .. dest
  if not redis.call('SET', lease, token, 'NX', 'PX', px) then
    -- another worker's: due again when its lease runs out (done or later reschedules it sooner)
    local left = redis.call('PTTL', lease)
    if left > 0 then redis.call('ZADD', KEYS[1], now + left / 1000, dest) end
  else
    local head = redis.call('LINDEX', p .. 'q:' .. dest, 0)
    if not head then
      redis.call('ZREM', KEYS[1], dest)
      redis.call('DEL', lease)
    else
      -- not due while it is being sent: no worker keeps claiming it (done or later reschedules it)
      redis.call('ZADD', KEYS[1], now + px / 1000, dest)
      local h = redis.call('HGETALL', p .. 'msg:' .. head)
      out[#out + 1] = dest
      out[#out + 1] = token
      out[#out + 1] = head
      out[#out + 1] = #h
      for i = 1, #h do out[#out + 1] = h[i] end
      got = got + 1
    end
  end
end
if got < want then redis.call('DEL', KEYS[3]) end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if nxt[2] then out[1] = nxt[2] end
return out
"""

# KEYS: queue, ready, entry, lease. ARGV: entry id, dest, next score, token, now, number of links, then per link:
# key, case id, ttl (0: none); then rate key/member pairs. Removes a sent (or given-up) entry, records the links
# of what was sent, moves its rate entries to now, reschedules or retires its destination, lets the lease go.
# -> 1 when the destination has more entries, else 0.
DONE_LUA = """
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('DEL', KEYS[3])
local more = 0
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  more = 1
else
  redis.call('ZREM', KEYS[2], ARGV[2])
end
local i = 7
for _ = 1, tonumber(ARGV[6]) do
  if ARGV[i + 2] ~= '0' then redis.call('SET', ARGV[i], ARGV[i + 1], 'EX', ARGV[i + 2])
  else redis.call('SET', ARGV[i], ARGV[i + 1]) end
  i = i + 3
end
for j = i, #ARGV, 2 do redis.call('ZADD', ARGV[j], 'XX', ARGV[5], ARGV[j + 1]) end
if redis.call('GET', KEYS[4]) == ARGV[4] then redis.call('DEL', KEYS[4]) end
return more
"""

# KEYS: ready, lease. ARGV: dest, when, token. Try the destination again later; let the lease go.
LATER_LUA = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""


async def stubborn(call: Callable[[], Awaitable[Any]], what: str) -> Any:
    """``call()`` again until Redis takes it. For the book-keeping of what already happened on the platform: a
    sent message (or part) that is not recorded would be sent again once its lease expires. Only Redis being
    unreachable is waited out (an error it answers is raised); cancellation (the send's budget, a shutdown)
    still stops it."""
    delay = 0.05
    while True:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            log.warning("outbox: cannot record %s (%r); trying again in %.2fs", what, e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def destination(out: Outbound) -> str:
    if out.audience == Audience.CUSTOMER and out.to is not None:
        return f"c:{out.to.channel}:{out.to.user_id}"
    return f"s:{out.case_id}"


@dataclass
class Entry:
    """A claimed outbox entry (its destination's lease is ours until ``done`` or ``later``)."""

    id: str
    dest: str
    token: str
    out: Outbound
    attempts: int
    created: float
    fields: dict[str, str] = field(default_factory=dict)


class EntryProgress:
    """Which parts of a multi-part send went out, kept in the entry's hash (``parts``)."""

    def __init__(self, outbox: Outbox, entry: Entry):
        self.outbox = outbox
        self.entry = entry
        self.sent: list[str] = json.loads(entry.fields.get("parts") or "[]")

    @property
    def done(self) -> int:
        return len(self.sent)

    async def mark(self, part: int, native_id: str) -> None:
        if part < len(self.sent):
            return
        self.sent.append(native_id)
        key = self.outbox.store.keys.outbox_msg(self.entry.id)
        parts = json.dumps(self.sent)
        await stubborn(lambda: self.outbox.redis.hset(key, "parts", parts), f"part {part} of {self.entry.id} as sent")


class Outbox:
    def __init__(self, store: Store, *, lease_seconds: float = 120.0):
        self.store = store
        self.redis = store.redis
        self.keys = store.keys
        self.clock = store.clock
        self.lease_seconds = lease_seconds
        self.worker = uuid.uuid4().hex[:12]
        self._claim = self.redis.register_script(CLAIM_LUA)
        self._done = self.redis.register_script(DONE_LUA)
        self._later = self.redis.register_script(LATER_LUA)
        self._local = asyncio.Event()
        self._blocked: asyncio.Task | None = None
        self._seen = 0  # the latest wake-up token the last claim saw: older tokens bring nothing new

    # ------------------------------------------------------------------ adding
    def ops(self, outs: list[Outbound], now: float) -> list[list[str]]:
        """The Redis commands that queue ``outs`` (in order per destination) and wake a worker."""
        k = self.keys
        ops: list[list[str]] = []
        for out in outs:
            entry_id = uuid.uuid4().hex
            dest = destination(out)
            ops.append(["HSET", k.outbox_msg(entry_id), "out", out.to_json(), "dest", dest, "attempts", "0",
                        "created", repr(now)])  # fmt: skip
            ops.append(["RPUSH", k.outbox_queue(dest), entry_id])
            ops.append(["ZADD", k.outbox_ready, "NX", repr(now), dest])
        if outs:  # a numbered wake-up token (core.store.unit runs this op)
            ops.append(["!WAKE", k.outbox_wake, k.outbox_wakes, str(WAKE_MAX)])
        return ops

    def add(self, unit: Unit, outs: list[Outbound]) -> None:
        """Queue ``outs`` as part of ``unit`` (visible when it commits)."""
        unit.ops.extend(self.ops(outs, unit.now))

    async def enqueue(self, outs: list[Outbound]) -> None:
        """Queue ``outs`` now (durable in Redis when this returns)."""
        if not outs:
            return
        ops = self.ops(outs, self.clock())
        await self.store.commit_script(keys=[], args=["", json.dumps(ops, ensure_ascii=False)])  # atomic
        self.woken()

    def woken(self) -> None:
        """Something was queued by this process: its own idle worker need not wait for Redis to tell it."""
        self._local.set()

    # ------------------------------------------------------------------ claiming
    async def claim(self, want: int) -> tuple[list[Entry], float | None]:
        """Up to ``want`` due destinations with their head entries; and when the next one is due."""
        from core.messages import Outbound as _Out

        self._local.clear()  # a claim sees everything queued before it starts
        raw = await self._claim(
            keys=[self.keys.outbox_ready, self.keys.outbox_wakes, self.keys.outbox_wake],
            args=[repr(self.clock()), want, int(self.lease_seconds * 1000), self.worker, self.keys.outbox_prefix],
        )
        next_due = float(raw[0]) if raw[0] else None
        self._seen = int(raw[1])
        entries: list[Entry] = []
        i = 2
        while i < len(raw):
            dest, token, entry_id, n = raw[i], raw[i + 1], raw[i + 2], int(raw[i + 3])
            flat = raw[i + 4 : i + 4 + n]
            i += 4 + n
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            if not fields.get("out"):  # lost its body (should not happen): drop it from the queue
                await self.done(Entry(entry_id, dest, token, None, 0, 0.0), [])  # type: ignore[arg-type]
                continue
            entries.append(
                Entry(
                    entry_id,
                    dest,
                    token,
                    _Out.from_json(fields["out"]),
                    int(fields.get("attempts") or 0),
                    float(fields.get("created") or 0),
                    fields,
                )
            )
        return entries, next_due

    async def wait(self, timeout: float, *, tokens: bool = True) -> None:  # noqa: ASYNC109
        """Idle: until something is queued after the last claim (by any process) or ``timeout`` passes.
        ``tokens=False``: only this process's own wake-up (a worker with no free slot leaves Redis's wake-up
        tokens to the workers that can take the work).

        Wake-up tokens are numbered: a token the last claim already saw (its commit came before the claim, as
        when this process queued it and woke its worker directly) is skipped, so one commit costs one claim."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._local.is_set():
                self._local.clear()
                return
            if self._blocked is not None and self._blocked.done():
                number = _token(self._blocked)
                self._blocked = None
                if number is None or number > self._seen:  # timed out (a periodic look), failed, or news
                    return
            left = deadline - loop.time()
            if left <= 0:
                return
            if not tokens:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._local.wait(), left)
                continue
            if self._blocked is None:
                # BLPOP takes whole milliseconds; it stays pending (never cancelled mid-read) if we wake locally
                self._blocked = asyncio.create_task(self.redis.blpop([self.keys.outbox_wake], timeout=max(left, 0.01)))
                self._blocked.add_done_callback(_seen)  # a BLPOP cut by shutdown (its connection closed) is no error
            local = asyncio.create_task(self._local.wait())
            try:
                await asyncio.wait([self._blocked, local], timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                local.cancel()

    # ------------------------------------------------------------------ finishing
    def progress(self, entry: Entry) -> EntryProgress:
        return EntryProgress(self, entry)

    async def done(
        self, entry: Entry, taken: list[tuple[str, str]], links: list[tuple[str, str, int, int]] = ()
    ) -> bool:
        """The entry is sent (or given up): remove it, record ``links`` (kind, native id, case id, ttl), move
        its rate entries to now, release the lease; one round trip. True when the destination has more."""
        k = self.keys
        args: list[Any] = [entry.id, entry.dest, repr(self.clock()), entry.token, repr(self.clock()), len(links)]
        for kind, native_id, case_id, ttl in links:
            args += [k.ref(kind, native_id), case_id, ttl]
        for key, member in taken:
            args += [key, member]
        more = await self._done(
            keys=[k.outbox_queue(entry.dest), k.outbox_ready, k.outbox_msg(entry.id), k.outbox_lease(entry.dest)],
            args=args,
        )
        return bool(int(more))

    async def later(self, entry: Entry, when: float, **fields: Any) -> None:
        """Try the destination again at ``when`` (updating the entry's ``fields``); release the lease."""
        k = self.keys
        if fields:
            await self.redis.hset(k.outbox_msg(entry.id), mapping={f: str(v) for f, v in fields.items()})
        await self._later(keys=[k.outbox_ready, k.outbox_lease(entry.dest)], args=[entry.dest, repr(when), entry.token])

    async def replace_out(self, entry: Entry, out: Outbound, absorbed: list[str]) -> None:
        """The head now carries ``out`` (merged from the entries ``absorbed``, which leave the queue)."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(k.outbox_msg(entry.id), "out", out.to_json())
            for other in absorbed:
                p.lrem(k.outbox_queue(entry.dest), 1, other)
                p.delete(k.outbox_msg(other))
            await p.execute()

    async def following(self, entry: Entry, n: int = 49) -> list[tuple[str, Outbound | None]]:
        """The entries queued right behind ``entry`` for the same destination."""
        k = self.keys
        ids = await self.redis.lrange(k.outbox_queue(entry.dest), 1, n)
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as p:
            for other in ids:
                p.hget(k.outbox_msg(other), "out")
            bodies = await p.execute()
        return [(i, Outbound.from_json(b) if b else None) for i, b in zip(ids, bodies, strict=True)]

    async def pending(self) -> int:
        """Entries waiting in the outbox (all destinations)."""
        dests = await self.redis.zrange(self.keys.outbox_ready, 0, -1)
        if not dests:
            return 0
        async with self.redis.pipeline(transaction=False) as p:
            for dest in dests:
                p.llen(self.keys.outbox_queue(dest))
            return sum(await p.execute())

    async def empty(self) -> bool:
        return not await self.redis.zcard(self.keys.outbox_ready)


def _token(blpop: asyncio.Task) -> int | None:
    """The number of the wake-up token a finished BLPOP took; None when it timed out or failed."""
    if blpop.cancelled() or blpop.exception() is not None or not blpop.result():
        return None
    try:
        return int(blpop.result()[1])
    except (TypeError, ValueError):
        return None


def _seen(task: asyncio.Task) -> None:
    """Mark a finished task's exception as retrieved (asyncio would log it when the task is collected)."""
    if not task.cancelled():
        task.exception()
