"""Managers' figures kept as they happen: each recorded step (``Unit.record``) adds to per-day and per-month
counters in Redis, in the same atomic commit as the step itself, so a figure for any period is a sum of a few
hashes, never a re-read of the event log, and it survives ``/forget`` (counts name nobody).

Where a step counts (``COUNTS``): the ``all`` scope, the customer's channel (``ch``) and, when an operator did
it, that operator (``op``). Durations go into sketches (``core.stats.sketch``): first response and resolution,
in wall time and in working time. FAQ entries shown and "didn't help" go to the ``faq`` scope. Questions the FAQ
did not settle go to the day's ``stats:gaps`` list (text kept, masked like every logged text) and rating comments to
``stats:comments``; both are kept ``EVENTS_RETENTION_DAYS``, like the event log, and ``/forget`` deletes the
customer's (``Unit.forget_figures``).

Days are days in ``TIMEZONE``. A conversation and whether the FAQ settled it (deflection) are decided by the desk
(``core.desk.figures``), which counts them here with ``count``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.stats.sketch import bucket

if TYPE_CHECKING:
    from core.store.keys import Keys

DEFAULT_RETENTION_DAYS = 400

# step -> the counters it adds 1 to (``{reason}``, ``{stars}``, ``{new}``: the step's field)
COUNTS: dict[str, tuple[str, ...]] = {
    "faq_answered": ("answers",),
    "faq_suggested": ("suggestions",),
    "faq_chosen": ("suggestions_taken",),
    "faq_no_match": ("no_match",),
    "faq_not_helped": ("not_helped",),
    "handoff": ("handoffs", "handoff:{reason}"),
    "reopened": ("reopened",),
    "resolved": ("resolved",),
    "first_response": ("first_responses",),
    "operator_reply": ("replies",),
    "rated": ("ratings", "stars:{stars}"),
    "rating_comment": ("comments",),
    "delivery_failed": ("undelivered",),
    "callback_requested": ("callbacks",),
    "sla_reminder": ("sla_reminders",),
    "faq_sent": ("faq_sent",),
}
# step -> its duration fields and the sketch each goes to
DURATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "first_response": (("seconds", "frt"), ("work", "frt_work")),
    "resolved": (("seconds", "resolution"), ("work", "resolution_work")),
}
GAP_KINDS = {"faq_no_match": "no_match", "faq_not_helped": "not_helped"}


class _Blank(dict):
    """A step's fields for ``COUNTS`` names: a field the step lacks reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def channel_of(fields: Mapping[str, Any]) -> str | None:
    if fields.get("channel"):
        return str(fields["channel"])
    customer = fields.get("customer")
    return str(customer).partition(":")[0] if customer else None


class Tally:
    """Turns a recorded step into the Redis writes that keep the figures (appended to the unit's commit)."""

    def __init__(self, keys: Keys, timezone: str = "UTC", retention_days: float = DEFAULT_RETENTION_DAYS):
        self.keys = keys
        self.zone = ZoneInfo(timezone)
        self.retention_days = retention_days

    def day(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.zone).date().isoformat()

    def min_id(self, ts: float) -> str:
        """The oldest stream id to keep (streams are trimmed by age, ``XADD ... MINID``)."""
        return str(max(0, int((ts - self.retention_days * 86400) * 1000)))

    def count(
        self,
        name: str,
        ts: float,
        *,
        by: int = 1,
        day: str | None = None,
        channel: str | None = None,
        operator: str | None = None,
    ) -> list[list[str]]:
        """``name`` += ``by`` for the day of ``ts`` (or ``day``) and its month, overall and per channel/operator."""
        return self._incr([name], day or self.day(ts), channel, operator, by)

    def ops(self, type_: str, fields: Mapping[str, Any], ts: float) -> list[list[str]]:
        """The writes a recorded step makes to the figures (none for steps that count nothing)."""
        if type_ == "status":
            names = ["cancelled"] if fields.get("new") == "cancelled" else []
        else:
            names = [n.format_map(_Blank(fields)) if "{" in n else n for n in COUNTS.get(type_, ())]
        if type_ == "first_response" and fields.get("late"):
            names.append("sla_breaches")
        for field, sketch in DURATIONS.get(type_, ()):
            if fields.get(field) not in (None, ""):
                names.append(f"{sketch}~{bucket(float(fields[field]))}")
        day = self.day(ts)
        channel = channel_of(fields)
        operator = fields.get("operator")
        out = self._incr(names, day, channel, operator, 1) if names else []
        if type_ == "rated" and str(fields.get("stars", "")).isdigit():
            out += self._incr(["stars_sum"], day, channel, operator, int(fields["stars"]))
        entry = fields.get("entry")
        if entry and type_ in ("faq_answered", "faq_chosen", "faq_not_helped"):
            metric = "not_helped" if type_ == "faq_not_helped" else "shown"
            for span in self._spans(day):
                out.append(["HINCRBY", self.keys.stats("faq", span), f"{metric}|{entry}", "1"])
        if type_ in GAP_KINDS and fields.get("text"):
            gap = {"kind": GAP_KINDS[type_], "text": fields["text"], "entry": entry or "", "channel": channel or ""}
            gap.update(customer=fields.get("customer") or "", ts=round(ts, 1))  # customer: for /forget
            key = self.keys.stats_gaps(day)
            out.append(["RPUSH", key, json.dumps(gap, ensure_ascii=False, sort_keys=True)])
            out.append(["EXPIRE", key, str(int((self.retention_days + 1) * 86400))])
        if type_ == "rating_comment" and fields.get("text"):
            note = {k: fields.get(k) for k in ("case", "stars", "operator", "text")}
            member = json.dumps({**note, "channel": channel, "ts": ts}, ensure_ascii=False, sort_keys=True)
            out.append(["ZADD", self.keys.stats_comments, repr(ts), member])
            out.append(["ZREMRANGEBYSCORE", self.keys.stats_comments, "-inf", repr(ts - self.retention_days * 86400)])
        return out

    def _spans(self, day: str) -> tuple[str, str]:
        return f"d:{day}", f"m:{day[:7]}"

    def _incr(
        self, names: Iterable[str], day: str, channel: str | None, operator: str | None, by: int
    ) -> list[list[str]]:
        out: list[list[str]] = []
        names = list(names)
        for span in self._spans(day):
            for name in names:
                out.append(["HINCRBY", self.keys.stats("all", span), name, str(by)])
                if channel:
                    out.append(["HINCRBY", self.keys.stats("ch", span), f"{channel}|{name}", str(by)])
                if operator:
                    out.append(["HINCRBY", self.keys.stats("op", span), f"{operator}|{name}", str(by)])
        return out
