"""Managers' figures for a period, read from the per-day and per-month hashes ``core.stats.tally`` keeps.

A period is read as its whole months (one hash each) plus the days around them, every scope in one pipeline:
a year costs about 12 + 60 hash reads whatever the traffic, and memory stays flat. ``read_figures`` returns
``Figures``: the totals overall, per channel and per operator, the FAQ entries, comments, the backlog now, and
(for the chart) the figures of each day.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from core.stats import sketch
from core.stats.chart import DayPoint
from core.stats.period import Period

if TYPE_CHECKING:
    from core.stats.gaps import GapQuestion
    from core.store import Store

SCOPES = ("all", "ch", "op", "faq")
COMMENTS_SHOWN = 10
GAPS_READ = 10_000  # FAQ gaps are grouped from at most this many of the period's latest questions
TOP_ENTRIES = 10


@dataclass(frozen=True, slots=True)
class Times:
    """A duration's median and 90th percentile, in seconds (None: nothing measured), within ``sketch.ACCURACY``."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, buckets: dict[int, int]) -> Times:
        total = sum(buckets.values())
        return cls(total, sketch.quantile(buckets, 0.5), sketch.quantile(buckets, 0.9)) if total else cls()


@dataclass(frozen=True, slots=True)
class Totals:
    """Every figure of one scope (everything, a channel or an operator) over the period."""

    conversations: int = 0
    deflected: int = 0  # conversations settled by the FAQ without a handoff
    deflection_rate: float | None = None
    answers: int = 0  # FAQ answers shown
    suggestions: int = 0  # "did you mean" menus offered
    suggestions_taken: int = 0
    not_helped: int = 0
    no_match: int = 0
    handoffs: int = 0  # = cases opened
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)
    reopened: int = 0
    resolved: int = 0
    cancelled: int = 0
    first_responses: int = 0  # per operator: the cases they took (answered first)
    replies: int = 0
    first_response: Times = Times()
    first_response_work: Times = Times()  # in working hours (WORKING_HOURS)
    resolution: Times = Times()
    resolution_work: Times = Times()
    sla_breaches: int = 0  # first responses later than FIRST_RESPONSE_SLA_MINUTES of working time
    sla_reminders: int = 0
    ratings: int = 0
    rating_average: float | None = None
    rating_distribution: dict[str, int] = field(default_factory=dict)
    comments: int = 0
    callbacks: int = 0
    faq_sent: int = 0  # FAQ answers operators sent with /faq
    undelivered: int = 0

    @classmethod
    def of(cls, raw: Counter[str]) -> Totals:
        plain = {k: v for k, v in raw.items() if "~" not in k and ":" not in k}
        sketches: dict[str, dict[int, int]] = {}
        for k, v in raw.items():
            name, tilde, b = k.partition("~")
            if tilde and b.lstrip("-").isdigit():
                sketches.setdefault(name, {})[int(b)] = sketches.get(name, {}).get(int(b), 0) + v
        stars = {str(n): raw.get(f"stars:{n}", 0) for n in range(1, 6)}
        reasons = {k.partition(":")[2]: v for k, v in raw.items() if k.startswith("handoff:") and v}
        conversations, deflected, ratings = (
            plain.get("conversations", 0),
            plain.get("deflected", 0),
            plain.get("ratings", 0),
        )
        return cls(
            **{k: v for k, v in plain.items() if k in _COUNTERS},
            deflection_rate=round(deflected / conversations, 3) if conversations else None,
            handoffs_by_reason=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            first_response=Times.of(sketches.get("frt", {})),
            first_response_work=Times.of(sketches.get("frt_work", {})),
            resolution=Times.of(sketches.get("resolution", {})),
            resolution_work=Times.of(sketches.get("resolution_work", {})),
            rating_average=round(plain.get("stars_sum", 0) / ratings, 2) if ratings else None,
            rating_distribution=stars,
        )


_COUNTERS = frozenset(f for f in Totals.__dataclass_fields__ if isinstance(getattr(Totals(), f), int))


@dataclass(frozen=True, slots=True)
class Backlog:
    """The cases open now (whatever the period)."""

    open: int = 0
    waiting: int = 0  # no operator reply yet
    oldest_open_s: float | None = None
    oldest_waiting_s: float | None = None
    oldest_waiting_case: int | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    period: Period
    overall: Totals
    channels: dict[str, Totals]
    operators: dict[str, Totals]
    top_entries: list[tuple[str, int]]  # FAQ entries shown (answers and chosen suggestions), most first
    not_helped_entries: list[tuple[str, int]]
    comments: list[dict[str, Any]]  # the latest rating comments: case, stars, operator, channel, text, ts
    backlog: Backlog
    daily: list[DayPoint] = field(default_factory=list)  # one per day of the period, when asked for

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["period"] = {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()}
        return d


def spans(period: Period) -> list[str]:
    """The hashes that cover ``period`` exactly: whole months as ``m:YYYY-MM``, the other days as ``d:...``."""
    out: list[str] = []
    day = period.start
    while day <= period.end:
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        if day == first and following - timedelta(days=1) <= period.end:
            out.append(f"m:{first.isoformat()[:7]}")
            day = following
        else:
            out.append(f"d:{day.isoformat()}")
            day += timedelta(days=1)
    return out


async def read_figures(store: Store, period: Period, *, daily: bool = False, now: float | None = None) -> Figures:
    keys, tally = store.keys, store.tally
    pipe = store.redis.pipeline(transaction=False)
    parts = spans(period)
    for span in parts:
        for scope in SCOPES:
            pipe.hgetall(keys.stats(scope, span))
    days = period.each_day() if daily else []
    for day in days:
        pipe.hgetall(keys.stats("all", f"d:{day.isoformat()}"))
    start, end = period.bounds(tally.zone)
    pipe.zrevrangebyscore(keys.stats_comments, f"({end}", start, start=0, num=COMMENTS_SHOWN)
    pipe.smembers(keys.cases_open)
    got = await pipe.execute()
    total: Counter[str] = Counter()
    by_channel: dict[str, Counter[str]] = {}
    by_operator: dict[str, Counter[str]] = {}
    entries: Counter[str] = Counter()
    for i in range(len(parts)):
        every, ch, op, faq = got[i * 4 : i * 4 + 4]
        _add(total, every)
        _split(by_channel, ch)
        _split(by_operator, op)
        _add(entries, faq)
    rest = got[len(parts) * 4 :]
    day_rows, comments, open_ids = rest[: len(days)], rest[len(days)], rest[len(days) + 1]
    shown = [(k.partition("|")[2], v) for k, v in entries.most_common() if k.startswith("shown|") and v]
    unhelpful = [(k.partition("|")[2], v) for k, v in entries.most_common() if k.startswith("not_helped|") and v]
    return Figures(
        period=period,
        overall=Totals.of(total),
        channels={name: Totals.of(c) for name, c in sorted(by_channel.items())},
        operators={name: Totals.of(c) for name, c in sorted(by_operator.items())},
        top_entries=shown[:TOP_ENTRIES],
        not_helped_entries=unhelpful[:TOP_ENTRIES],
        comments=[json.loads(c) for c in comments],
        backlog=await _backlog(store, open_ids, store.clock() if now is None else now),
        daily=[_day_point(day, row) for day, row in zip(days, day_rows, strict=True)],
    )


def _add(into: Counter[str], row: dict[str, str]) -> None:
    for k, v in row.items():
        into[k] += int(v)


def _split(into: dict[str, Counter[str]], row: dict[str, str]) -> None:
    for k, v in row.items():
        who, _, metric = k.rpartition("|")
        counts = into.get(who)
        if counts is None:
            counts = into[who] = Counter()
        counts[metric] += int(v)


def _day_point(day: date, row: dict[str, str]) -> DayPoint:
    raw: Counter[str] = Counter()
    _add(raw, row)
    frt = {int(k.partition("~")[2]): v for k, v in raw.items() if k.startswith("frt~")}
    return DayPoint(
        day.isoformat(),
        raw.get("conversations", 0),
        raw.get("deflected", 0),
        raw.get("handoffs", 0),
        sketch.quantile(frt, 0.5),
    )


async def _backlog(store: Store, open_ids: set[str], now: float) -> Backlog:
    if not open_ids:
        return Backlog()
    pipe = store.redis.pipeline(transaction=False)
    ids = sorted(int(i) for i in open_ids)
    for case_id in ids:
        pipe.hmget(store.keys.case(case_id), "created_at", "first_reply_at")
    rows = await pipe.execute()
    facts = {i: r for i, r in zip(ids, rows, strict=True) if r[0]}
    created = {i: float(r[0]) for i, r in facts.items()}
    waiting = {i: created[i] for i, r in facts.items() if not r[1]}
    oldest_wait = min(waiting, key=lambda i: (waiting[i], i)) if waiting else None
    return Backlog(
        open=len(created),
        waiting=len(waiting),
        oldest_open_s=round(now - min(created.values()), 1) if created else None,
        oldest_waiting_s=round(now - waiting[oldest_wait], 1) if oldest_wait is not None else None,
        oldest_waiting_case=oldest_wait,
    )


async def read_gap_questions(store: Store, period: Period, limit: int = GAPS_READ) -> list[dict[str, Any]]:
    """The questions the FAQ did not settle in ``period`` (``stats:gaps:{day}``), the latest ``limit`` of them
    (read a week at a time, newest first): groups of a long period are built from its most recent questions,
    while the counts of no match and "didn't help" come from the figures, whole."""
    days = [day.isoformat() for day in reversed(period.each_day())]
    out: list[list[str]] = []
    kept = 0
    for i in range(0, len(days), 7):
        pipe = store.redis.pipeline(transaction=False)
        for day in days[i : i + 7]:
            pipe.lrange(store.keys.stats_gaps(day), -(limit - kept), -1)
        for rows in await pipe.execute():
            rows = rows[-(limit - kept) :] if kept < limit else []
            out.append(rows)
            kept += len(rows)
        if kept >= limit:
            break
    return [json.loads(row) for rows in reversed(out) for row in rows]


def gap_questions(rows: list[dict[str, Any]]) -> list[GapQuestion]:
    """``read_gap_questions`` rows as what ``core.stats.gaps.group_gaps`` groups."""
    from core.stats.gaps import GapQuestion

    return [GapQuestion(r["text"], r["kind"], r.get("entry") or None, float(r.get("ts") or 0)) for r in rows]
