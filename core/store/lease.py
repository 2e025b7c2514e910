"""The one lease primitive: a Redis key holding a random token, with an expiry.

A lease is taken with ``SET NX PX``; renewed and released only by its holder (a Lua check of the token), so
a holder whose lease expired can never release or extend someone else's. A holder that dies simply lets it
expire, and another process takes over. Used for customers' lanes, outbox destinations, the Telegram poller
and topic creation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

RENEW_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
RELEASE_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class LeaseTimeout(TimeoutError):
    pass


class Lease:
    def __init__(self, redis: Any, key: str, ttl: float, token: str | None = None):
        self.redis = redis
        self.key = key
        self.ttl = ttl
        self.token = token or uuid.uuid4().hex
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)

    async def try_take(self) -> bool:
        return bool(await self.redis.set(self.key, self.token, nx=True, px=int(self.ttl * 1000)))

    async def take(self, wait: float, step: float = 0.01) -> None:
        """Take the lease, waiting at most ``wait`` seconds for its holder to let go (or to die)."""
        deadline = time.monotonic() + wait
        delay = step
        while not await self.try_take():
            if time.monotonic() >= deadline:
                raise LeaseTimeout(f"{self.key} is held by another process")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.token, int(self.ttl * 1000)]))

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await self._release(keys=[self.key], args=[self.token])

    async def __aenter__(self) -> Lease:
        await self.take(self.ttl * 2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
