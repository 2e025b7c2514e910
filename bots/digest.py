"""The managers' daily digest: at ``DIGEST_TIME`` (in ``TIMEZONE``) yesterday's figures go to every manager.

Every process runs the clock; when the time comes it hands the intake a ``Digest`` event for the day the digest
covers, and the event's dedup key (``dg:{day}``) makes the digest go out once however many processes fire it.
The desk builds the messages (``core.desk.managers``); the outbox delivers them like any other. A process that
starts later the same day (it was down at ``DIGEST_TIME``) fires it at start if the time passed less than
``CATCH_UP`` ago: late rather than lost, never twice.

The clock is injectable; tests call ``tick()`` instead of waiting for ``run()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.events import Digest

if TYPE_CHECKING:
    from bots.app import Core

log = logging.getLogger(__name__)

CATCH_UP = 12 * 3600  # a digest missed by less than this is sent when a process starts
INTERVAL = 30.0  # seconds between looks at the clock


class DigestClock:
    def __init__(self, core: Core, at: tuple[int, int], *, clock: Callable[[], float] | None = None):
        self.sink = core.intake
        self.at = at
        self.zone = ZoneInfo(core.settings.timezone)
        self.clock = clock or core.store.clock
        self.fired: str | None = None  # the last day this process fired (the dedup key guards the rest)

    def due(self, now: float) -> str | None:
        """The day whose digest is due at ``now``: the day before the latest DIGEST_TIME, when that passed less
        than ``CATCH_UP`` ago (also across midnight); else None."""
        local = datetime.fromtimestamp(now, self.zone)
        moment = local.replace(hour=self.at[0], minute=self.at[1], second=0, microsecond=0)
        if moment > local:  # not yet today: the latest one was yesterday's
            moment -= timedelta(days=1)
        if (local - moment).total_seconds() > CATCH_UP:
            return None
        return (moment.date() - timedelta(days=1)).isoformat()

    async def tick(self) -> bool:
        """Fire the digest if it is due and this process has not fired it yet; True when it did."""
        day = self.due(self.clock())
        if day is None or day == self.fired:
            return False
        await self.sink(Digest(day))
        self.fired = day
        log.info("digest for %s handed to the intake", day)
        return True

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away...: tried again at the next look
                log.exception("digest: firing failed; trying again")
            await asyncio.sleep(INTERVAL)
