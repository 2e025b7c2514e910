"""`supportbot run`: builds every configured channel, the delivery workers and the web server, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bots.app import Core, bootstrap
from bots.delivery import Delivery, DeliveryOptions
from bots.digest import DigestClock
from bots.intake import IntakeOptions
from bots.ports import ConfigError
from bots.reload import FaqReloader
from bots.sla import SlaScheduler
from bots.web import make_app
from bots.web import start as start_web
from core.config import Settings

__all__ = ["ConfigError", "Runtime", "build", "check", "run"]

log = logging.getLogger(__name__)


def check(settings: Settings) -> None:
    """Refuse a configuration that would lose customers' messages or let anyone forge them."""
    if not (settings.telegram_enabled and settings.telegram_staff_chat_id):
        raise ConfigError(
            "Operators work in a Telegram staff supergroup: set TELEGRAM_BOT_TOKEN and TELEGRAM_STAFF_CHAT_ID "
            "(the supergroup's id, e.g. -1001234567890) in addition to the customer channels."
        )
    if not (settings.redis_url or settings.redis_sentinels):
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


@dataclass
class Runtime:
    """Every configured channel, the delivery workers and the web app, wired around a ``Core``."""

    core: Core
    channels: dict[str, Any]
    staff: Any  # the staff front end (the Telegram channel)
    delivery: Delivery
    web_app: web.Application
    tasks: list[asyncio.Task] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def preflight(self) -> None:
        """The token and the staff group, checked before anything is taken in (a problem: ConfigError)."""
        for ch in self.channels.values():
            check_ = getattr(ch, "preflight", None)
            if check_ is not None:
                await check_()

    async def start(self, host: str, port: int, *, channels: bool = True, delivery: bool = True) -> None:
        self.runner = await start_web(self.web_app, host, port)
        if delivery:
            self.tasks.append(asyncio.create_task(self.delivery.run(), name="delivery"))
        if channels:
            sink = self.core.intake
            self.tasks += [asyncio.create_task(ch.run(sink), name=name) for name, ch in self.channels.items()]
            self.tasks.append(asyncio.create_task(SlaScheduler(self.core).run(), name="sla"))  # SLA reminders
            at = self.core.settings.digest_at
            if at is not None and self.core.settings.managers:  # DIGEST_TIME and MANAGER_IDS: the daily digest
                self.tasks.append(asyncio.create_task(DigestClock(self.core, at).run(), name="digest"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
        self.tasks = []
        for ch in self.channels.values():
            with contextlib.suppress(Exception):
                await ch.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        await self.core.close()


async def build(
    settings: Settings,
    core: Core | None = None,
    delivery_options: DeliveryOptions | None = None,
    channel_options: dict[str, dict[str, Any]] | None = None,
    intake_options: IntakeOptions | None = None,
) -> Runtime:
    """Every configured channel, the delivery workers and the web app, wired; nothing started yet.

    ``channel_options``: per channel name, overrides of its options dataclass (tests shorten backoffs);
    ``intake_options``: the intake's retry schedule (``bots.intake.IntakeOptions``)."""
    core = core or await bootstrap(settings, intake_options=intake_options or IntakeOptions())
    extra = channel_options or {}
    channels: dict[str, Any] = {}
    staff = None
    if settings.telegram_enabled:
        from bots.telegram import TelegramChannel, TelegramOptions

        staff = channels["telegram"] = TelegramChannel(
            TelegramOptions.from_settings(settings, **extra.get("telegram", {})),
            memory=core.store.memory("telegram"),
            directory=core.directory,
        )
    if settings.vk_enabled:
        from bots.vk import VkChannel, VkOptions

        channels["vk"] = VkChannel(
            VkOptions.from_settings(settings, **extra.get("vk", {})), memory=core.store.memory("vk")
        )
    if settings.whatsapp_enabled:
        from bots.whatsapp import WhatsAppChannel, WhatsAppOptions

        channels["whatsapp"] = WhatsAppChannel(
            WhatsAppOptions.from_settings(settings, **extra.get("whatsapp", {})), memory=core.store.memory("whatsapp")
        )
    options = delivery_options or DeliveryOptions(give_up_after=settings.delivery_give_up_after)
    delivery = Delivery(core.outbox, channels, staff, core.intake, options)
    routes = [route for channel in channels.values() for route in channel.routes(core.intake)]
    return Runtime(core, channels, staff, delivery, make_app(core.store, routes))


NO_PERSISTENCE = (
    "Redis keeps NOTHING on disk (neither AOF nor RDB snapshots): a Redis restart loses every open case, "
    "customer state and queued message. Turn on AOF (redis-server --appendonly yes; docker-compose.yml does)."
)


async def warn_without_persistence(store) -> bool:
    """Warn loudly (and return True) when Redis would lose everything on a restart; case numbers then restart
    from a clock-based floor (tenths of a second since 2026-01-01) whenever the counter is lost: no repeats."""
    kept = await store.persistence()
    if kept["aof"] is False and not kept["rdb"]:
        log.warning("%s", NO_PERSISTENCE)
        store.use_clock_floor()
        return True
    return False


async def run(settings: Settings) -> None:
    """Run until cancelled or SIGTERM/SIGINT (``docker stop``): then stop cleanly, releasing the leases this
    process holds (the Telegram poller's among them) so another process takes over at once."""
    check(settings)
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform / not the main thread
            loop.add_signal_handler(sig, main.cancel)
    rt = await build(settings)
    try:
        await warn_without_persistence(rt.core.store)
        await rt.preflight()
        await rt.start(settings.http_host, settings.http_port)
        # `supportbot faq reload` and SIGHUP reload the FAQ (bots.reload)
        rt.tasks.append(asyncio.create_task(FaqReloader(rt.core).run(signals=True), name="faq-reload"))
        log.info("web server on %s:%s; channels: %s", settings.http_host, settings.http_port, ", ".join(rt.channels))
        await asyncio.gather(*rt.tasks)
    except asyncio.CancelledError:
        log.info("stopping: finishing what is in hand and letting go of this process's leases")
    finally:
        await rt.stop()
