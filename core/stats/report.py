"""Managers' figures as text (Telegram's compact summary, the command line's longer one), CSV and JSON.

Texts follow ``STAFF_LANGUAGE`` (English or Russian). CSV is one figure per row (``scope,name,metric,value``:
scope ``overall``, ``channel``, ``operator``, ``entry_shown``, ``entry_not_helped``, ``backlog`` or ``day``),
ready for a spreadsheet's pivot table; JSON is ``Figures.as_dict``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from core.messages import CHANNEL_TITLES
from core.stats.figures import Figures, Times, Totals

T: dict[str, dict[str, str]] = {
    "title": {"en": "📊 Support, {period} ({days} d)", "ru": "📊 Поддержка, {period} ({days} дн.)"},
    "conversations": {
        "en": "Conversations: {n} · settled by the FAQ: {d} ({rate})",
        "ru": "Обращений: {n} · решено через FAQ: {d} ({rate})",
    },
    "handoffs": {"en": "Handed to a person: {n}{reasons}", "ru": "Передано оператору: {n}{reasons}"},
    "cases": {
        "en": "Cases: {opened} opened, {reopened} reopened, {resolved} resolved, {cancelled} cancelled",
        "ru": "Заявки: открыто {opened}, переоткрыто {reopened}, решено {resolved}, отменено {cancelled}",
    },
    "backlog": {
        "en": "Open now: {open}, {waiting} waiting for a first reply{oldest}",
        "ru": "Открыто сейчас: {open}, ждут первого ответа: {waiting}{oldest}",
    },
    "oldest": {"en": " (longest: #{case}, {age})", "ru": " (дольше всех: №{case}, {age})"},
    "frt": {
        "en": "First response: median {m}, 90% within {p}; in working hours {wm} / {wp} · SLA breaches: {sla}",
        "ru": "Первый ответ: медиана {m}, 90% за {p}; в рабочее время {wm} / {wp} · нарушений SLA: {sla}",
    },
    "resolution": {"en": "Resolution: median {m}, 90% within {p}", "ru": "Решение: медиана {m}, 90% за {p}"},
    "ratings": {"en": "Ratings: {n}, average {avg} ({dist})", "ru": "Оценки: {n}, средняя {avg} ({dist})"},
    "faq": {
        "en": "FAQ: {a} answers, {s} menus ({st} chosen), {nh} didn't help, {nm} no match",
        "ru": "FAQ: ответов {a}, подсказок {s} (выбрано {st}), не помогло {nh}, без ответа {nm}",
    },
    "channel": {
        "en": "  {name}: {c} conversations, {d} by the FAQ, {h} handed off, first reply {m}",
        "ru": "  {name}: обращений {c}, через FAQ {d}, оператору {h}, первый ответ {m}",
    },
    "operator": {
        "en": "  {name}: {taken} taken, {replies} replies, {resolved} resolved, first reply {m}, rating {avg}",
        "ru": "  {name}: взято {taken}, ответов {replies}, решено {resolved}, первый ответ {m}, оценка {avg}",
    },
    "by_channel": {"en": "By channel:", "ru": "По каналам:"},
    "by_operator": {"en": "Operators:", "ru": "Операторы:"},
    "top": {"en": "Top FAQ answers: {list}", "ru": "Частые ответы FAQ: {list}"},
    "not_helped": {"en": "Answers that didn't help: {list}", "ru": "Не помогли ответы: {list}"},
    "comments": {"en": "Latest comments:", "ru": "Последние комментарии:"},
    "undelivered": {"en": "Undelivered messages: {n}", "ru": "Не доставлено сообщений: {n}"},
}
REASONS = {
    "no_match": {"en": "no match", "ru": "нет ответа"},
    "requested": {"en": "asked", "ru": "попросили"},
    "not_helped": {"en": "didn't help", "ru": "не помогло"},
    "complaint": {"en": "complaint", "ru": "жалоба"},
    "callback": {"en": "callback", "ru": "звонок"},
    "attachment": {"en": "file", "ru": "файл"},
}
UNITS = {"en": ("s", "min", "h", "d"), "ru": ("с", "мин", "ч", "дн.")}


def _t(key: str, lang: str, **values: Any) -> str:
    texts = T[key]
    return texts.get(lang, texts["en"]).format(**values)


def duration(seconds: float | None, lang: str = "en") -> str:
    if seconds is None:
        return "—"
    s, m, h, d = UNITS.get(lang, UNITS["en"])
    if seconds < 120:
        return f"{seconds:.0f} {s}"
    if seconds < 7200:
        return f"{seconds / 60:.0f} {m}"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} {h}"
    return f"{seconds / 86400:.1f} {d}"


def _rate(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def summary(fig: Figures, lang: str = "en", *, detailed: bool = False) -> str:
    """The figures as lines of text: compact for Telegram, ``detailed`` for the command line."""
    o, b = fig.overall, fig.backlog
    reasons = ", ".join(f"{REASONS.get(r, {}).get(lang, r)} {n}" for r, n in o.handoffs_by_reason.items())
    oldest = ""
    if b.oldest_waiting_case is not None:
        oldest = _t("oldest", lang, case=b.oldest_waiting_case, age=duration(b.oldest_waiting_s, lang))
    dist = " · ".join(f"{k}★ {v}" for k, v in sorted(o.rating_distribution.items(), reverse=True))
    lines = [
        _t("title", lang, period=fig.period, days=fig.period.days),
        _t("conversations", lang, n=o.conversations, d=o.deflected, rate=_rate(o.deflection_rate)),
        _t("handoffs", lang, n=o.handoffs, reasons=f": {reasons}" if reasons else ""),
        _t("cases", lang, opened=o.handoffs, reopened=o.reopened, resolved=o.resolved, cancelled=o.cancelled),
        _t("backlog", lang, open=b.open, waiting=b.waiting, oldest=oldest),
        _frt(o, lang),
        _t("resolution", lang, m=duration(o.resolution.median, lang), p=duration(o.resolution.p90, lang)),
        _t("ratings", lang, n=o.ratings, avg=_avg(o.rating_average), dist=dist),
        _t(
            "faq",
            lang,
            a=o.answers,
            s=o.suggestions,
            st=o.suggestions_taken,
            nh=o.not_helped,
            nm=o.no_match,
        ),
    ]
    if o.undelivered:
        lines.append(_t("undelivered", lang, n=o.undelivered))
    if fig.channels:
        lines.append(_t("by_channel", lang))
        lines += [_channel(name, c, lang) for name, c in fig.channels.items()]
    if fig.operators:
        lines.append(_t("by_operator", lang))
        lines += [_operator(name, c, lang) for name, c in fig.operators.items()]
    shown = fig.top_entries if detailed else fig.top_entries[:5]
    if shown:
        lines.append(_t("top", lang, list=", ".join(f"{e} {n}" for e, n in shown)))
    if fig.not_helped_entries:
        lines.append(_t("not_helped", lang, list=", ".join(f"{e} {n}" for e, n in fig.not_helped_entries)))
    comments = fig.comments if detailed else fig.comments[:3]
    if comments:
        lines.append(_t("comments", lang))
        lines += [f"  #{c.get('case')} {c.get('stars')}★ {c.get('operator') or ''}: {c.get('text')}" for c in comments]
    return "\n".join(lines)


def _frt(o: Totals, lang: str) -> str:
    f, w = o.first_response, o.first_response_work
    return _t(
        "frt",
        lang,
        m=duration(f.median, lang),
        p=duration(f.p90, lang),
        wm=duration(w.median, lang),
        wp=duration(w.p90, lang),
        sla=o.sla_breaches,
    )


def _avg(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _channel(name: str, c: Totals, lang: str) -> str:
    title = CHANNEL_TITLES.get(name, name)
    return _t("channel", lang, name=title, c=c.conversations, d=c.deflected, h=c.handoffs,
              m=duration(c.first_response.median, lang))  # fmt: skip


def _operator(name: str, c: Totals, lang: str) -> str:
    return _t("operator", lang, name=name, taken=c.first_responses, replies=c.replies, resolved=c.resolved,
              m=duration(c.first_response.median, lang), avg=_avg(c.rating_average))  # fmt: skip


def chart_title(fig: Figures, lang: str = "en") -> str:
    return _t("title", lang, period=fig.period, days=fig.period.days).removeprefix("📊 ")


def to_json(fig: Figures) -> str:
    return json.dumps(fig.as_dict(), ensure_ascii=False, indent=2, default=str)


def rows(fig: Figures) -> list[tuple[str, str, str, Any]]:
    """Every figure as ``(scope, name, metric, value)``."""
    out: list[tuple[str, str, str, Any]] = []
    for scope, items in (("overall", {"": fig.overall}), ("channel", fig.channels), ("operator", fig.operators)):
        for name, totals in items.items():
            out += [(scope, name, metric, value) for metric, value in _flat(totals)]
    out += [("entry_shown", entry, "count", n) for entry, n in fig.top_entries]
    out += [("entry_not_helped", entry, "count", n) for entry, n in fig.not_helped_entries]
    out += [("backlog", "", metric, value) for metric, value in _flat(fig.backlog)]
    for p in fig.daily:
        out += [("day", p.day, m, getattr(p, m)) for m in ("conversations", "deflected", "handoffs")]
        out.append(("day", p.day, "first_response_median_s", p.first_response_median_s))
    return out


def _flat(obj: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if isinstance(value, Times):
            out += [(f"{name}_count", value.count), (f"{name}_median_s", value.median), (f"{name}_p90_s", value.p90)]
        elif isinstance(value, dict):
            out += [(f"{name}:{k}", v) for k, v in value.items()]
        else:
            out.append((name, value))
    return out


def to_csv(fig: Figures) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["scope", "name", "metric", "value"])
    for scope, name, metric, value in rows(fig):
        writer.writerow([scope, name, metric, "" if value is None else value])
    return buf.getvalue()
