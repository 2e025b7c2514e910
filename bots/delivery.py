"""The delivery outbox: one queue in Redis shared by every process, with shared rate limits and retries.

``Delivery.enqueue`` writes messages to Redis before it returns; ``Delivery.run`` (any number of processes)
sends them. Messages are grouped by destination (one customer, or one case's staff topic); the messages of a
destination are sent one at a time, in order, by whichever worker holds the destination's lease.

Redis keys (under the store prefix):

==============================  ======  ==================================================================
key                             type    what
==============================  ======  ==================================================================
outbox:seq                      string  message id counter
outbox:msg:{id}                 hash    ``out`` (Outbound JSON), ``dest``, ``attempts``, ``created``
outbox:q:{dest}                 list    message ids of one destination, oldest first
outbox:ready                    zset    destination -> the earliest time its head may be tried
outbox:lease:{dest}             string  the worker currently sending to that destination (expires)
outbox:rate:{limit key}         zset    sliding-window log of sends counted against one ``Limit``
==============================  ======  ==================================================================

Destinations: ``c:{channel}:{user_id}`` for a customer, ``s:{case_id}`` for a case's staff topic.

Rate limits: every channel declares, per message, the ``Limit``s one send counts against (``limits(out)``;
a limit listed n times costs n units, e.g. a created topic plus its card). A message is only sent when all
its limits have room, checked and taken in one Lua step, so processes never overrun them together.
When the staff group's budget is exhausted, the customer messages waiting for the same topic are merged into
one message (texts joined, attachments kept) instead of waiting one by one. A message whose content exists
only as the native original (``copy_from`` with no text and no attachments: a Telegram location, contact,
poll...) is never merged: merging stops at it and it is copied on its own.

Failures: ``DeliveryError.retry_after`` (HTTP 429) waits that long and retries without using an attempt;
other transient errors retry with exponential backoff, up to ``max_attempts``; a permanent error (or the last
attempt) calls ``desk.delivery_failed`` and enqueues what it returns. One send may take at most 80% of the
lease (``lease_seconds``): a send still running then is cancelled and counts as a transient failure, so no
other worker can take the destination while it is still being sent to. Redis being away does not stop
``run``: it logs, backs off (at most ``max_backoff``) and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bots.channel import Channel, DeliveryError, Limit, Media
from core.messages import Attachment, Audience, Outbound, StaffKind

log = logging.getLogger(__name__)

# KEYS: rate keys (one per distinct limit). ARGV: now, then per key: count, per, need, member prefix.
# Returns 0 when taken, else the seconds to wait (as a string).
_TAKE_LUA = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 + (i - 1) * 4])
  local per = tonumber(ARGV[3 + (i - 1) * 4])
  local need = tonumber(ARGV[4 + (i - 1) * 4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local used = redis.call('ZCARD', key)
  if used + need > count then
    local idx = used + need - count - 1
    local oldest = redis.call('ZRANGE', key, idx, idx, 'WITHSCORES')
    local w = per
    if oldest[2] then w = tonumber(oldest[2]) + per - now end
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local per = tonumber(ARGV[3 + (i - 1) * 4])
  local need = tonumber(ARGV[4 + (i - 1) * 4])
  local member = ARGV[5 + (i - 1) * 4]
  for j = 1, need do redis.call('ZADD', key, now, member .. ':' .. j) end
  redis.call('PEXPIRE', key, math.ceil(per * 1000) + 1000)
end
return '0'
"""

# KEYS: queue, ready, msg key. ARGV: id, dest, next score. Removes a done message; reschedules or retires dest.
_DONE_LUA = """
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('DEL', KEYS[3])
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
else
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
"""

# KEYS: lease. ARGV: token. Releases a lease only if we still hold it.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Delivery:
    """The outbox. ``time_scale`` multiplies every limit window and backoff (tests and the bench shrink time
    together with the API stand-in; production keeps 1.0)."""

    def __init__(
        self,
        store: Any,
        desk: Any,
        channels: Mapping[str, Channel],
        staff: Any,
        *,
        time_scale: float = 1.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        concurrency: int = 64,
        lease_seconds: float = 120.0,
        margin: float = 0.02,
        poll: float = 0.02,
    ):
        self.store = store
        self.redis = store.redis
        self.desk = desk
        self.channels = dict(channels)
        self.staff = staff
        self.time_scale = time_scale
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.margin = margin  # seconds added to every window: latency between our clock and the API's
        self.poll = poll
        self.stats = {"sent": 0, "retried": 0, "rate_limited": 0, "merged": 0, "failed": 0, "throttled": 0}
        self._take = self.redis.register_script(_TAKE_LUA)
        self._done = self.redis.register_script(_DONE_LUA)
        self._release = self.redis.register_script(_RELEASE_LUA)
        self._busy: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._worker = uuid.uuid4().hex[:12]
        # Channels fetch media they did not receive themselves through this resolver (see bots/channel.py).
        for ch in {id(c): c for c in [*self.channels.values(), staff] if c is not None}.values():
            with contextlib.suppress(AttributeError, TypeError):
                ch.media = self.fetch_media

    # ------------------------------------------------------------------ public
    async def fetch_media(self, attachment: Attachment) -> Media:
        """The bytes of an attachment, downloaded from the channel that received it."""
        channel = self.channels.get(attachment.channel)
        if channel is None:
            raise DeliveryError(f"no channel {attachment.channel!r} to download the file from", permanent=True)
        return await channel.download(attachment)

    async def enqueue(self, outs: list[Outbound]) -> None:
        """Store ``outs`` in the outbox (durable in Redis when this returns), in order per destination."""
        if not outs:
            return
        first = await self.redis.incrby(self.k("seq"), len(outs))
        now = time.time()
        async with self.redis.pipeline(transaction=True) as p:
            for i, out in enumerate(outs):
                msg_id = str(first - len(outs) + 1 + i)
                dest = self.destination(out)
                p.hset(
                    self.k("msg", msg_id),
                    mapping={"out": out.to_json(), "dest": dest, "attempts": 0, "created": repr(now)},
                )
                p.rpush(self.k("q", dest), msg_id)
                p.zadd(self.k("ready"), {dest: now}, nx=True)
            await p.execute()
        self._wake.set()

    async def run(self) -> None:
        """Send until cancelled. Safe to run in any number of processes at once."""
        me = asyncio.current_task()
        failures = 0
        try:
            while True:
                try:
                    await self._tick()
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # Redis away, a script error...: the outbox waits, the process lives on
                    failures += 1
                    delay = min(self.max_backoff, 0.5 * 2 ** min(failures - 1, 8))
                    log.error("outbox: cannot reach the queue (%r); retrying in %.1fs", e, delay)
                    await asyncio.sleep(delay)
                if me is not None and me.cancelling():  # a cancellation swallowed by a library: honour it
                    raise asyncio.CancelledError
        finally:
            for task in list(self._busy.values()):
                task.cancel()

    async def drain(self, timeout: float = 30.0) -> bool:  # noqa: ASYNC109
        """Send until the outbox is empty (True) or ``timeout`` passes (False). For tests and the bench."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not await self.redis.zcard(self.k("ready")) and not self._busy:
                return True
            await self._tick()
        return False

    async def pending(self) -> int:
        """Messages waiting in the outbox (all destinations)."""
        dests = await self.redis.zrange(self.k("ready"), 0, -1)
        total = 0
        for dest in dests:
            total += await self.redis.llen(self.k("q", dest))
        return total

    # ------------------------------------------------------------------ internals
    def k(self, *parts: object) -> str:
        return self.store.k("outbox", *parts)

    @staticmethod
    def destination(out: Outbound) -> str:
        if out.audience == Audience.CUSTOMER and out.to is not None:
            return f"c:{out.to.channel}:{out.to.user_id}"
        return f"s:{out.case_id}"

    async def _tick(self) -> None:
        now = time.time()
        free = self.concurrency - len(self._busy)
        due: list[str] = []
        if free > 0:
            due = await self.redis.zrangebyscore(self.k("ready"), "-inf", now, start=0, num=free + len(self._busy))
        started = 0
        for dest in due:
            if dest in self._busy or started >= free:
                continue
            token = f"{self._worker}:{uuid.uuid4().hex[:8]}"
            if not await self.redis.set(self.k("lease", dest), token, nx=True, px=int(self.lease_seconds * 1000)):
                continue
            task = asyncio.create_task(self._serve(dest, token))
            self._busy[dest] = task
            task.add_done_callback(lambda _t, d=dest: self._busy.pop(d, None))
            started += 1
        if started:
            await asyncio.sleep(0)
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow a cancellation
            async with asyncio.timeout(self.poll):
                await self._wake.wait()

    async def _serve(self, dest: str, token: str) -> None:
        """Send the head of one destination's queue (we hold its lease)."""
        try:
            await self._serve_head(dest)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox: failure while serving %s", dest)
            await self.redis.zadd(self.k("ready"), {dest: time.time() + 1.0})
        finally:
            with contextlib.suppress(Exception):
                await self._release(keys=[self.k("lease", dest)], args=[token])
            self._wake.set()

    def _channel_for(self, out: Outbound) -> Any:
        if out.audience == Audience.STAFF:
            return self.staff
        return self.channels.get(out.to.channel) if out.to else None

    async def _serve_head(self, dest: str) -> None:
        queue = self.k("q", dest)
        msg_id = await self.redis.lindex(queue, 0)
        if msg_id is None:
            await self._done(keys=[queue, self.k("ready"), self.k("msg", "none")], args=["", dest, time.time()])
            return
        raw = await self.redis.hgetall(self.k("msg", msg_id))
        if not raw:  # lost its body (should not happen): skip it
            await self._done(keys=[queue, self.k("ready"), self.k("msg", msg_id)], args=[msg_id, dest, time.time()])
            return
        out = Outbound.from_json(raw["out"])
        attempts = int(raw.get("attempts") or 0)
        channel = self._channel_for(out)
        if channel is None:
            await self._give_up(dest, msg_id, out, f"no channel configured for {dest}")
            return

        wait, taken = await self._take_limits(channel.limits(out), msg_id)
        if wait > 0 and self._mergeable(out):
            merged = await self._merge(dest, msg_id, out)
            if merged is not None:
                out = merged
                wait, taken = await self._take_limits(channel.limits(out), msg_id)
        if wait > 0:
            self.stats["throttled"] += 1
            await self.redis.zadd(self.k("ready"), {dest: time.time() + wait})
            return

        key = f"{self.store.prefix}{msg_id}"
        try:
            async with asyncio.timeout(self.lease_seconds * 0.8):  # finish before the lease can pass on
                if out.audience == Audience.STAFF:
                    await channel.send_staff(out, key)
                else:
                    await channel.send(out, key)
        except DeliveryError as e:
            error: DeliveryError | None = e
        except TimeoutError:
            error = DeliveryError(f"no answer within {self.lease_seconds * 0.8:.0f}s")
        except OSError as e:
            error = DeliveryError(f"network error: {e!r}")
        except Exception as e:
            log.exception("outbox: unexpected error sending %s", msg_id)
            error = DeliveryError(f"internal error: {e!r}")
        else:
            error = None
        finally:
            with contextlib.suppress(Exception):
                await self._touch(taken)
        if error is not None:
            await self._failed(dest, msg_id, out, attempts, error)
            return
        self.stats["sent"] += 1
        await self._done(keys=[queue, self.k("ready"), self.k("msg", msg_id)], args=[msg_id, dest, time.time()])

    async def _take_limits(self, limits: list[Limit], member: str) -> tuple[float, list[tuple[str, list[str]]]]:
        """Take room for one send in every limit at once -> (seconds to wait or 0, the entries taken)."""
        if not limits:
            return 0.0, []
        need: dict[str, list[Any]] = {}
        for limit in limits:
            entry = need.setdefault(limit.key, [limit.count, limit.per * self.time_scale + self.margin, 0])
            entry[2] += 1
        tag = f"{member}:{uuid.uuid4().hex[:6]}"
        keys, args, taken = [], [repr(time.time())], []
        for key, (count, per, n) in need.items():
            n = min(n, count)
            keys.append(self.k("rate", key))
            args += [count, repr(per), n, tag]
            taken.append((self.k("rate", key), [f"{tag}:{j}" for j in range(1, n + 1)]))
        wait = float(await self._take(keys=keys, args=args))
        return wait, ([] if wait > 0 else taken)

    async def _touch(self, taken: list[tuple[str, list[str]]]) -> None:
        """Move the entries of a finished send to now: its API calls reached the platform at the latest now
        (a topic and its card are two calls; the event loop may delay a request), so the window is kept
        from the last of them, not from the moment room was taken."""
        if not taken:
            return
        now = time.time()
        async with self.redis.pipeline(transaction=False) as p:
            for key, members in taken:
                p.zadd(key, dict.fromkeys(members, now))
            await p.execute()

    @staticmethod
    def _mergeable(out: Outbound) -> bool:
        """A relayed customer message that can be shown as text and files (not only as a copy of itself)."""
        return (
            out.audience == Audience.STAFF
            and out.kind == StaffKind.CUSTOMER_MESSAGE
            and bool(out.text or out.attachments)
        )

    async def _merge(self, dest: str, head_id: str, head: Outbound) -> Outbound | None:
        """Fold the customer messages queued right behind ``head`` (same topic) into it; None if none."""
        queue = self.k("q", dest)
        ids = await self.redis.lrange(queue, 1, 49)
        parts: list[Outbound] = []
        taken: list[str] = []
        for other_id in ids:
            raw = await self.redis.hget(self.k("msg", other_id), "out")
            if raw is None:
                break
            other = Outbound.from_json(raw)
            if not self._mergeable(other):
                break
            parts.append(other)
            taken.append(other_id)
        if not parts:
            return None
        items = [head, *parts]
        texts = [o.text for o in items if o.text]
        merged_count = int(head.meta.get("merged", 1)) + sum(int(o.meta.get("merged", 1)) for o in parts)
        merged = replace(
            head,
            text="\n".join(texts),
            attachments=tuple(a for o in items for a in o.attachments),
            copy_from=None,
            meta={**head.meta, "merged": merged_count},
        )
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(self.k("msg", head_id), "out", merged.to_json())
            for other_id in taken:
                p.lrem(queue, 1, other_id)
                p.delete(self.k("msg", other_id))
            await p.execute()
        self.stats["merged"] += len(taken)
        return merged

    async def _failed(self, dest: str, msg_id: str, out: Outbound, attempts: int, e: DeliveryError) -> None:
        now = time.time()
        if e.retry_after is not None and not e.permanent:
            self.stats["rate_limited"] += 1
            rl = await self.redis.hincrby(self.k("msg", msg_id), "rate_limited", 1)
            if rl <= 20:
                await self.redis.zadd(self.k("ready"), {dest: now + e.retry_after})
                return
        if not e.permanent and attempts + 1 < self.max_attempts:
            self.stats["retried"] += 1
            await self.redis.hincrby(self.k("msg", msg_id), "attempts", 1)
            delay = min(self.max_backoff, self.backoff * 2**attempts) * self.time_scale
            log.info("outbox: %s to %s failed (%s); retry in %.2fs", msg_id, dest, e.reason, delay)
            await self.redis.zadd(self.k("ready"), {dest: now + delay})
            return
        await self._give_up(dest, msg_id, out, e.reason)

    async def _give_up(self, dest: str, msg_id: str, out: Outbound, reason: str) -> None:
        self.stats["failed"] += 1
        log.warning("outbox: giving up on %s to %s: %s", msg_id, dest, reason)
        await self._done(
            keys=[self.k("q", dest), self.k("ready"), self.k("msg", msg_id)], args=[msg_id, dest, time.time()]
        )
        if out.meta.get("undelivered"):  # a failure notice that failed: do not loop
            return
        try:
            follow = await self.desk.delivery_failed(out, reason)
        except Exception:
            log.exception("outbox: desk.delivery_failed raised")
            return
        await self.enqueue(list(follow))


def dumps_stats(delivery: Delivery) -> str:
    return json.dumps(delivery.stats)
