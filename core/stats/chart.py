"""A PNG chart of support figures per day, for managers (Telegram and the command line).

Pure and synchronous: matplotlib's object API on the Agg backend, no pyplot, so no global figure registry and
it is safe to call from worker threads (``asyncio.to_thread``). matplotlib is imported only when a chart is
asked for, so importing this module stays cheap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: str  # "YYYY-MM-DD"
    conversations: int
    deflected: int  # conversations settled by the FAQ alone
    handoffs: int  # conversations handed to a person
    first_response_median_s: float | None  # None: no first response that day


CHART_SIZE = (1200, 800)  # pixels (width, height) of every chart
_DPI = 100
_LONG_SPAN_DAYS = 92  # longer periods get lines and areas instead of bars

TEXTS: dict[str, dict[str, str]] = {
    "conversations": {"en": "Conversations", "ru": "Обращения"},
    "deflected": {"en": "Settled by the FAQ", "ru": "Решено через FAQ"},
    "handoffs": {"en": "Handed to a person", "ru": "Передано сотруднику"},
    "first_response": {"en": "First response, median (min)", "ru": "Первый ответ, медиана (мин)"},
    "no_first_response": {"en": "no first responses", "ru": "нет первых ответов"},
    "no_data": {"en": "no data", "ru": "нет данных"},
}

# Tick label formats for mdates.ConciseDateFormatter (years, months, days, hours, minutes, seconds).
# Russian uses numbers only: month names would come out in English (we never touch the process locale).
_RU_FORMATS = ["%Y", "%m.%Y", "%d.%m", "%H:%M", "%H:%M", "%S"]
_RU_OFFSETS = ["", "%Y", "%m.%Y", "%d.%m.%Y", "%d.%m.%Y", "%d.%m.%Y %H:%M"]

_C_CONV, _C_DEFL, _C_HAND, _C_FR = "#1f3b57", "#5cb85c", "#f0ad4e", "#337ab7"


def _t(key: str, lang: str) -> str:
    variants = TEXTS[key]
    return variants.get(lang) or variants["en"]


def _note(ax, text: str) -> None:
    """A grey note in the middle of an empty panel."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey", fontsize=14)
    ax.set_yticks([])


def render_chart(points: Sequence[DayPoint], *, title: str, lang: str = "en") -> bytes:
    """A PNG of exactly CHART_SIZE pixels: top panel conversations per day with deflected and handoffs
    (stacked bars + a line; areas + a line for long periods), bottom panel median first response time per day
    (minutes, gaps where None). Labels in English or Russian (lang "ru")."""
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    pts = sorted(points, key=lambda p: p.day)
    x = [mdates.date2num(date.fromisoformat(p.day)) for p in pts]
    conv = [p.conversations for p in pts]
    defl = [p.deflected for p in pts]
    hand = [p.handoffs for p in pts]
    minutes = [math.nan if p.first_response_median_s is None else p.first_response_median_s / 60 for p in pts]

    width, height = CHART_SIZE
    fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    fig.suptitle(title, fontsize=15, parse_math=False)  # a "$" in a title must not start mathtext

    span = x[-1] - x[0] if x else 0.0
    long = span > _LONG_SPAN_DAYS
    if not pts:
        for ax in (top, bottom):
            _note(ax, _t("no_data", lang))
            ax.set_xticks([])
    elif long:
        # The line first, drawn on top, so the legend order matches the bar chart's.
        top.plot(x, conv, color=_C_CONV, linewidth=1.2, zorder=3, label=_t("conversations", lang))
        labels = (_t("deflected", lang), _t("handoffs", lang))
        top.stackplot(x, defl, hand, colors=(_C_DEFL, _C_HAND), alpha=0.8, labels=labels)
    else:
        top.bar(x, defl, width=0.8, color=_C_DEFL, label=_t("deflected", lang))
        top.bar(x, hand, width=0.8, bottom=defl, color=_C_HAND, label=_t("handoffs", lang))
        top.plot(x, conv, color=_C_CONV, linewidth=1.8, marker="o", markersize=4, label=_t("conversations", lang))

    if pts:
        top.set_ylim(bottom=0, top=max(1, *conv, *(d + h for d, h in zip(defl, hand, strict=True))) * 1.08)
        top.yaxis.set_major_locator(MaxNLocator(integer=True))
        top.set_ylabel(_t("conversations", lang))
        top.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=3, frameon=False)  # above the panel, off the data
        top.grid(axis="y", alpha=0.3)

        if all(math.isnan(m) for m in minutes):
            _note(bottom, _t("no_first_response", lang))
        else:
            bottom.plot(x, minutes, color=_C_FR, linewidth=1.5, marker="o", markersize=2 if long else 4)
            bottom.set_ylim(bottom=0, top=max(1.0, *(m for m in minutes if not math.isnan(m))) * 1.1)
            bottom.grid(axis="y", alpha=0.3)
        bottom.set_ylabel(_t("first_response", lang))

        pad = 0.6
        bottom.set_xlim(x[0] - pad, x[-1] + pad)
        if span <= 10:  # a tick per day, full dates (AutoDateLocator would go down to hours here)
            locator = mdates.DayLocator()
            formatter = mdates.DateFormatter("%d.%m.%Y" if lang == "ru" else "%d %b %Y")
        else:
            locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
            if lang == "ru":
                formatter = mdates.ConciseDateFormatter(locator, formats=_RU_FORMATS, offset_formats=_RU_OFFSETS)
            else:
                formatter = mdates.ConciseDateFormatter(locator)
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(formatter)

    try:
        with io.BytesIO() as buf:
            fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
            return buf.getvalue()
    finally:
        fig.clear()  # drop the artists now instead of waiting for the cyclic garbage collector
