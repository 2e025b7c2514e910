"""Figures for managers, computed from the event log the desk writes (see ``Store.record``).

Deflection (questions the FAQ settled without a person), handoffs by reason and channel, first-response and
resolution times, ratings, and FAQ gaps (what customers asked that the FAQ did not cover, and the answers that
did not help).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from core.faq import normalize
from core.store import Store


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Report:
    since: float | None
    customers: int = 0  # customers who wrote anything
    faq_answered: int = 0  # direct answers and chosen suggestions
    faq_suggested: int = 0
    faq_no_match: int = 0
    faq_not_helped: int = 0
    deflected_customers: int = 0  # got an FAQ answer and no handoff
    deflection_rate: float | None = None
    handoffs: int = 0
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)
    handoffs_by_channel: dict[str, int] = field(default_factory=dict)
    first_response_median_s: float | None = None
    first_response_p90_s: float | None = None
    resolution_median_s: float | None = None
    resolution_p90_s: float | None = None
    resolved: int = 0
    open_cases: int = 0
    ratings: int = 0
    rating_average: float | None = None
    rating_distribution: dict[str, int] = field(default_factory=dict)
    rating_by_operator: dict[str, float] = field(default_factory=dict)  # who resolved -> their average rating
    faq_gaps: list[tuple[str, int]] = field(default_factory=list)  # unmatched questions, most frequent first
    not_helped_entries: list[tuple[str, int]] = field(default_factory=list)
    delivery_failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def compute(store: Store, since: float | None = None, gaps: int = 10) -> Report:
    report = Report(since=since)
    customers: set[str] = set()
    answered: set[str] = set()
    handed_off: set[str] = set()
    first_response: list[float] = []
    resolution: list[float] = []
    stars: list[int] = []
    by_operator: dict[str, list[int]] = {}
    reasons: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    unmatched: Counter[str] = Counter()
    not_helped: Counter[str] = Counter()
    for e in await store.events():
        if since is not None and float(e["ts"]) < since:
            continue
        kind, who = e["type"], e.get("customer")
        if kind in ("message", "command", "conversation_started") and who:
            customers.add(who)
        elif kind in ("faq_answered", "faq_chosen"):
            report.faq_answered += 1
            answered.add(who or "")
        elif kind == "faq_suggested":
            report.faq_suggested += 1
        elif kind == "faq_no_match":
            report.faq_no_match += 1
            if e.get("text"):
                unmatched[normalize(e["text"])[:120]] += 1
        elif kind == "faq_not_helped":
            report.faq_not_helped += 1
            not_helped[e.get("entry", "?")] += 1
        elif kind == "handoff":
            report.handoffs += 1
            handed_off.add(who or "")
            customers.add(who or "")
            reasons[e.get("reason", "?")] += 1
            channels[e.get("channel", "?")] += 1
        elif kind == "first_response":
            first_response.append(float(e["seconds"]))
        elif kind == "resolved":
            resolution.append(float(e["seconds"]))
        elif kind == "rated":
            stars.append(int(e["stars"]))
            if e.get("operator"):
                by_operator.setdefault(e["operator"], []).append(int(e["stars"]))
        elif kind == "delivery_failed":
            report.delivery_failures += 1
    customers |= answered
    report.customers = len(customers)
    report.deflected_customers = len(answered - handed_off)
    if customers:
        report.deflection_rate = round(report.deflected_customers / len(customers), 3)
    report.handoffs_by_reason = dict(reasons.most_common())
    report.handoffs_by_channel = dict(channels.most_common())
    report.first_response_median_s = statistics.median(first_response) if first_response else None
    report.first_response_p90_s = _pct(first_response, 0.9)
    report.resolution_median_s = statistics.median(resolution) if resolution else None
    report.resolution_p90_s = _pct(resolution, 0.9)
    report.resolved = len(resolution)
    report.open_cases = len(await store.open_case_ids())
    report.ratings = len(stars)
    report.rating_average = round(statistics.mean(stars), 2) if stars else None
    report.rating_distribution = {str(n): stars.count(n) for n in range(1, 6)}
    report.rating_by_operator = {name: round(statistics.mean(v), 2) for name, v in sorted(by_operator.items())}
    report.faq_gaps = unmatched.most_common(gaps)
    report.not_helped_entries = not_helped.most_common(gaps)
    return report


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_report(r: Report) -> str:
    rate = f"{r.deflection_rate:.0%}" if r.deflection_rate is not None else "—"
    lines = [
        f"Customers: {r.customers}   settled by the FAQ alone: {r.deflected_customers} ({rate})",
        f"FAQ: {r.faq_answered} answers, {r.faq_suggested} 'did you mean', {r.faq_no_match} no match, "
        f"{r.faq_not_helped} 'did not help'",
        f"Handoffs: {r.handoffs}  by reason: {_kv(r.handoffs_by_reason)}  by channel: {_kv(r.handoffs_by_channel)}",
        f"First response: median {_dur(r.first_response_median_s)}, 90% within {_dur(r.first_response_p90_s)}",
        f"Resolution: {r.resolved} resolved, median {_dur(r.resolution_median_s)}, "
        f"90% within {_dur(r.resolution_p90_s)}; open now: {r.open_cases}",
        f"Ratings: {r.ratings}, average {r.rating_average if r.rating_average is not None else '—'}  "
        + " ".join(f"{k}★:{v}" for k, v in r.rating_distribution.items()),
    ]
    if r.rating_by_operator:
        lines.append("Average rating by the operator who resolved: " + _kv(r.rating_by_operator))
    if r.delivery_failures:
        lines.append(f"Undelivered messages: {r.delivery_failures}")
    if r.faq_gaps:
        lines.append("FAQ gaps (questions with no match):")
        lines += [f"  {n:>4}  {text}" for text, n in r.faq_gaps]
    if r.not_helped_entries:
        lines.append("Answers that did not help:")
        lines += [f"  {n:>4}  {entry}" for entry, n in r.not_helped_entries]
    return "\n".join(lines)


def _kv(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "—"
