"""Shared fixtures. Integration and e2e tests talk to a real Redis server.

REDIS_TEST_URL selects it (default redis://127.0.0.1:6379/15). When nothing answers there and
`redis-server` is installed, a throw-away server is started on a free port for the session.
Every test gets its own key prefix, deleted afterwards, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from core.config import DEFAULT_FAQ_PATH
from core.faq import FaqMatcher, load_faq
from core.store import Store
from tests.fakes.server import free_port

TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(TESTS).parts
        if parts and parts[0] in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))


def _answers(url: str) -> bool:
    try:
        return bool(sync_redis.from_url(url, socket_connect_timeout=1).ping())
    except sync_redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
    if _answers(url):
        yield url
        return
    server = shutil.which("redis-server")
    if not server:
        pytest.fail(f"No Redis answers at {url} and redis-server is not installed: start one or set REDIS_TEST_URL")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _answers(url):
            break
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def prefix():
    return f"test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis(redis_url, prefix):
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [k async for k in client.scan_iter(match=prefix + "*", count=500)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_767_225_600.0):  # 2026-01-01 00:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def store(redis, prefix, clock):
    return Store(redis, prefix, clock=clock)


@pytest.fixture(scope="session")
def shipped_faq():
    return load_faq(DEFAULT_FAQ_PATH)


@pytest.fixture(scope="session")
def matcher(shipped_faq):
    return FaqMatcher(shipped_faq)
