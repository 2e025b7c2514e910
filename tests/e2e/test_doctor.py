"""`supportbot doctor` against the Telegram stand-in and real Redis: a good configuration passes (status 0); each
problem is printed with how to fix it (status 1): a malformed or refused token, a Redis that keeps nothing on
disk, a staff group the bot may not use, a webhook that is not where it should be, a broken FAQ."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import time

import pytest
import redis as sync_redis

from bots.doctor import diagnose, report
from bots.logs import Redactor, secrets_of
from core.config import Settings
from core.faq import load_faq
from tests.e2e.conftest import DATA, TG_STAFF
from tests.fakes.telegram_api import FakeTelegram, free_port

GOOD_TOKEN = "7012345678:AAH" + "k" * 32  # digits, a colon, 35 characters: the form BotFather gives
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "VK_", "WHATSAPP_", "REDIS_"))}


@pytest.fixture
async def fake():
    server = FakeTelegram(GOOD_TOKEN, staff_chat=TG_STAFF)
    await server.start()
    yield server
    await server.close()


@pytest.fixture(scope="module")
def persistent_redis_url(tmp_path_factory):
    """A Redis server of its own that keeps its data on disk (AOF), as docker-compose.yml runs it."""
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server is not installed: cannot start a Redis with AOF for the good-configuration test")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis-aof")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = sync_redis.from_url(url, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + 10
        while not answers(client):  # until it answers
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Redis with AOF did not start")
            time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def answers(client: sync_redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except sync_redis.ConnectionError:
        return False


def env_for(fake: FakeTelegram, redis_url: str, prefix: str, **overrides: str) -> dict[str, str]:
    env = {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_STAFF_CHAT_ID": str(fake.staff_chat),
        "TELEGRAM_API_URL": fake.url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "FAQ_PATH": str(DATA / "faq_desk.yaml"),
    }
    env.update(overrides)
    return env


async def doctor(env: dict[str, str]) -> tuple[int, str]:
    settings = Settings(**env)
    out = io.StringIO()
    status = report(await diagnose(settings), out, Redactor(secrets_of(settings)))
    return status, out.getvalue()


async def test_a_good_configuration_passes(fake, persistent_redis_url, prefix, tmp_path):
    # the command itself, as an operator runs it (in another process: the stand-in answers meanwhile)
    env = {**CLEAN_ENV, **env_for(fake, persistent_redis_url, prefix)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "doctor", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()
    assert "PROBLEM" not in text and "No problems found." in text
    for line in (
        "TELEGRAM_BOT_TOKEN has the form of a bot token",
        "Redis keeps its data on disk (AOF)",
        f"Telegram accepts the token and the staff group {TG_STAFF} is a supergroup",
        "no Telegram webhook registered (polling)",
        f"the FAQ at {DATA / 'faq_desk.yaml'} loads: {len(load_faq(DATA / 'faq_desk.yaml'))} entries",
    ):
        assert line in text, line
    assert GOOD_TOKEN not in text + err.decode()


async def test_a_wrong_token_is_reported_with_the_fix(fake, persistent_redis_url, prefix):
    status, text = await doctor(env_for(fake, persistent_redis_url, prefix, TELEGRAM_BOT_TOKEN="123:not-the-token"))
    assert status == 1
    assert "PROBLEM  TELEGRAM_BOT_TOKEN does not look like a bot token" in text
    assert "fix: copy the token again from @BotFather" in text
    assert "TELEGRAM_BOT_TOKEN was refused by Telegram" in text  # and Telegram says so too
    assert "not-the-token" not in text  # never printed
    assert "problem(s): fix them and run `supportbot doctor` again." in text


async def test_a_redis_that_keeps_nothing_on_disk_is_reported(fake, redis_url, prefix, redis):
    persistence = await redis.config_get("appendonly")
    if persistence.get("appendonly") == "yes" or (await redis.config_get("save")).get("save"):
        pytest.skip("the test Redis keeps its data on disk")
    status, text = await doctor(env_for(fake, redis_url, prefix))
    assert status == 1
    assert "PROBLEM  Redis keeps NOTHING on disk" in text
    assert "fix: turn on AOF: redis-server --appendonly yes" in text


async def test_an_unreachable_redis_is_reported(fake, prefix):
    status, text = await doctor(env_for(fake, f"redis://:hunter22@127.0.0.1:{free_port()}/0", prefix))
    assert status == 1
    assert "PROBLEM  cannot reach Redis at redis://:***@127.0.0.1" in text and "hunter22" not in text
    assert "fix: start Redis" in text


async def test_a_broken_faq_is_reported(fake, persistent_redis_url, prefix, tmp_path):
    bad = tmp_path / "faq.yaml"
    bad.write_text("- id: a\n  questions: [x]\n  answer: ''\n", encoding="utf-8")
    status, text = await doctor(env_for(fake, persistent_redis_url, prefix, FAQ_PATH=str(bad)))
    assert status == 1
    assert f"PROBLEM  the FAQ at {bad} is broken" in text and "empty" in text.lower()
    assert "supportbot faq check" in text


@pytest.mark.parametrize(
    ("switch", "value", "needle"),
    [
        ("can_manage_topics", False, "may not manage topics"),
        ("bot_status", "member", "is not an administrator"),
        ("staff_type", "group", "not a supergroup"),
        ("staff_exists", False, "the bot cannot see this chat"),
    ],
)
async def test_a_staff_group_the_bot_cannot_use_is_reported(fake, persistent_redis_url, prefix, switch, value, needle):
    setattr(fake, switch, value)
    status, text = await doctor(env_for(fake, persistent_redis_url, prefix))
    assert status == 1
    assert needle in text and "fix: see README.md, Channels › Telegram › Setup" in text


async def test_a_staff_chat_id_that_is_not_a_supergroup_id_is_reported(fake, persistent_redis_url, prefix):
    status, text = await doctor(env_for(fake, persistent_redis_url, prefix, TELEGRAM_STAFF_CHAT_ID="-4001234"))
    assert status == 1
    assert "TELEGRAM_STAFF_CHAT_ID=-4001234 is not a supergroup's id" in text


async def test_the_webhook_must_be_where_the_configuration_says(fake, persistent_redis_url, prefix):
    hook = "https://bot.example.com/webhooks/telegram"
    webhook_env = env_for(fake, persistent_redis_url, prefix, TELEGRAM_WEBHOOK_URL=hook,
                          TELEGRAM_WEBHOOK_SECRET="s3cret-hook")  # fmt: skip
    status, text = await doctor(webhook_env)
    assert status == 1
    assert f"Telegram sends updates to no webhook (it waits for polling), not to TELEGRAM_WEBHOOK_URL={hook}" in text
    assert "fix: start `supportbot run` with this configuration" in text

    fake.webhook = {"url": hook, "secret_token": "s3cret-hook"}  # as `supportbot run` registers it
    status, text = await doctor(webhook_env)
    assert status == 0, text
    assert f"ok       Telegram webhook: {hook}" in text

    # polling, but a webhook is still registered (another deployment, or run never started with polling)
    status, text = await doctor(env_for(fake, persistent_redis_url, prefix))
    assert status == 1
    assert f"a webhook is registered ({hook}) but TELEGRAM_WEBHOOK_URL is not set" in text


async def test_half_configured_channels_and_malformed_tokens_are_reported(fake, persistent_redis_url, prefix):
    env = env_for(fake, persistent_redis_url, prefix, VK_GROUP_TOKEN="short", WHATSAPP_PHONE_NUMBER_ID="+7 916")
    status, text = await doctor(env)
    assert status == 1
    assert "VK is half configured: VK_GROUP_ID is not set" in text
    assert "VK_GROUP_TOKEN does not look like a community token" in text
    assert "WhatsApp is half configured: WHATSAPP_TOKEN is not set" in text
    assert "WHATSAPP_PHONE_NUMBER_ID=+7 916 is not a Phone number ID" in text
