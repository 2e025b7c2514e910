"""The SLA scheduler: first-response reminders that came due become ``Reminder`` events for the intake.

The desk schedules reminders in the ``sla:due`` zset (``{case id}:{number}`` -> when it is due) in the
handoff's own unit of work and removes them with the first operator reply (``core.desk.sla``); they live in
Redis, so they survive restarts. Every process runs a scheduler; each due entry is *claimed* by one of them
(one Lua step moves its score ``claim_ttl`` into the future, so the others do not see it as due), then handed
to the intake as a ``Reminder``. The desk's handling removes the entry in the same atomic commit as what it
sends, and the event's dedup key (case and number) makes a repeat harmless. A process that dies holding a
claim leaves the entry to come due again after ``claim_ttl``: a reminder is sent once, never lost.

The clock is injectable; tests call ``tick()`` instead of waiting for ``run()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.desk.sla import parse_member

if TYPE_CHECKING:
    from bots.app import Core

log = logging.getLogger(__name__)

# KEYS: the sla:due zset. ARGV: now, the claim's end, how many at most -> the entries claimed (due by now)
CLAIM_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member) end
return due
"""


@dataclass(frozen=True, slots=True)
class SlaOptions:
    interval: float = 5.0  # seconds between looks at the schedule
    claim_ttl: float = 120.0  # a claimed reminder not handled by then (its process died) comes due again
    batch: int = 100  # reminders claimed at a time


class SlaScheduler:
    def __init__(self, core: Core, options: SlaOptions = SlaOptions(), *, clock: Callable[[], float] | None = None):
        self.store = core.store
        self.sink = core.intake
        self.options = options
        self.clock = clock or core.store.clock
        self._claim = core.store.redis.register_script(CLAIM_LUA)

    async def tick(self) -> int:
        """Claim what is due and hand it to the intake; returns how many reminders were handled."""
        key = self.store.keys.sla_due
        now = self.clock()
        claimed = await self._claim(
            keys=[key], args=[repr(now), repr(now + self.options.claim_ttl), self.options.batch]
        )
        handled = 0
        for member in claimed:
            event = parse_member(member)
            if event is None:
                log.warning("sla: dropping a malformed schedule entry %r", member)
                await self.store.redis.zrem(key, member)
                continue
            try:
                await self.sink(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # the claim expires and the reminder comes due again
                log.exception("sla: reminder %s of case %s failed; it will be tried again", event.number, event.case_id)
                continue
            await self.store.redis.zrem(key, member)  # handled (now or before): gone for good
            handled += 1
        return handled

    async def run(self) -> None:
        me = asyncio.current_task()
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away...: looked at again next time
                log.exception("sla: looking at the schedule failed")
            if me is not None and me.cancelling():  # a cancellation swallowed by a library: honour it
                raise asyncio.CancelledError
            await asyncio.sleep(self.options.interval)
