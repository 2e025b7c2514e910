"""The recording channel of the outbox tests, and their helpers: ``Recorder`` (a channel for customers and the
staff side that records what it sends and fails or hangs on cue), ``make`` (a delivery worker on the real core),
``until`` (a barrier on state nothing signals). The fixtures ``core``, ``rec`` and ``delivery`` are in this
folder's conftest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bots.delivery import Delivery, DeliveryOptions
from bots.ports import Capabilities, Limit, Media, SendContext
from core.messages import Attachment, Audience, Operator, Outbound, StaffKind, UserRef

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"
ANNA = UserRef("rec", "1")
BORIS = UserRef("rec", "2")
OLGA = Operator("7", "Olga")
SCALE = 0.05


class Recorder:
    """A channel (customers and the staff side) that records what it sends.

    ``script`` maps a text to the errors its next sends raise, ``slow`` to the seconds its next sends hang;
    a text with "|" goes out as several parts (one message each, progress kept by the outbox), and
    ``part_script`` maps (text, part index) to the errors that part raises. Every staff message sent for a
    case is linked to it (``ctx.link``), the parts sent by an earlier attempt included."""

    name = "rec"
    capabilities = Capabilities()

    def __init__(self, per: float = 1.0, count: int = 1, group: tuple[int, float] = (20, 60.0)):
        self.sent: list[tuple[float, Outbound, str]] = []
        self.staff_sent: list[tuple[float, Outbound, str]] = []
        self.parts: list[str] = []  # every part that went out, in order
        self.attempts: list[tuple[str, str]] = []  # (text, ctx.key) of every attempt
        self.script: dict[str, list[Exception]] = {}
        self.part_script: dict[tuple[str, int], list[Exception]] = {}
        self.slow: dict[str, list[float]] = {}
        self.fetched: list[bytes] = []
        self.per, self.count, self.group = per, count, group
        self.files = {"f1": b"bytes of f1"}
        self._changed = asyncio.Condition()

    def limits(self, out: Outbound) -> list[Limit]:
        return [Limit(f"chat:{out.to.user_id}", self.count, self.per), Limit("global", 30, 1.0)]

    async def staff_limits(self, out: Outbound) -> list[Limit]:  # may be a coroutine
        n = 2 if out.kind == StaffKind.CASE_OPENED else 1
        return [Limit("group", *self.group)] * n

    async def _send(self, out: Outbound, ctx: SendContext, log: list) -> str:
        self.attempts.append((out.text, ctx.key))
        errors = self.script.get(out.text)
        if errors:
            raise errors.pop(0)
        delays = self.slow.get(out.text)
        if delays:
            await asyncio.sleep(delays.pop(0))
        for a in out.attachments:
            self.fetched.append((await ctx.media(a)).data)
        native = ""
        for i, part in enumerate(out.text.split("|")):
            if i < ctx.progress.done:
                native = ctx.progress.sent[i]
            else:
                errors = self.part_script.get((out.text, i))
                if errors:
                    raise errors.pop(0)
                self.parts.append(part)
                native = f"n{len(self.parts)}"
                await ctx.progress.mark(i, native)
            if out.audience == Audience.STAFF and out.case_id:
                ctx.link("recmsg", native, out.case_id, ttl=3600)
        async with self._changed:
            log.append((time.monotonic(), out, ctx.key))
            self._changed.notify_all()
        return native

    async def send(self, out: Outbound, ctx: SendContext) -> str:
        return await self._send(out, ctx, self.sent)

    async def send_staff(self, out: Outbound, ctx: SendContext) -> str:
        return await self._send(out, ctx, self.staff_sent)

    async def download(self, att: Attachment) -> Media:
        return Media(self.files[att.ref], att.ref)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
        """A barrier: until ``condition()`` holds after a send."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)


def make(core, rec, **options) -> Delivery:
    options.setdefault("time_scale", SCALE)
    return Delivery(core.outbox, {"rec": rec}, rec, core.intake, DeliveryOptions(**options))


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:  # noqa: ASYNC109
    """A barrier on state this test cannot be told about otherwise: polls ``condition`` until it holds."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing signals it (the worker parked in BLPOP)
            await asyncio.sleep(0.005)
