"""Hub: when the answers cannot be queued, the update is not marked as handled, so a re-delivery runs again."""

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bots.delivery import Delivery
from bots.runner import Hub
from core.desk import SupportDesk
from core.faq import FaqMatcher, load_faq
from core.messages import Inbound, UserRef
from core.store import Store

FAQ = Path(__file__).resolve().parents[1] / "data" / "faq_desk.yaml"


async def test_a_failed_enqueue_lets_the_redelivery_through(store, clock):
    desk = SupportDesk(store, FaqMatcher(load_faq(FAQ)), clock=clock)
    dead = aioredis.from_url("redis://127.0.0.1:1/0", decode_responses=True)  # nothing listens there
    try:
        hub = Hub(desk, Delivery(Store(dead, store.prefix), desk, {}, None))
        event = Inbound(UserRef("vk", "1"), "Как сбросить пароль?", "m-1")
        with pytest.raises(RedisConnectionError):
            await hub.customer(event)
        # the same update again (the platform re-delivers it): handled, not dropped as a duplicate
        assert await desk.handle(event)
    finally:
        await dead.aclose()
