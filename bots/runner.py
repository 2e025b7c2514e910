"""`supportbot run`: builds every configured channel, the delivery outbox and the web server, and runs them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from bots.app import App, bootstrap
from core.config import Settings
from core.desk import SupportDesk
from core.messages import Inbound, Outbound

log = logging.getLogger(__name__)

ENQUEUE_ATTEMPTS = 6  # about 3 s of retries in all


@dataclass
class Hub:
    """What a channel needs from the rest of the bot: hand the desk an event, queue what it returns."""

    desk: SupportDesk
    delivery: object  # bots.delivery.Delivery (kept loose to avoid an import cycle)

    async def customer(self, event: Inbound) -> None:
        """A customer's update: the desk decides, the outbox (in Redis) holds the answers before we return."""
        outs = await self.desk.handle(event)
        try:
            await self.submit(outs)
        except Exception:
            # The desk acted but its answers are not queued: let a re-delivery of the update run it again.
            await self.desk.store.forget(event.sender.channel, event.message_id)
            raise

    async def submit(self, outs: Sequence[Outbound]) -> None:
        """Queue messages in the outbox, riding out a short Redis hiccup (a failover, a dropped connection)."""
        if not outs:
            return
        for attempt in range(ENQUEUE_ATTEMPTS):
            try:
                await self.delivery.enqueue(list(outs))  # type: ignore[attr-defined]
                return
            except (RedisError, OSError, TimeoutError):
                if attempt == ENQUEUE_ATTEMPTS - 1:
                    raise
                log.warning("outbox: enqueue failed (attempt %d), retrying", attempt + 1)
                await asyncio.sleep(0.1 * 2**attempt)


class ConfigError(RuntimeError):
    pass


def check(settings: Settings) -> None:
    """Refuse a configuration that would lose customers' messages or let anyone forge them."""
    if not (settings.telegram_enabled and settings.telegram_staff_chat_id):
        raise ConfigError(
            "Operators work in a Telegram staff supergroup: set TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID "
            "(the supergroup's id, e.g. -1001234567890) in addition to the customer channels."
        )
    if not settings.redis_url:
        raise ConfigError(
            "supportbot run needs REDIS_URL: cases, customers' state and the outbox must survive a restart "
            "(e.g. REDIS_URL=redis://127.0.0.1:6379/0). The in-memory store is only for `supportbot chat`."
        )
    if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_URL is set without TELEGRAM_WEBHOOK_SECRET: anyone who knows the URL could post "
            "forged updates. Set TELEGRAM_WEBHOOK_SECRET (1-256 characters of A-Z a-z 0-9 _ -)."
        )
    if settings.whatsapp_enabled and not (settings.whatsapp_app_secret and settings.whatsapp_verify_token):
        raise ConfigError(
            "WhatsApp needs WHATSAPP_APP_SECRET (to check X-Hub-Signature-256 on every webhook call) and "
            "WHATSAPP_VERIFY_TOKEN (for Meta's verification handshake)."
        )
    if bool(settings.vk_callback_secret) != bool(settings.vk_confirmation_code):
        raise ConfigError(
            "The VK Callback API needs both VK_CALLBACK_SECRET and VK_CONFIRMATION_CODE (set neither to use "
            "Bots Long Poll)."
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
    try:  # the token and the staff group, checked before anything is taken in (a problem: ConfigError)
        for ch in channels.values():
            preflight = getattr(ch, "preflight", None)
            if preflight is not None:
                await preflight()
    except BaseException:
        for ch in channels.values():
            await ch.close()
        await app.close()
        raise
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
