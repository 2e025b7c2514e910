"""Fault tests: real processes (`supportbot run`, a private redis-server), the HTTP stand-ins, real faults.

``redis_server(persist=True)`` starts a private redis-server (free loopback port, AOF in the test's directory
or no persistence); ``spawn_bot(redis, tg, **settings)`` starts `supportbot run` against it and the Telegram
stand-in (polling, unless ``TELEGRAM_WEBHOOK_URL`` is given); ``options=...`` runs it through
``tests.procs`` with shrunk limits (see there). Everything started is killed at the end of the test.
``bot_factory`` (tests/e2e) builds the bot in-process, on a private redis-server as well, for faults whose
duration is shrunk with ``time_scale``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.e2e.conftest import bot_factory  # noqa: F401 - the in-process bot, for faults sped up by time_scale
from tests.fakes.telegram_api import FakeTelegram
from tests.procs import BotProcess, RedisServer, bot_env, free_port

TOKEN = "123456:FAULT-token"
STAFF = -1002000000001
SCALE = 0.05  # Telegram's limit windows, in the stand-in and in the bot started with FAST options
# the bot started through tests.procs: the same limits as the stand-in, and a dead process's leases
# (outbox destinations, the Telegram poller) pass on in seconds instead of minutes
FAST = {
    "delivery": {"time_scale": SCALE, "lease_seconds": 6.0},
    "channels": {"telegram": {"leader_ttl": 3.0, "leader_renew": 0.5, "retry_backoff": 0.2, "poll_timeout": 5}},
}

# Redis away for 10 s: leases longer than that (as in production, where they are 120 s), so that a send in
# flight when Redis went away is still ours when it comes back
SLOW_LEASE = {**FAST, "delivery": {**FAST["delivery"], "lease_seconds": 20.0}}


@pytest.fixture
async def tg():
    fake = FakeTelegram(TOKEN, scale=SCALE, staff_chat=STAFF)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def redis_server(tmp_path):
    servers: list[RedisServer] = []

    def start(persist: bool = True) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}", persist=persist).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def redis_url(redis_server):
    """In-process bots (``bot_factory``) of these tests use a private redis-server too."""
    return redis_server(persist=False).url


@pytest.fixture
async def redis_client():
    clients: list[aioredis.Redis] = []

    def connect(server: RedisServer) -> aioredis.Redis:
        client = aioredis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.aclose()


@pytest.fixture
def spawn_bot(tmp_path):
    bots: list[BotProcess] = []
    numbers = itertools.count(1)

    def spawn(
        redis: RedisServer,
        fake: FakeTelegram,
        *,
        options: dict[str, Any] | None = None,
        port: int | None = None,
        **settings: Any,
    ) -> BotProcess:
        env = bot_env(
            redis.url,
            port or free_port(),
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_STAFF_CHAT_ID=fake.staff_chat,
            TELEGRAM_API_URL=fake.url,
            **settings,
        )
        bot = BotProcess(env, tmp_path / f"bot{next(numbers)}.log", options).start()
        bots.append(bot)
        return bot

    yield spawn
    for bot in bots:
        bot.kill()
