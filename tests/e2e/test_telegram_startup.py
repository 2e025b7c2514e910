"""Starting up against Telegram, end to end: the token and the staff group are checked first (one clear line),
only one process polls, and an update that fails to be handled is fetched again instead of being lost."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bots.ports import Unavailable
from bots.runner import ConfigError, run
from core.config import Settings
from tests.e2e.conftest import DATA, telegram_settings
from tests.fakes.telegram_api import free_port

ANNA = 7401


def settings_for(fake, redis_url, prefix, **overrides) -> Settings:
    env = {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "FAQ_PATH": str(DATA / "faq_desk.yaml"),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": free_port(),
        **telegram_settings(fake),
        **overrides,
    }
    return Settings(**env)


async def test_run_refuses_a_token_telegram_does_not_accept(telegram_fake, redis_url, prefix, redis):
    settings = settings_for(telegram_fake, redis_url, prefix, TELEGRAM_BOT_TOKEN="999:not-the-token")
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN was refused by Telegram"):
        await asyncio.wait_for(run(settings), 10)


async def test_run_refuses_a_staff_chat_the_bot_cannot_see(telegram_fake, redis_url, prefix, redis):
    telegram_fake.staff_exists = False
    with pytest.raises(ConfigError, match=r"TELEGRAM_STAFF_CHAT_ID=-100\d+: the bot cannot see this chat"):
        await asyncio.wait_for(run(settings_for(telegram_fake, redis_url, prefix)), 10)


@pytest.mark.parametrize(
    ("switch", "value", "needle"),
    [
        ("bot_status", "member", "is not an administrator"),
        ("can_manage_topics", False, "may not manage topics"),
        ("staff_type", "group", "not a supergroup"),
    ],
)
async def test_preflight_names_what_is_wrong_with_the_staff_group(telegram_fake, bot_factory, switch, value, needle):
    bot = await bot_factory(**telegram_settings(telegram_fake), run_channels=False, run_delivery=False)
    await bot.telegram.preflight()  # all is well
    setattr(telegram_fake, switch, value)
    with pytest.raises(ConfigError, match=needle):
        await bot.telegram.preflight()


async def test_preflight_gives_up_with_a_clear_error_when_telegram_cannot_be_reached(bot_factory):
    bot = await bot_factory(
        TELEGRAM_BOT_TOKEN="123:x",
        TELEGRAM_STAFF_CHAT_ID=-100123,
        TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}",
        run_channels=False,
        run_delivery=False,
        channel_options={"telegram": {"preflight_backoff": 0.01}},
    )
    with pytest.raises(Unavailable, match="cannot reach the Telegram Bot API"):  # not a config error: exit 1
        await bot.telegram.preflight()


async def test_only_one_process_polls_and_a_standby_takes_over(telegram_fake, bot_factory):
    fake = telegram_fake
    first = await bot_factory(**telegram_settings(fake))
    second = await bot_factory(
        **telegram_settings(fake), run_channels=False, channel_options={"telegram": {"leader_renew": 0.05}}
    )
    await fake.wait_for(lambda: first.telegram.polling)
    second.runtime.tasks.append(asyncio.create_task(second.telegram.run(second.intake), name="telegram-2"))
    await fake.wait_for(lambda: second.telegram.standing_by, what="the second process to find the lease taken")
    assert not second.telegram.polling
    fake.customer_says(ANNA, "Как сбросить пароль?")
    await fake.wait_for(lambda: fake.sent_to(ANNA))
    # the leader stops: the standby polls from where it left off
    task = next(t for t in first.runtime.tasks if t.get_name() == "telegram")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await fake.wait_for(lambda: second.telegram.polling, what="the standby to take over")
    fake.customer_says(ANNA, "Сколько стоит доставка?")
    await fake.wait_for(lambda: len(fake.sent_to(ANNA)) >= 2)
    await first.delivery.drain(5)
    assert len(fake.sent_to(ANNA)) == 2


@pytest.fixture
async def limited_redis_user(redis_url, redis):
    """A Redis user for the bot whose rights the test can take away and give back (ACL), i.e. a store that
    fails for a while, as when Redis is unreachable."""
    name = f"sb-test-{uuid.uuid4().hex[:8]}"
    await redis.execute_command("ACL", "SETUSER", name, "on", ">pw", "~*", "&*", "+@all")
    host = redis_url.split("://", 1)[1]
    yield name, f"redis://{name}:pw@{host}"
    await redis.execute_command("ACL", "DELUSER", name)


async def test_an_update_that_fails_is_polled_again_not_lost(telegram_fake, bot_factory, redis, limited_redis_user):
    fake = telegram_fake
    user, url = limited_redis_user
    bot = await bot_factory(
        **telegram_settings(fake),
        REDIS_URL=url,
        run_delivery=False,
        channel_options={"telegram": {"retry_backoff": 0.05}},
        intake_options={"backoff": 0.01},  # a round of Redis failures: 0.3 s instead of 3 s
    )
    await fake.wait_for(lambda: bot.telegram.polling)
    await redis.execute_command("ACL", "SETUSER", user, "-@all")  # the bot's store now fails every command
    update = fake.customer_says(ANNA, "Как сбросить пароль?")

    offsets = lambda: [int(p.get("offset") or 0) for m, p in fake.calls if m == "getUpdates"]  # noqa: E731
    # (each round rides out the intake's retries, 0.3 s here, before the update counts as failed)
    await fake.wait_for(lambda: offsets().count(update["update_id"]) >= 3, timeout=30, what="the update fetched again")
    rounds = offsets().count(update["update_id"])
    await fake.wait_for(lambda: offsets().count(update["update_id"]) > rounds, timeout=15, what="one more round")
    assert max(offsets()) <= update["update_id"], "the offset moved past an update that was not handled"
    await redis.execute_command("ACL", "SETUSER", user, "+@all")
    assert await bot.delivery.drain(10)
    await fake.wait_for(lambda: max(offsets()) > update["update_id"], what="the update confirmed")
    assert await bot.delivery.drain(10)
    assert len(fake.sent_to(ANNA)) == 1 and "Забыли пароль" in fake.sent_to(ANNA)[0].text
