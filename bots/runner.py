"""`supportbot run`: builds every configured channel, the delivery outbox and the web server, and runs them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bots.app import App, bootstrap
from core.config import Settings
from core.desk import SupportDesk
from core.messages import Inbound, Outbound

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """What a channel needs from the rest of the bot: hand the desk an event, queue what it returns."""

    desk: SupportDesk
    delivery: object  # bots.delivery.Delivery (kept loose to avoid an import cycle)

    async def customer(self, event: Inbound) -> None:
        """A customer's update: the desk decides, the outbox (in Redis) holds the answers before we return."""
        outs = await self.desk.handle(event)
        await self.submit(outs)

    async def submit(self, outs: Sequence[Outbound]) -> None:
        if outs:
            await self.delivery.enqueue(list(outs))  # type: ignore[attr-defined]


class ConfigError(RuntimeError):
    pass


def check(settings: Settings) -> None:
    """Refuse a configuration that would take customers' messages with no operator to read them."""
    if (settings.vk_enabled or settings.whatsapp_enabled or settings.telegram_enabled) and not (
        settings.telegram_enabled and settings.telegram_staff_chat_id
    ):
        raise ConfigError(
            "Operators work in a Telegram staff supergroup: set TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID "
            "(the supergroup's id, e.g. -1001234567890) in addition to the customer channels."
        )


async def build(settings: Settings, app: App | None = None):
    """Every configured channel, the delivery outbox and the web app, wired; nothing started yet."""
    from aiohttp import web  # noqa: F401 - the web server comes with aiogram's aiohttp

    from bots.delivery import Delivery
    from bots.web import make_app

    app = app or await bootstrap(settings)
    channels: dict = {}
    staff = None
    if settings.telegram_enabled:
        from bots.telegram import TelegramChannel

        staff = channels["telegram"] = TelegramChannel(settings, app.store, app.desk)
    if settings.vk_enabled:
        from bots.vk import VkChannel

        channels["vk"] = VkChannel(settings, app.store)
    if settings.whatsapp_enabled:
        from bots.whatsapp import WhatsAppChannel

        channels["whatsapp"] = WhatsAppChannel(settings, app.store)
    delivery = Delivery(app.store, app.desk, channels, staff)
    hub = Hub(app.desk, delivery)
    routes = [route for channel in channels.values() for route in channel.routes(hub)]
    web_app = make_app(app.store, routes)
    return app, channels, delivery, hub, web_app


async def run(settings: Settings) -> None:
    from bots.web import start

    check(settings)
    app, channels, delivery, hub, web_app = await build(settings)
    runner = await start(web_app, settings.http_host, settings.http_port)
    log.info("web server on %s:%s; channels: %s", settings.http_host, settings.http_port, ", ".join(channels))
    tasks = [asyncio.create_task(delivery.run(), name="delivery")]
    tasks += [asyncio.create_task(ch.run(hub), name=name) for name, ch in channels.items()]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for ch in channels.values():
            await ch.close()
        await runner.cleanup()
        await app.close()
