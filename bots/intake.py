"""Intake: the one atomic step from an event to the outbox. Every adapter's ``EventSink`` is ``Intake.__call__``.

    event --(lane: the customer's events one at a time, any process)--> desk.handle(event, unit)
          --(commit: the desk's changes + the dedup mark + the outbox entries, one Lua step)--> outbox

The event is marked handled only together with what it caused, so a process killed mid-way leaves the event
unhandled (its lane lease expires and the re-delivered update is handled in full), and a re-delivery of a
handled event is skipped. ``__call__`` returns only after the commit: an adapter acknowledges the update then.
A commit that finds its lane taken over (this process stalled past the lease) writes nothing and is retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from bots import logs, metrics
from bots.delivery import Outbox
from core.desk import SupportDesk
from core.events import Event, dedup_key
from core.store import Store

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    redis_attempts: int = 6  # with backoff 0.1 s doubling: about 3 s in all, a failover or a dropped connection
    backoff: float = 0.1  # seconds before the second attempt (then doubling)


class Intake:
    def __init__(self, store: Store, desk: SupportDesk, outbox: Outbox, options: IntakeOptions = IntakeOptions()):
        self.store = store
        self.desk = desk
        self.outbox = outbox
        self.options = options

    async def __call__(self, event: Event) -> None:
        with logs.context(channel=metrics.event_channel(event)):  # log lines name the channel (bots.logs)
            await self._call(event)

    async def _call(self, event: Event) -> None:
        attempts = self.options.redis_attempts
        for attempt in range(attempts):
            try:
                await self._handle(event)
                return
            except (RedisError, OSError) as e:
                if attempt == attempts - 1:
                    raise
                log.warning("intake: Redis failed (%r); handling the event again", e)
                await asyncio.sleep(self.options.backoff * 2**attempt)

    async def _handle(self, event: Event) -> None:
        key = dedup_key(event)
        started = time.perf_counter()
        for _ in range(COMMIT_ATTEMPTS):
            lane, case_id = await self.desk.lane(event)
            logs.bind(case=case_id)
            unit = await self.store.begin(lane, key)
            if unit is None:
                metrics.event_duplicate(event)
                return  # handled before (a re-delivery)
            try:
                outs = await self.desk.handle(event, unit, case_id)
                self.outbox.add(unit, outs)
                committed = await unit.commit()
            except BaseException:
                await asyncio.shield(unit.abort())
                raise
            if committed:
                metrics.event_handled(event, unit.ops, self.store.keys.events, started)
                if outs:
                    self.outbox.woken()
                return
            log.warning("intake: lost the lane of %s while handling %s; handling it again", lane, key)
        raise RuntimeError(f"intake: could not commit {key} after {COMMIT_ATTEMPTS} attempts")
