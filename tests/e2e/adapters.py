"""Plumbing of the adapter-only tests: one channel with the real core around it (intake, desk, outbox in real
Redis), a recording staff side, the delivery worker and a web server for the channel's webhook routes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bots.app import Core
from bots.delivery import Delivery, DeliveryOptions, Entry, destination
from bots.ports import SendContext
from core.config import Settings
from core.events import OperatorText, StaffPlace
from core.messages import Operator, Outbound
from tests.conftest import TESTS

OPERATOR = Operator("op1", "Olga")


async def stop(*tasks: asyncio.Task) -> None:
    """Cancel until done: Delivery.run can swallow one cancel (asyncio.wait_for's race on Python 3.11)."""
    for task in tasks:
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.2)


class StaffStub:
    """Records what would go to the staff topic."""

    def __init__(self):
        self.outs: list[Outbound] = []

    async def send_staff(self, out, ctx):
        self.outs.append(out)
        return str(len(self.outs))

    def staff_limits(self, out):
        return []

    async def wait(self, predicate, within=10.0):
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            for out in self.outs:
                if predicate(out):
                    return out
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching staff message; got {[o.text[:60] for o in self.outs]}")


def core_settings(redis_url: str, prefix: str, **env: Any) -> Settings:
    return Settings(
        _env_file=None,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        FAQ_PATH=str(TESTS / "data" / "faq_desk.yaml"),
        DEFAULT_LANGUAGE="ru",
        STAFF_LANGUAGE="en",
        **env,
    )


@dataclass
class Harness:
    """The channel with the real core around it: ``intake`` is the sink the channel feeds."""

    fake: Any  # the platform's API stand-in
    channel: Any
    core: Core
    delivery: Delivery
    staff: StaffStub
    url: str  # the channel's webhook URL on the test web server

    @property
    def store(self):
        return self.core.store

    @property
    def intake(self):
        return self.core.intake

    async def operator_says(self, case_id: int, text: str, attachments=()) -> None:
        """An operator's line in the case's topic, as the staff front end hands it to the intake."""
        place = StaffPlace(case_id=case_id)
        await self.intake(OperatorText(OPERATOR, text, place, uuid.uuid4().hex, attachments=tuple(attachments)))

    def send_context(self, out: Outbound, key: str) -> SendContext:
        """What the outbox gives ``send`` for one entry (its own progress, the media resolver)."""
        entry = Entry(uuid.uuid4().hex, destination(out), "", out, 0, 0.0)
        return SendContext(key=key, progress=self.core.outbox.progress(entry), media=self.delivery.fetch_media)


@contextlib.asynccontextmanager
async def harness(fake: Any, core: Core, channel: Any, path: str, *, others: dict[str, Any] | None = None):
    """Run ``channel`` (``run`` and its routes) and a delivery worker around ``core``; ``others``: more channels
    the outbox knows (e.g. one whose files an operator sends). Closes the channel and the core afterwards."""
    staff = StaffStub()
    channels = {channel.name: channel, **(others or {})}
    delivery = Delivery(core.outbox, channels, staff, core.intake, DeliveryOptions(time_scale=0.02))
    app = web.Application()
    app.add_routes(channel.routes(core.intake))
    server = TestServer(app)
    await server.start_server()
    tasks = [asyncio.create_task(delivery.run()), asyncio.create_task(channel.run(core.intake))]
    try:
        yield Harness(fake, channel, core, delivery, staff, str(server.make_url(path)))
    finally:
        await stop(*tasks)
        await channel.close()
        await server.close()
        await core.close()
