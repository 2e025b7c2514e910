"""The conversation harness (``tests.harness``) as fixtures: real Redis under the test's prefix, the test's clock."""

from __future__ import annotations

import pytest

from tests.harness import Conversation


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
