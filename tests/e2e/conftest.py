"""End-to-end fixtures: local stand-ins of the messenger APIs and the whole bot built by ``bots.runner.build``.

``bot_factory(**settings)`` builds and starts the real bot (web server on a free port, delivery worker, every
configured channel's ``run``) against real Redis under the test's prefix; keyword arguments are Settings
aliases (``TELEGRAM_BOT_TOKEN=...``, ``VK_API_URL=...``), plus ``time_scale`` (limit windows and backoffs of
the outbox; use the same factor as the stand-ins) and ``channel_options`` (per channel name, overrides of its
options dataclass, e.g. ``{"vk": {"longpoll_wait": 1}}``). The string ``{base}`` in a setting is replaced by the
bot's own web address, e.g. ``TELEGRAM_WEBHOOK_URL="{base}/webhooks/telegram"``.

``telegram_fake`` is a started ``FakeTelegram``; ``telegram_settings(fake)`` gives the settings pointing
the bot at it; ``tg_bot`` is the bot (polling) with those settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.telegram_api import FakeTelegram, free_port

DATA = Path(__file__).resolve().parents[1] / "data"
TG_TOKEN = "123456:TEST-token"
TG_STAFF = -1001000000001
# Every limit window of the stand-ins and the outbox is multiplied by this in e2e tests (1 s -> 50 ms,
# 20/min -> 20 per 3 s), so tests exercise the limiters without waiting for them.
SCALE = 0.05


@dataclass
class RunningBot:
    settings: Any
    runtime: Any  # bots.runner.Runtime
    base: str  # http://127.0.0.1:port of the bot's web server

    @property
    def core(self):
        return self.runtime.core

    @property
    def store(self):
        return self.runtime.core.store

    @property
    def desk(self):
        return self.runtime.core.desk

    @property
    def intake(self):
        return self.runtime.core.intake

    @property
    def channels(self) -> dict:
        return self.runtime.channels

    @property
    def delivery(self):
        return self.runtime.delivery

    @property
    def telegram(self):
        return self.runtime.channels["telegram"]

    async def stop(self) -> None:
        for task in self.runtime.tasks:
            task.cancel()
        if self.runtime.tasks:
            _, stuck = await asyncio.wait(self.runtime.tasks, timeout=5)
            for task in stuck:  # pragma: no cover - a task that ignores cancellation is a bug worth seeing
                import sys

                task.print_stack(file=sys.stderr)
                raise AssertionError(f"task {task.get_name()} did not stop when cancelled")
        self.runtime.tasks = []
        await self.runtime.stop()


def telegram_settings(fake: FakeTelegram) -> dict[str, Any]:
    return {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_STAFF_CHAT_ID": fake.staff_chat, "TELEGRAM_API_URL": fake.url}


async def open_case(fake: FakeTelegram, user_id: int, name: str = "Anna", text: str = "/operator"):
    """A Telegram customer asks for a person (``text``); the case's topic, once its card is in it."""
    fake.customer_says(user_id, text, name=name)
    topic = await fake.wait_for(lambda: fake.topic_named(name), what=f"the topic of {name}")
    await fake.wait_for(lambda: fake.topic_messages(topic.thread_id), what="the card")
    return topic


def with_text(messages, needle: str):
    return [m for m in messages if needle in (m.text or "")]


@pytest.fixture
async def telegram_fake():
    fake = FakeTelegram(TG_TOKEN, scale=SCALE, staff_chat=TG_STAFF)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def bot_factory(redis_url, prefix, redis):
    """``await bot_factory(**settings_overrides)`` -> a started RunningBot; stopped after the test."""
    from bots.delivery import DeliveryOptions
    from bots.intake import IntakeOptions
    from bots.runner import build
    from core.config import Settings

    started: list[RunningBot] = []

    async def factory(
        *,
        time_scale: float = SCALE,
        run_channels: bool = True,
        run_delivery: bool = True,
        channel_options: dict[str, dict[str, Any]] | None = None,
        delivery_options: dict[str, Any] | None = None,
        intake_options: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> RunningBot:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env: dict[str, Any] = {
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "FAQ_PATH": str(DATA / "faq_desk.yaml"),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": port,
            "DEFAULT_LANGUAGE": "ru",
            "STAFF_LANGUAGE": "en",
        }
        env.update({k: v.replace("{base}", base) if isinstance(v, str) else v for k, v in overrides.items()})
        settings = Settings(**env)
        runtime = await build(
            settings,
            delivery_options=DeliveryOptions(time_scale=time_scale, **(delivery_options or {})),
            channel_options=channel_options,
            intake_options=IntakeOptions(**(intake_options or {})),
        )
        bot = RunningBot(settings, runtime, base)
        started.append(bot)
        await runtime.start("127.0.0.1", port, channels=run_channels, delivery=run_delivery)
        return bot

    yield factory
    for bot in started:
        await bot.stop()


@pytest.fixture
async def tg_bot(telegram_fake, bot_factory):  # the fake is set up first, so stopped last
    return await bot_factory(**telegram_settings(telegram_fake))
