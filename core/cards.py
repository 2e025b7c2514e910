"""What operators read: the case card and its history, in ``STAFF_LANGUAGE`` (``core.texts.staff``)."""

from __future__ import annotations

from typing import Any

from core.cases import Case
from core.messages import Button
from core.texts.staff import STAFF, fmt_when, st, status_name

CARD_MESSAGES = 5  # the customer's last messages of this conversation on a new case's card
MAX_CARD_LINES = 15  # lines of history on a card shown again (/case N shows 50)
TRIED_MAX = 3
_WHO = {"customer": "👤", "bot": "🤖", "operator": "🎧", "note": "📝", "system": "⚙️"}


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_time(ts: float | None, lang: str | None = "en", tz: str = "UTC") -> str:
    return fmt_when(ts, lang, tz)


def render_line(entry: dict[str, Any], limit: int | None = 300) -> str:
    """One transcript line; ``limit=None`` keeps the whole text (what a customer wrote is never cut in a card)."""
    files = "".join(f" [{f['kind']}{': ' + f['name'] if f.get('name') else ''}]" for f in entry.get("files", ()))
    text = entry.get("text") or ""
    text = text.strip() if limit is None else _clip(text, limit)
    return f"{_WHO.get(entry['who'], '•')} {text}{files}".rstrip()


def recent_conversation(transcript: list[dict[str, Any]], messages: int = CARD_MESSAGES) -> list[dict[str, Any]]:
    """The customer's last ``messages`` messages and what the bot answered or offered for each of them."""
    starts = [i for i, e in enumerate(transcript) if e.get("who") == "customer"]
    if len(starts) <= messages:
        return transcript
    return transcript[starts[-messages] :]


CARD_COMMANDS = ("take", "needinfo", "resolve", "escalate")


def card_buttons(case_id: int, lang: str | None = "en") -> tuple[Button, ...]:
    """The buttons under a case's card: the staff commands they stand for, on this case."""
    return tuple(Button(st(f"btn.{cmd}", lang), f"case:{cmd}:{case_id}") for cmd in CARD_COMMANDS)


def render_card(
    case: Case,
    transcript: list[dict[str, Any]],
    last: int = MAX_CARD_LINES,
    lang: str | None = "en",
    tz: str = "UTC",
) -> str:
    handle = f" ({case.customer_handle})" if case.customer_handle else ""
    reason = st(f"reason.{case.reason}", lang) if f"reason.{case.reason}" in _REASONS else case.reason
    lines = [
        st("card.title", lang, number=case.number, channel=case.channel_title, status=status_name(case.status, lang))
        + (st("card.escalated", lang) if case.escalated else ""),
        st("card.customer", lang, name=case.display_name, handle=handle, id=case.customer.user_id),
        st("card.meta", lang, language=case.language, opened=fmt_when(case.created_at, lang, tz), reason=reason),
    ]
    lines += _request_lines(case, lang, tz)
    if case.operator:
        lines.append(st("card.operator", lang, name=case.operator))
    if case.tried:
        best = sorted(case.tried, key=lambda t: -t[1])[:TRIED_MAX]
        lines.append(st("card.tried", lang, tried=", ".join(f"{entry} ({score:.2f})" for entry, score in best)))
    else:
        lines.append(st("card.tried_nothing", lang))
    if case.first_reply_at:
        lines.append(st("card.first_reply", lang, seconds=int(case.first_reply_at - case.created_at)))
    if case.resolved_at:
        rated = st("card.rated", lang, stars=case.rating) if case.rating else ""
        lines.append(st("card.resolved", lang, at=fmt_when(case.resolved_at, lang, tz)) + rated)
    if transcript:
        shown = transcript[-last:]
        lines.append("")
        part = st("card.part", lang, shown=len(shown), total=len(transcript)) if len(shown) < len(transcript) else ""
        lines.append(st("card.conversation", lang, part=part))
        lines += [render_line(e, None if e.get("who") == "customer" else 300) for e in shown]
    return "\n".join(lines)


_REASONS = {k for k in STAFF if k.startswith("reason.")}


def _request_lines(case: Case, lang: str | None, tz: str) -> list[str]:
    """The playbook's requests on the card (``core.desk.requests``): follow-up, callback, what was asked."""
    x, lines = case.extra, []
    if x.get("follows"):
        lines.append(st("requests.card.follows", lang, number=f"#{x['follows']}"))
    if x.get("phone"):
        lines.append(st("requests.card.callback", lang, phone=x["phone"], when=x.get("callback_time") or "—"))
    if x.get("called_at"):
        at = fmt_when(float(x["called_at"]), lang, tz)
        lines.append(st("requests.card.called", lang, at=at, operator=x.get("called_by", "")))
    if x.get("asked"):
        lines.append(st("requests.card.asked", lang, items=x["asked"]))
    if x.get("details"):
        lines.append(st("requests.card.details", lang, text=_clip(x["details"])))
    elif x.get("details_skipped"):
        lines.append(st("requests.card.skipped", lang))
    return lines
