"""bootstrap(): the one place where settings, store, FAQ matcher, desk, outbox and intake are wired together."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bots.delivery import Outbox
from bots.intake import Intake, IntakeOptions
from core.config import Settings
from core.desk import DeskOptions, SupportDesk
from core.desk.directory import CaseDirectory
from core.faq import FaqMatcher, load_faq
from core.store import EMBEDDED_NOTICE, Store, connect_redis


@dataclass
class Core:
    """Everything channel-free, wired: what ``bootstrap`` returns."""

    settings: Settings
    store: Store
    desk: SupportDesk
    outbox: Outbox
    intake: Intake  # the EventSink every adapter hands its events to
    directory: CaseDirectory  # what the staff front end may ask about cases
    embedded: bool

    async def close(self) -> None:
        await self.store.close()


def build_matcher(settings: Settings) -> FaqMatcher:
    """Load and validate the FAQ (a broken file raises FaqError naming file, entry and reason)."""
    entries = load_faq(settings.faq_path)
    return FaqMatcher(
        entries,
        settings.faq_answer_threshold,
        settings.faq_suggest_threshold,
        alternatives_threshold=settings.faq_alternatives_threshold,
    )


async def bootstrap(
    settings: Settings | None = None,
    *,
    matcher: FaqMatcher | None = None,
    notice=sys.stderr,
    clock: Callable[[], float] = time.time,
    intake_options: IntakeOptions = IntakeOptions(),  # noqa: B008 - frozen
    chart: Callable[..., bytes] | None = None,
) -> Core:
    settings = settings or Settings()
    matcher = matcher or build_matcher(settings)
    redis, embedded = await connect_redis(settings.redis_url, settings.redis_sentinels, settings.redis_master_name)
    if embedded and notice is not None:
        print(EMBEDDED_NOTICE, file=notice)
    store = Store(
        redis, settings.redis_prefix, clock=clock, timezone=settings.timezone,
        retention_days=settings.events_retention_days,
    )  # fmt: skip
    if not embedded:
        await redis.ping()  # fail at once, plainly, when REDIS_URL does not answer
    options = DeskOptions(
        default_language=settings.default_language,
        max_chars=settings.max_message_chars,
        staff_language=settings.staff_lang,
        timezone=settings.timezone,
        hours=settings.hours,
        sla_minutes=settings.first_response_sla_minutes,
        onduty=settings.onduty,
        escalation_chat=bool(settings.telegram_escalation_chat_id),
        reopen_days=settings.reopen_days,
        phone_region=settings.phone_region,
        flood_limit=settings.flood_limit,
        managers=settings.managers,
    )
    desk = SupportDesk(store, matcher, options, clock=clock, **({"chart": chart} if chart else {}))
    outbox = Outbox(store)
    directory = CaseDirectory(store, settings.staff_lang, settings.timezone)
    return Core(settings, store, desk, outbox, Intake(store, desk, outbox, intake_options), directory, embedded)
