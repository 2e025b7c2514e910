"""The conversation harness (``tests.harness``) as fixtures: real Redis under the test's prefix, the test's clock."""

from __future__ import annotations

import pytest

from bots.app import bootstrap
from core.config import Settings
from tests.harness import Conversation
from tests.integration.recorder import FAQ, Recorder, make


@pytest.fixture
async def conversation(redis_url, prefix, clock, redis):
    """``await conversation(**options)`` -> a started ``Conversation`` (another "process" on each call, all on
    the test's prefix); ``redis_url=None`` for the embedded store. Closed after the test."""
    started: list[Conversation] = []

    async def factory(**options) -> Conversation:
        options.setdefault("redis_url", redis_url)
        conv = await Conversation.start(prefix=prefix, clock=options.pop("clock", clock), **options)
        started.append(conv)
        return conv

    yield factory
    for conv in started:
        await conv.close()


@pytest.fixture
async def conv(conversation):
    return await conversation()


@pytest.fixture
async def core(redis_url, prefix, redis):
    """The real core (desk, intake, outbox) on the test's prefix, with the real clock: limits and backoffs
    are measured in real time here."""
    settings = Settings(
        REDIS_URL=redis_url, REDIS_PREFIX=prefix, FAQ_PATH=str(FAQ), DEFAULT_LANGUAGE="ru", STAFF_LANGUAGE="en"
    )
    core = await bootstrap(settings, notice=None)
    yield core
    await core.close()


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def delivery(core, rec):
    return make(core, rec, backoff=0.2)
