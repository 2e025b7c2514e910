"""Prometheus metrics of one process, served at ``GET /metrics`` (``bots.web``).

Counted as things happen (this process only; Prometheus adds the processes up):

* ``supportbot_messages_in_total{channel,kind}``: events handled (committed) by the intake; ``channel`` is the
  customer's channel, or ``staff`` for what operators did; ``kind``: message, button, edit, operator_text,
  operator_edit, operator_command, delivery_report. ``supportbot_events_duplicate_total{kind}``: re-deliveries
  skipped.
* ``supportbot_desk_events_total{type}``: every step the desk recorded for the managers' statistics;
  ``supportbot_faq_matches_total{band}`` (answer / suggest / none) and ``supportbot_handoffs_total{channel,reason}``
  are the same steps, by band and by reason.
* ``supportbot_messages_out_total{channel,audience}``: outbox entries delivered (``channel``: the customer's
  channel, or ``staff`` for the staff group); ``supportbot_delivery_failures_total{channel,audience,kind}``
  (kind: transient, permanent, rate_limited), ``supportbot_delivery_retries_total{channel,audience}``,
  ``supportbot_delivery_give_ups_total{channel,audience}``.
* ``supportbot_intake_seconds{kind}``: from taking an event to its commit; ``supportbot_delivery_seconds{channel,
  audience}``: from queueing to the platform's answer.
* ``supportbot_faq_reloads_total{result}``, ``supportbot_faq_entries``.

Read from Redis at scrape time (``collect_from_redis``; the same for every process): ``supportbot_cases_open``,
``supportbot_outbox_entries`` and ``supportbot_outbox_oldest_age_seconds`` (over the first 10 000 destinations,
the earliest due first), ``supportbot_outbox_destinations``, ``supportbot_outbox_destinations_due``,
``supportbot_staff_budget_used{limit}`` / ``supportbot_staff_budget_capacity{limit}`` (sends counted in the
current window of each staff-side rate limit this process has used: the staff group's 20 per minute and the
bot's 30 per second), ``supportbot_redis_up``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

from bots.ports import Limit
from core.events import ButtonPress, CustomerEdit, DeliveryReport, Event, OperatorCommand, OperatorEdit, OperatorText
from core.messages import Audience, Inbound, Outbound

__all__ = ["CONTENT_TYPE_LATEST", "REGISTRY", "collect_from_redis", "render"]

log = logging.getLogger(__name__)

disable_created_metrics()  # no *_created series: they double the output and say nothing here
REGISTRY = CollectorRegistry()  # this process's metrics (not prometheus_client's global one)
ProcessCollector(registry=REGISTRY)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600)
BANDS = {"faq_answered": "answer", "faq_suggested": "suggest", "faq_no_match": "none"}
OUTBOX_SCAN = 10_000  # destinations looked at for the depth and the oldest entry (the earliest due first)

MESSAGES_IN = Counter("supportbot_messages_in", "Events handled by the intake", ["channel", "kind"], registry=REGISTRY)
DUPLICATES = Counter(
    "supportbot_events_duplicate", "Re-delivered events skipped by the intake", ["kind"], registry=REGISTRY
)
DESK_EVENTS = Counter("supportbot_desk_events", "Steps recorded by the desk", ["type"], registry=REGISTRY)
FAQ_MATCHES = Counter("supportbot_faq_matches", "FAQ matcher outcomes", ["band"], registry=REGISTRY)
HANDOFFS = Counter("supportbot_handoffs", "Cases opened (handoffs)", ["channel", "reason"], registry=REGISTRY)
MESSAGES_OUT = Counter(
    "supportbot_messages_out", "Outbox entries delivered", ["channel", "audience"], registry=REGISTRY
)
FAILURES = Counter(
    "supportbot_delivery_failures", "Failed send attempts", ["channel", "audience", "kind"], registry=REGISTRY
)
RETRIES = Counter(
    "supportbot_delivery_retries", "Sends scheduled again after a failure", ["channel", "audience"], registry=REGISTRY
)
GIVE_UPS = Counter(
    "supportbot_delivery_give_ups", "Outbox entries given up on", ["channel", "audience"], registry=REGISTRY
)
INTAKE_SECONDS = Histogram(
    "supportbot_intake_seconds", "From taking an event to its commit", ["kind"], buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)  # fmt: skip
DELIVERY_SECONDS = Histogram(
    "supportbot_delivery_seconds", "From queueing an entry to the platform's answer", ["channel", "audience"],
    buckets=DELIVERY_BUCKETS, registry=REGISTRY,
)  # fmt: skip
FAQ_RELOADS = Counter("supportbot_faq_reloads", "FAQ reloads", ["result"], registry=REGISTRY)
FAQ_ENTRIES = Gauge("supportbot_faq_entries", "Entries of the FAQ in use", registry=REGISTRY)

CASES_OPEN = Gauge("supportbot_cases_open", "Open cases", registry=REGISTRY)
OUTBOX_ENTRIES = Gauge("supportbot_outbox_entries", "Entries waiting in the outbox", registry=REGISTRY)
OUTBOX_DESTINATIONS = Gauge(
    "supportbot_outbox_destinations", "Destinations (chats, case topics) with entries waiting", registry=REGISTRY
)
OUTBOX_DUE = Gauge(
    "supportbot_outbox_destinations_due", "Destinations whose next entry is due and not being sent", registry=REGISTRY
)
OUTBOX_OLDEST = Gauge(
    "supportbot_outbox_oldest_age_seconds", "Age of the oldest entry waiting in the outbox", registry=REGISTRY
)
STAFF_BUDGET_USED = Gauge(
    "supportbot_staff_budget_used", "Sends in the current window of a staff-side limit", ["limit"], registry=REGISTRY
)
STAFF_BUDGET_CAPACITY = Gauge(
    "supportbot_staff_budget_capacity", "Sends allowed per window of a staff-side limit", ["limit"], registry=REGISTRY
)
REDIS_UP = Gauge("supportbot_redis_up", "1 when Redis answered the last scrape", registry=REGISTRY)

_staff_limits: dict[str, Limit] = {}  # staff-side limits this process has sent under (key -> Limit)


# ------------------------------------------------------------------ the intake
def event_kind(event: Event) -> str:
    kinds = {
        Inbound: "message",
        ButtonPress: "button",
        CustomerEdit: "edit",
        OperatorText: "operator_text",
        OperatorEdit: "operator_edit",
        OperatorCommand: "operator_command",
        DeliveryReport: "delivery_report",
    }
    return kinds.get(type(event), type(event).__name__.lower())


def event_channel(event: Event) -> str:
    """The customer's channel of an event, ``staff`` for what operators did."""
    sender = getattr(event, "sender", None)
    if sender is not None:
        return sender.channel
    if isinstance(event, DeliveryReport):
        return out_channel(event.out)
    return "staff"


def recorded(ops: Iterable[list[str]], events_key: str) -> Iterator[dict[str, str]]:
    """The desk's recorded steps (``Unit.record``) among a unit's ops: ``XADD key MINID ~ n * field value...``."""
    for op in ops:
        if len(op) > 6 and op[0] == "XADD" and op[1] == events_key:
            flat = op[6:]
            yield dict(zip(flat[::2], flat[1::2], strict=False))


def event_handled(event: Event, ops: Iterable[list[str]], events_key: str, started: float) -> None:
    """The intake committed ``event`` (with ``ops``), having started on it at ``started`` (perf_counter)."""
    kind = event_kind(event)
    MESSAGES_IN.labels(event_channel(event), kind).inc()
    INTAKE_SECONDS.labels(kind).observe(time.perf_counter() - started)
    for step in recorded(ops, events_key):
        type_ = step.get("type", "")
        DESK_EVENTS.labels(type_).inc()
        if type_ in BANDS:
            FAQ_MATCHES.labels(BANDS[type_]).inc()
        elif type_ == "handoff":
            HANDOFFS.labels(step.get("channel", ""), step.get("reason", "")).inc()


def event_duplicate(event: Event) -> None:
    DUPLICATES.labels(event_kind(event)).inc()


# ------------------------------------------------------------------ delivery
def out_channel(out: Outbound) -> str:
    if out.audience == Audience.CUSTOMER and out.to is not None:
        return out.to.channel
    return "staff"


def _out_labels(out: Outbound | None) -> tuple[str, str]:
    if out is None:
        return "unknown", "unknown"
    return out_channel(out), str(getattr(out.audience, "value", out.audience))


def delivered(out: Outbound, created: float, now: float) -> None:
    """``out``, queued at ``created``, was accepted by the platform at ``now`` (the outbox's clock)."""
    labels = _out_labels(out)
    MESSAGES_OUT.labels(*labels).inc()
    DELIVERY_SECONDS.labels(*labels).observe(max(0.0, now - created))


def delivery_failed(out: Outbound, error: Any) -> None:
    """A send attempt failed with ``error`` (a ``DeliveryError``)."""
    if getattr(error, "permanent", False):
        kind = "permanent"
    elif getattr(error, "retry_after", None) is not None:
        kind = "rate_limited"
    else:
        kind = "transient"
    FAILURES.labels(*_out_labels(out), kind).inc()


def delivery_retry(out: Outbound) -> None:
    RETRIES.labels(*_out_labels(out)).inc()


def delivery_give_up(out: Outbound | None) -> None:
    GIVE_UPS.labels(*_out_labels(out)).inc()


def staff_limits_used(limits: Iterable[Limit]) -> None:
    """The staff-side limits of a send (their fill is read from Redis at scrape time)."""
    for limit in limits:
        _staff_limits.setdefault(limit.key, limit)


# ------------------------------------------------------------------ FAQ
def faq_loaded(entries: int, result: str | None = None) -> None:
    FAQ_ENTRIES.set(entries)
    if result is not None:
        FAQ_RELOADS.labels(result).inc()


def faq_reload_failed() -> None:
    FAQ_RELOADS.labels("error").inc()


# ------------------------------------------------------------------ scrape time
async def collect_from_redis(store: Any, outbox_scan: int = OUTBOX_SCAN) -> None:
    """Set the gauges read from Redis (open cases, the outbox, the staff budget); Redis away: ``redis_up`` 0."""
    k = store.keys
    now = store.clock()
    try:
        async with store.redis.pipeline(transaction=False) as p:
            p.scard(k.cases_open)
            p.zcard(k.outbox_ready)
            p.zcount(k.outbox_ready, "-inf", repr(now))
            p.zrange(k.outbox_ready, 0, outbox_scan - 1)
            limits = list(_staff_limits.values())
            for limit in limits:
                p.zcount(k.outbox_rate(limit.key), repr(now - limit.per), "+inf")
            open_, waiting, due, dests, *used = await p.execute()
        async with store.redis.pipeline(transaction=False) as p:
            for dest in dests:
                p.llen(k.outbox_queue(dest))
                p.lindex(k.outbox_queue(dest), 0)
            rows = await p.execute()
        depth, heads = sum(rows[::2]), [h for h in rows[1::2] if h]
        created: list[float] = []
        if heads:
            async with store.redis.pipeline(transaction=False) as p:
                for head in heads:
                    p.hget(k.outbox_msg(head), "created")
                created = [float(c) for c in await p.execute() if c]
    except Exception as e:  # a scrape must answer: Redis away is itself a figure
        log.warning("metrics: cannot read Redis (%r)", e)
        REDIS_UP.set(0)
        return
    REDIS_UP.set(1)
    CASES_OPEN.set(open_)
    OUTBOX_DESTINATIONS.set(waiting)
    OUTBOX_DUE.set(due)
    OUTBOX_ENTRIES.set(depth)
    OUTBOX_OLDEST.set(max(0.0, now - min(created)) if created else 0.0)
    for limit, count in zip(limits, used, strict=True):
        STAFF_BUDGET_USED.labels(limit.key).set(count)
        STAFF_BUDGET_CAPACITY.labels(limit.key).set(limit.count)


def render() -> bytes:
    """The Prometheus text exposition of this process's registry."""
    return generate_latest(REGISTRY)
