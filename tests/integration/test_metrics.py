"""GET /metrics: a conversation over the real path (intake, Redis outbox, delivery) shows up in the Prometheus text:
events in, FAQ bands, handoffs, messages out, delivery failures / retries / give-ups, latencies, and the figures
read from Redis at scrape time (open cases, the outbox, the staff group's budget)."""

from __future__ import annotations

from collections import Counter as Tally

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bots.app import bootstrap
from bots.console import MemoryChannel
from bots.delivery import Delivery, DeliveryOptions
from bots.ports import DeliveryError, Limit
from bots.web import make_app
from core.config import Settings
from core.messages import Audience, UserRef
from core.store import Store
from tests.fakes.telegram_api import free_port
from tests.harness import FAQ, OLGA, Conversation

STAFF_LIMIT = Limit("tg:group:-1009", 20, 60.0)
Sample = tuple[str, frozenset]


class Channel(MemoryChannel):
    """The memory channel with the staff group's limit, a customer whose sends fail once (``flaky``) and one
    whose sends always fail (``gone``)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: Tally[str] = Tally()

    async def send(self, out, ctx):
        who = out.to.user_id
        if who == "gone":
            raise DeliveryError("the customer blocked the bot", permanent=True)
        if who == "flaky" and not self.failed[who]:
            self.failed[who] += 1
            raise DeliveryError("502 Bad Gateway")
        return await super().send(out, ctx)

    def staff_limits(self, out):
        return [STAFF_LIMIT]


@pytest.fixture
async def conv(redis_url, prefix, redis):
    settings = Settings(REDIS_URL=redis_url, REDIS_PREFIX=prefix, FAQ_PATH=str(FAQ), DEFAULT_LANGUAGE="ru")
    core = await bootstrap(settings, notice=None)
    channel = Channel()
    await channel.run(core.intake)
    delivery = Delivery(core.outbox, {"console": channel}, channel, core.intake, DeliveryOptions(backoff=0.01))
    conv = Conversation(core, channel, delivery, UserRef("console", "anna"), OLGA, "Anna")
    yield conv
    await conv.close()


async def scrape(app) -> tuple[dict[Sample, float], str]:
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")  # the text exposition format
        text = await resp.text()
    values = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return values, text


def delta(after: dict, before: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_a_conversation_shows_up_in_the_metrics(conv):
    app = make_app(conv.store)
    before, _ = await scrape(app)

    await conv.say("Как сбросить пароль?")  # answered from the FAQ
    await conv.say("Мой холодильник поёт по ночам")  # no match: an operator is offered
    event = conv.inbound("/operator")
    await conv.core.intake(event)  # a handoff: the answer and the case's card wait in the outbox
    await conv.core.intake(event)  # the platform delivers the same update again
    queued, _ = await scrape(app)
    assert queued[("supportbot_outbox_entries", frozenset())] == 3  # the answer, the questions, the card
    assert queued[("supportbot_outbox_destinations", frozenset())] == 2
    assert queued[("supportbot_outbox_oldest_age_seconds", frozenset())] >= 0
    assert queued[("supportbot_cases_open", frozenset())] == 1
    outs = await conv.deliver()
    case_id = conv.staff_msgs(outs)[0].case_id
    await conv.operator("Проверяю", case_id=case_id)
    await conv.say("Как сбросить пароль?", user="flaky")  # fails once, then goes out
    await conv.say("Как сбросить пароль?", user="gone")  # never goes out: given up

    after, text = await scrape(app)
    for name in ("supportbot_messages_in_total", "supportbot_messages_out_total", "supportbot_faq_matches_total",
                 "supportbot_handoffs_total", "supportbot_intake_seconds_bucket", "supportbot_delivery_seconds_bucket",
                 "supportbot_cases_open", "supportbot_outbox_entries", "supportbot_outbox_oldest_age_seconds",
                 "supportbot_staff_budget_used", "supportbot_redis_up"):  # fmt: skip
        assert f"\n{name}" in text, name

    def d(name: str, **labels: str) -> float:
        return delta(after, before, name, **labels)

    assert d("supportbot_messages_in_total", channel="console", kind="message") == 5
    assert d("supportbot_messages_in_total", channel="staff", kind="operator_text") == 1
    assert d("supportbot_events_duplicate_total", kind="message") == 1
    assert d("supportbot_faq_matches_total", band="answer") == 3
    assert d("supportbot_faq_matches_total", band="none") == 1
    (handoff,) = await conv.events("handoff")
    assert d("supportbot_handoffs_total", channel="console", reason=handoff["reason"]) == 1
    assert d("supportbot_desk_events_total", type="handoff") == 1

    sent = conv.channel.sent
    to_customers = sum(o.audience is Audience.CUSTOMER for o in sent)
    to_staff = sum(o.audience is Audience.STAFF for o in sent)
    assert d("supportbot_messages_out_total", channel="console", audience="customer") == to_customers
    assert d("supportbot_messages_out_total", channel="staff", audience="staff") == to_staff
    assert d("supportbot_delivery_seconds_count", channel="console", audience="customer") == to_customers
    assert d("supportbot_delivery_failures_total", channel="console", audience="customer", kind="transient") == 1
    assert d("supportbot_delivery_failures_total", channel="console", audience="customer", kind="permanent") == 1
    assert d("supportbot_delivery_retries_total", channel="console", audience="customer") == 1
    assert d("supportbot_delivery_give_ups_total", channel="console", audience="customer") == 1
    assert d("supportbot_intake_seconds_count", kind="message") == 5

    assert after[("supportbot_cases_open", frozenset())] == 1
    assert after[("supportbot_outbox_entries", frozenset())] == 0
    assert after[("supportbot_redis_up", frozenset())] == 1
    limit = frozenset({"limit": STAFF_LIMIT.key}.items())
    assert after[("supportbot_staff_budget_used", limit)] == to_staff
    assert after[("supportbot_staff_budget_capacity", limit)] == 20


async def test_metrics_answer_while_redis_is_away(prefix):
    store = Store(aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0"), prefix)  # nothing listens there
    try:
        values, text = await scrape(make_app(store))
    finally:
        await store.close()
    assert values[("supportbot_redis_up", frozenset())] == 0
    assert "supportbot_messages_in_total" in text  # this process's own figures are still there
