"""``supportbot stats`` and ``supportbot faq gaps``: the managers' figures and FAQ gaps on the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from core.config import Settings
from core.faq import FaqMatcher, load_faq
from core.stats.period import Period, PeriodError, parse_since, today_in

if TYPE_CHECKING:
    from core.store import Store

T = TypeVar("T")
NO_REDIS = "REDIS_URL is not set: the figures are kept in the bot's Redis; set REDIS_URL to the one it uses."


def add_stats_parser(sub: argparse._SubParsersAction) -> None:
    stats = sub.add_parser(
        "stats",
        help="figures for managers: conversations, deflection, handoffs, response times, ratings, operators",
        description="Reads the figures the bot keeps in Redis (REDIS_URL) for a period: overall, per channel, "
        "per operator. Periods: 7d, 30d (the last N days, today included), today, yesterday, a first day "
        "YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD; days in TIMEZONE.",
    )
    stats.add_argument("--since", default="7d", help="the period (default: 7d)")
    stats.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default: table)")
    stats.add_argument("--chart", metavar="OUT_PNG", help="also draw the figures per day into this PNG file")


def add_gaps_parser(fsub: argparse._SubParsersAction) -> None:
    gaps = fsub.add_parser(
        "gaps",
        help="questions the FAQ did not answer, grouped, ready to paste into faq_data",
        description="Groups the questions customers asked that the FAQ did not settle (no match, or an answer "
        "that did not help) by similarity and prints them as YAML to paste into the FAQ file, each group with "
        "its count and the nearest entry. Reads Redis (REDIS_URL).",
    )
    gaps.add_argument("--since", default="30d", help="the period (default: 30d)")
    gaps.add_argument("--limit", type=int, default=20, help="at most this many groups (default: 20)")


def _setup(since: str) -> tuple[Settings, Period] | int:
    """The settings and the ``--since`` period; or, said on stderr, exit status 2 when either is missing."""
    settings = Settings()
    if not (settings.redis_url or settings.redis_sentinels):
        print(NO_REDIS, file=sys.stderr)
        return 2
    try:
        return settings, parse_since(since, today_in(settings.timezone, time.time()))
    except PeriodError as exc:
        print(f"error: --since {exc}", file=sys.stderr)
        return 2


def _read(settings: Settings, read: Callable[[Store], Awaitable[T]]) -> T:
    """``read(store)`` against the bot's Redis, connection closed after."""
    from core.store import Store, connect_redis

    async def main() -> T:
        redis, _ = await connect_redis(settings.redis_url, settings.redis_sentinels, settings.redis_master_name)
        try:
            tz, days = settings.timezone, settings.events_retention_days
            return await read(Store(redis, settings.redis_prefix, timezone=tz, retention_days=days))
        finally:
            await redis.aclose()

    return asyncio.run(main())


def cmd_stats(args: argparse.Namespace) -> int:
    from core.stats import report
    from core.stats.chart import render_chart
    from core.stats.figures import read_figures

    setup = _setup(args.since)
    if isinstance(setup, int):
        return setup
    settings, period = setup
    fig = _read(settings, lambda store: read_figures(store, period, daily=bool(args.chart) or args.format == "csv"))
    if args.format == "json":
        print(report.to_json(fig))
    elif args.format == "csv":
        sys.stdout.write(report.to_csv(fig))
    else:
        print(report.summary(fig, settings.staff_lang, detailed=True))
    if args.chart:
        title = report.chart_title(fig, settings.staff_lang)
        Path(args.chart).write_bytes(render_chart(fig.daily, title=title, lang=settings.staff_lang))
        print(f"chart: {args.chart}", file=sys.stderr)
    return 0


def cmd_faq_gaps(args: argparse.Namespace) -> int:
    from core.stats.figures import gap_questions, read_gap_questions
    from core.stats.gaps import group_gaps, paste_yaml

    setup = _setup(args.since)
    if isinstance(setup, int):
        return setup
    settings, period = setup
    matcher = FaqMatcher(load_faq(settings.faq_path))
    rows = _read(settings, lambda store: read_gap_questions(store, period))
    groups = group_gaps(matcher, gap_questions(rows), limit=args.limit)
    if not groups:
        print(f"# {period}: no questions the FAQ missed.")
        return 0
    print(f"# {period}: {len(rows)} question(s) the FAQ did not settle, in {len(groups)} group(s)")
    print(paste_yaml(groups))
    return 0
