"""bootstrap(): the one place where settings, store, FAQ matcher and desk are wired together."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from core.config import Settings
from core.desk import SupportDesk
from core.faq import FaqMatcher, load_faq
from core.store import EMBEDDED_NOTICE, Store, connect_redis


@dataclass
class App:
    settings: Settings
    store: Store
    desk: SupportDesk
    embedded: bool

    async def close(self) -> None:
        await self.store.close()


def build_matcher(settings: Settings) -> FaqMatcher:
    """Load and validate the FAQ (a broken file raises FaqError naming file, entry and reason)."""
    entries = load_faq(settings.faq_path)
    return FaqMatcher(entries, settings.faq_answer_threshold, settings.faq_suggest_threshold)


async def bootstrap(settings: Settings | None = None, *, matcher: FaqMatcher | None = None, notice=sys.stderr) -> App:
    settings = settings or Settings()
    matcher = matcher or build_matcher(settings)
    redis, embedded = await connect_redis(settings.redis_url)
    if embedded and notice is not None:
        print(EMBEDDED_NOTICE, file=notice)
    store = Store(redis, settings.redis_prefix)
    if not embedded:
        await redis.ping()  # fail at once, plainly, when REDIS_URL does not answer
    desk = SupportDesk(store, matcher, default_language=settings.default_language, max_chars=settings.max_message_chars)
    return App(settings, store, desk, embedded)
