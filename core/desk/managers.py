"""Managers in Telegram: ``/stats [period]`` and ``/gaps [period]`` in the staff group or in a private chat with the
bot, for the Telegram user ids in ``MANAGER_IDS`` only (anyone else is refused), and the daily digest.

``/stats`` (default 7d) answers with the compact summary (``core.stats.report``) and a PNG chart of the
period's days, drawn in a worker thread (``asyncio.to_thread``) so the event loop keeps running. ``/gaps``
(default 30d) lists the FAQ gaps (``core.stats.gaps``) with one button per group; the groups shown are kept
7 days (``stats:view:{token}``) so that a button shows exactly the examples of the list it belongs to.
The digest (``Digest`` event, ``bots.digest`` fires it at ``DIGEST_TIME``) sends each manager yesterday's
summary and the last 30 days' chart in a private chat.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from dataclasses import asdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

from core.desk.customers import COMMAND
from core.events import Digest
from core.messages import Attachment, Button, Inbound, Outbound, StaffKind, UserRef, to_customer, to_staff
from core.stats import report
from core.stats.figures import gap_questions, read_figures, read_gap_questions
from core.stats.gaps import GapGroup, group_gaps, paste_yaml
from core.stats.period import Period, PeriodError, parse_period, today_in
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

log = logging.getLogger(__name__)

MANAGER_COMMANDS = {"stats": "7d", "gaps": "30d"}  # command -> its default period
GAPS_BUTTON = "gapshow"  # a /gaps button: ``gapshow:{token}.{n}`` (in the staff group ``gapshow:0:{token}.{n}``)
GAPS_SHOWN = 10
VIEW_TTL = 7 * 86400
DIGEST_CHART_DAYS = 30


class ManagerSide:
    def is_manager(self: SupportDesk, telegram_id: str) -> bool:
        return telegram_id in self.options.managers

    # ------------------------------------------------------------------ where the commands come from
    async def manager_message(self: SupportDesk, event: Inbound, u: Unit) -> list[Outbound] | None:
        """A private-chat ``/stats``, ``/gaps`` or /gaps button on Telegram; None for anything else."""
        user = event.sender
        if user.channel != "telegram":
            return None
        if event.payload and event.payload.startswith(GAPS_BUTTON + ":"):
            if not self.is_manager(user.user_id):
                return [to_customer(user, t("managers.refused", await self._customer_lang(user, u)))]
            return [to_customer(user, await self.gap_examples(event.payload.partition(":")[2], u))]
        command = COMMAND.match(event.text or "")
        name = command.group(1).lower() if command else ""
        if name not in MANAGER_COMMANDS:
            return None
        if not self.is_manager(user.user_id):
            return [to_customer(user, t("managers.refused", await self._customer_lang(user, u)))]
        text, files, buttons = await self.manager_reply(name, command.group(2), u, staff=False)
        return [to_customer(user, text, attachments=files, buttons=buttons)]

    async def manager_staff(self: SupportDesk, name: str, args: str, operator_id: str, u: Unit) -> list[Outbound]:
        """``/stats`` or ``/gaps`` typed in the staff group (answered where it was typed)."""
        if not self.is_manager(operator_id):
            return [to_staff(0, self.st("managers.refused", name=name, id=operator_id), StaffKind.REPLY)]
        text, files, buttons = await self.manager_reply(name, args, u, staff=True)
        return [to_staff(0, text, StaffKind.REPLY, attachments=files, buttons=buttons)]

    async def manager_button(self: SupportDesk, argument: str, operator_id: str, u: Unit) -> list[Outbound]:
        """A /gaps button pressed in the staff group."""
        if not self.is_manager(operator_id):
            return [to_staff(0, self.st("managers.refused", name="gaps", id=operator_id), StaffKind.REPLY)]
        return [to_staff(0, await self.gap_examples(argument, u), StaffKind.REPLY)]

    async def _customer_lang(self: SupportDesk, user: UserRef, u: Unit) -> str:
        return (await u.get_user(user)).get("lang") or self.options.default_language

    # ------------------------------------------------------------------ what they answer
    async def manager_reply(self: SupportDesk, name: str, args: str, u: Unit, *, staff: bool):
        """(text, attachments, buttons) answering ``/stats`` or ``/gaps`` with ``args``."""
        today = today_in(self.options.timezone, self.clock())
        try:
            period = parse_period(args.strip() or None, today, default=MANAGER_COMMANDS[name])
        except PeriodError as exc:
            return self.st("managers.bad_period", error=exc, name=name), (), ()
        if name == "stats":
            text, files = await self.stats_for(period)
            return text, files, ()
        return await self._gaps(period, u, staff)

    async def stats_for(self: SupportDesk, period: Period, chart_period: Period | None = None):
        """The summary of ``period`` and a chart (of ``chart_period``, else the same period) as an attachment."""
        lang = self.options.staff_language
        fig = await read_figures(self.store, period, daily=chart_period is None, now=self.clock())
        drawn = fig
        if chart_period is not None:
            drawn = await read_figures(self.store, chart_period, daily=True, now=self.clock())
        text = report.summary(fig, lang)
        try:
            png = await asyncio.to_thread(self.chart, drawn.daily, title=report.chart_title(drawn, lang), lang=lang)
        except Exception:  # the figures still go out: a chart that cannot be drawn must not hold the answer up
            log.exception("managers: the chart of %s could not be drawn; sending the figures without it", period)
            return f"{text}\n{self.st('managers.no_chart')}", ()
        return text, (inline_png(png, f"stats-{period}.png"),)

    async def _gaps(self: SupportDesk, period: Period, u: Unit, staff: bool):
        questions = gap_questions(await read_gap_questions(self.store, period))
        groups = await asyncio.to_thread(group_gaps, self.matcher, questions, limit=GAPS_SHOWN)
        if not groups:
            return self.st("managers.gaps_none", period=period), (), ()
        token = hashlib.sha1(f"{period}:{self.clock()}:{len(questions)}".encode()).hexdigest()[:10]
        view = {"period": str(period), "groups": [{**asdict(g), "examples": [_digest(e) for e in g.examples]}
                                                  for g in groups]}  # fmt: skip
        u.op("SET", self.store.keys.stats_view(token), json.dumps(view), "EX", VIEW_TTL)
        lines = [self.st("managers.gaps_header", period=period, questions=len(questions), groups=len(groups))]
        for n, g in enumerate(groups, 1):
            nearest = g.nearest or self.st("managers.gaps_new")
            lines.append(self.st("managers.gaps_line", n=n, count=g.count, example=g.examples[0][:80], nearest=nearest))
        prefix = f"{GAPS_BUTTON}:0:" if staff else f"{GAPS_BUTTON}:"
        buttons = tuple(Button(f"{n} · {g.count}×", f"{prefix}{token}.{n}") for n, g in enumerate(groups, 1))
        return "\n".join(lines), (), buttons

    async def gap_examples(self: SupportDesk, argument: str, u: Unit) -> str:
        """A /gaps button: the group's examples, read again from the kept questions (the view holds only their
        digests, so a customer's /forget takes their question out of every list shown before)."""
        token, _, n = argument.rpartition(".")
        raw = await u.redis.get(self.store.keys.stats_view(token)) if token else None
        view = json.loads(raw) if raw else {"groups": []}
        groups = view["groups"]
        if not n.isdigit() or not 1 <= int(n) <= len(groups):
            return self.st("managers.gaps_gone")
        shown = groups[int(n) - 1]
        wanted = set(shown["examples"])
        today = today_in(self.options.timezone, self.clock())
        rows = await read_gap_questions(self.store, parse_period(view["period"], today))
        texts = list(dict.fromkeys(r["text"] for r in reversed(rows) if _digest(r["text"]) in wanted))
        g = GapGroup(**{**shown, "examples": tuple(texts) or ("—",)})
        examples = "\n".join(f"• {e}" for e in g.examples)
        nearest = g.nearest or self.st("managers.gaps_new")
        return self.st("managers.gaps_examples", n=n, count=g.count, nearest=nearest, examples=examples,
                       yaml=paste_yaml([g]))  # fmt: skip

    # ------------------------------------------------------------------ the daily digest
    async def _digest(self: SupportDesk, event: Digest, u: Unit) -> list[Outbound]:
        """Yesterday's summary (``event.day``) and the last 30 days' chart, to every manager's private chat."""
        if not self.options.managers:
            return []
        day = date.fromisoformat(event.day)
        u.record("digest", day=event.day, managers=len(self.options.managers))
        month = Period(day - timedelta(days=DIGEST_CHART_DAYS - 1), day)
        text, files = await self.stats_for(Period(day, day), chart_period=month)
        title = self.st("managers.digest", day=event.day)
        return [
            to_customer(UserRef("telegram", who), f"{title}\n{text}", attachments=files)
            for who in sorted(self.options.managers)
        ]


def inline_png(data: bytes, name: str) -> Attachment:
    """A picture the bot made itself: its bytes travel inside the outbox entry (``bots.delivery`` reads them)."""
    ref = "data:image/png;base64," + base64.b64encode(data).decode()
    return Attachment("photo", ref, "inline", name, "image/png", len(data))


def _digest(text: str) -> str:
    """What a /gaps list keeps of a question it showed (``stats:view``): no text, only a way to find it again."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]
