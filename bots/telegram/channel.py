"""TelegramChannel: the customers' side (private chats) and the staff side (the operators' supergroup), as the
runner builds it. A thin facade over the modules that do the work:

* ``api``: options, the aiogram Bot, error mapping, preflight, downloads, the low-level sends and limits;
* ``intake``: polling (one poller per bot) and the webhook; updates -> events for the sink;
* ``customers``: ``send`` / ``limits`` for customers' private chats;
* ``staff``: ``send_staff`` / ``staff_limits``: topics, cards, relays, status lines, command answers.

It is given the sink (never the desk), ``ChannelMemory`` for its own small facts (``noforum``, answered
callback queries) and the ``StaffDirectory`` for what it must know about cases (topic ids, titles, cards).
"""

from __future__ import annotations

from aiohttp import web

from bots.ports import Capabilities, ChannelMemory, EventSink, Limit, Media, SendContext, StaffDirectory
from bots.telegram.api import TEXT_MAX, TelegramApi, TelegramOptions
from bots.telegram.customers import CustomerSide
from bots.telegram.intake import TelegramIntake
from bots.telegram.preflight import preflight
from bots.telegram.staff import StaffSide
from core.messages import Attachment, Outbound


class TelegramChannel:
    name = "telegram"
    capabilities = Capabilities(text_max=TEXT_MAX, buttons=100, button_label_max=64)

    def __init__(self, options: TelegramOptions, *, memory: ChannelMemory, directory: StaffDirectory):
        self.options = options
        self.api = TelegramApi(options)
        self.intake = TelegramIntake(self.api, options, memory, directory)
        self.customers = CustomerSide(self.api)
        self.staff = StaffSide(self.api, memory, directory)

    @property
    def polling(self) -> bool:
        """This process holds the polling lease and polls."""
        return self.intake.polling

    @property
    def standing_by(self) -> bool:
        """Another process polls; this one waits to take over."""
        return self.intake.standing_by

    # ---------------------------------------------------------------- receiving
    async def preflight(self) -> None:
        """The token and the staff group checked before anything runs (``bots.telegram.preflight``)."""
        await preflight(self.api)

    async def run(self, sink: EventSink) -> None:
        await self.intake.run(sink)

    def routes(self, sink: EventSink) -> list[web.RouteDef]:
        return self.intake.routes(sink)

    # ---------------------------------------------------------------- sending
    async def send(self, out: Outbound, ctx: SendContext) -> str:
        return await self.customers.send(out, ctx)

    def limits(self, out: Outbound) -> list[Limit]:
        return self.customers.limits(out)

    async def send_staff(self, out: Outbound, ctx: SendContext) -> str:
        return await self.staff.send_staff(out, ctx)

    async def staff_limits(self, out: Outbound) -> list[Limit]:
        return await self.staff.staff_limits(out)

    async def download(self, attachment: Attachment) -> Media:
        return await self.api.download(attachment)

    async def close(self) -> None:
        await self.api.close()
