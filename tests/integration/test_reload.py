"""FAQ reload without a restart: `supportbot faq reload` (through Redis) and SIGHUP make a running bot answer from
the edited FAQ; a broken file keeps the FAQ in use; no event is lost while the matcher is swapped."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from bots.metrics import REGISTRY
from bots.reload import FaqReloader, request_reload
from bots.runner import Runtime, run
from bots.web import make_app
from core.config import Settings
from core.store import Store
from core.store.keys import Keys
from tests.fakes.telegram_api import FakeTelegram, free_port
from tests.harness import FAQ

REPO = Path(__file__).resolve().parents[2]
NEW_ENTRY = """
- id: crm_integration
  questions:
    - Как подключить CRM к вашему сервису?
    - Интеграция с CRM
    - How do I connect my CRM?
  answer:
    ru: Подключите CRM в разделе «Настройки → Интеграции».
    en: Connect your CRM under Settings -> Integrations.
"""
CRM_QUESTION = "Как подключить CRM к вашему сервису?"
CRM_ANSWER = "Подключите CRM в разделе «Настройки → Интеграции»."
PASSWORD_ANSWER = "Забыли пароль"


class Bot:
    """A started Runtime around the conversation harness, with the FAQ reloader ``supportbot run`` adds."""

    def __init__(self, conv, runtime: Runtime, reloader: FaqReloader, faq: Path):
        self.conv, self.runtime, self.reloader, self.faq = conv, runtime, reloader, faq

    async def answers(self, text: str, user: str) -> list[str]:
        return self.conv.customer_texts(await self.conv.say(text, user=user))


@pytest.fixture
async def bot(conversation, tmp_path):
    faq = tmp_path / "faq.yaml"
    faq.write_text(FAQ.read_text(encoding="utf-8"), encoding="utf-8")
    conv = await conversation(FAQ_PATH=str(faq))
    runtime = Runtime(conv.core, {"console": conv.channel}, conv.channel, conv.delivery, make_app(conv.core.store))
    await runtime.start("127.0.0.1", free_port(), delivery=False)  # the test delivers (conv.deliver: a barrier)
    reloader = FaqReloader(runtime.core)
    # as bots.runner.run does
    runtime.tasks.append(asyncio.create_task(reloader.run(signals=True), name="faq-reload"))
    await asyncio.wait_for(reloader.listening.wait(), 10)
    yield Bot(conv, runtime, reloader, faq)
    for task in runtime.tasks:
        task.cancel()
    await asyncio.gather(*runtime.tasks, return_exceptions=True)
    await runtime.runner.cleanup()


async def test_a_reload_request_makes_the_running_bot_answer_from_the_new_faq(bot):
    assert not any(CRM_ANSWER in t for t in await bot.answers(CRM_QUESTION, "before"))
    bot.faq.write_text(bot.faq.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")

    assert await request_reload(bot.conv.store) == 1  # one running process listens
    await bot.reloader.wait_attempts(1)

    assert CRM_ANSWER in (await bot.answers(CRM_QUESTION, "after"))[0]
    assert PASSWORD_ANSWER in (await bot.answers("Как сбросить пароль?", "after-2"))[0]
    assert "crm_integration" in bot.conv.core.desk.entries


async def test_a_broken_faq_keeps_the_one_in_use(bot, caplog):
    desk = bot.conv.core.desk
    matcher, entries = desk.matcher, desk.entries
    bot.faq.write_text("- id: broken\n  questions: [only]\n  answer: ''\n", encoding="utf-8")

    with caplog.at_level(logging.ERROR, logger="bots.reload"):
        await request_reload(bot.conv.store)
        await bot.reloader.wait_attempts(1)

    assert desk.matcher is matcher and desk.entries is entries
    assert "FAQ reload" in caplog.text and "faq.yaml" in caplog.text and "broken" in caplog.text
    assert PASSWORD_ANSWER in (await bot.answers("Как сбросить пароль?", "after"))[0]


async def test_sighup_reloads_the_faq(bot):
    bot.faq.write_text(bot.faq.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
    os.kill(os.getpid(), signal.SIGHUP)
    await bot.reloader.wait_attempts(1)
    assert CRM_ANSWER in (await bot.answers(CRM_QUESTION, "after"))[0]


async def test_no_event_is_lost_while_the_faq_is_swapped(bot):
    conv = bot.conv
    bot.faq.write_text(bot.faq.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
    bot.reloader.request()
    users: list[str] = []

    async def burst(n: int) -> None:
        batch = [f"c{len(users) + i}" for i in range(n)]
        users.extend(batch)
        await asyncio.gather(*(conv.core.intake(conv.inbound("Как сбросить пароль?", user=u)) for u in batch))

    async with asyncio.timeout(30):
        while bot.reloader.attempts < 1:  # events keep coming while the new FAQ is loaded and swapped in
            await burst(5)
    await burst(5)
    before_swap = len(users) - 5
    assert before_swap >= 5
    outs = await conv.deliver()
    for user in users:
        texts = conv.customer_texts(conv.customer_msgs(outs, conv.who(user)))
        assert len(texts) == 1 and PASSWORD_ANSWER in texts[0], (user, texts)


async def test_the_faq_reload_command_validates_then_asks_the_running_bot(bot, redis_url, prefix):
    async def supportbot(*args: str) -> tuple[int, str, str]:
        env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "FAQ_PATH": str(bot.faq)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots", *args, cwd=bot.faq.parent, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode(), err.decode()

    good = bot.faq.read_text(encoding="utf-8")
    bot.faq.write_text("- id: broken\n  questions: [only]\n  answer: ''\n", encoding="utf-8")
    code, _, err = await supportbot("faq", "reload")
    assert code == 1 and "FAQ error" in err and "faq.yaml" in err
    assert await bot.conv.store.redis.get(bot.conv.store.keys.faq_reload) is None  # the bot was not asked

    bot.faq.write_text(good + NEW_ENTRY, encoding="utf-8")
    code, out, err = await supportbot("faq", "reload")
    assert code == 0, err
    assert "Asked 1 running process(es)" in out
    await bot.reloader.wait_attempts(1)
    assert CRM_ANSWER in (await bot.answers(CRM_QUESTION, "after"))[0]


async def test_supportbot_run_reloads_on_request(redis_url, prefix, redis, tmp_path):
    """The whole `supportbot run` (``bots.runner.run``) against the Telegram stand-in: it listens for reload
    requests from the start, and answers from the new FAQ once the reload is done."""
    faq = tmp_path / "faq.yaml"
    faq.write_text(FAQ.read_text(encoding="utf-8"), encoding="utf-8")
    fake = await FakeTelegram(scale=0.05).start()
    settings = Settings(
        REDIS_URL=redis_url, REDIS_PREFIX=prefix, FAQ_PATH=str(faq), HTTP_HOST="127.0.0.1", HTTP_PORT=free_port(),
        TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_STAFF_CHAT_ID=fake.staff_chat, TELEGRAM_API_URL=fake.url,
    )  # fmt: skip
    bot = asyncio.create_task(run(settings))
    channel = Keys(prefix).faq_reload
    try:
        await fake.wait_for(lambda: bot.done() or fake.calls, what="the bot to start")
        for _ in range(500):  # until its reloader listens (at most 10 s)
            if dict(await redis.pubsub_numsub(channel)).get(channel) or bot.done():
                break
            await asyncio.sleep(0.02)
        assert not bot.done(), bot
        faq.write_text(FAQ.read_text(encoding="utf-8") + NEW_ENTRY, encoding="utf-8")
        reloaded = REGISTRY.get_sample_value("supportbot_faq_reloads_total", {"result": "ok"}) or 0
        assert await request_reload(Store(redis, prefix)) == 1
        await fake.wait_for(
            lambda: (REGISTRY.get_sample_value("supportbot_faq_reloads_total", {"result": "ok"}) or 0) > reloaded,
            what="the reload done",
        )
        fake.customer_says(7001, CRM_QUESTION)
        await fake.wait_for(lambda: any(CRM_ANSWER in (m.text or "") for m in fake.sent_to(7001)), what="the answer")
    finally:
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)
        await fake.close()
