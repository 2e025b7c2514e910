"""What operators read: the case card and its history (staff-facing text, English)."""

from __future__ import annotations

import time
from typing import Any

from core.cases import Case

MAX_CARD_LINES = 15
_WHO = {"customer": "👤", "bot": "🤖", "operator": "🎧", "note": "📝", "system": "⚙️"}


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts)) if ts else "—"


def render_line(entry: dict[str, Any]) -> str:
    files = "".join(f" [{f['kind']}{': ' + f['name'] if f.get('name') else ''}]" for f in entry.get("files", ()))
    return f"{_WHO.get(entry['who'], '•')} {_clip(entry.get('text') or '')}{files}".rstrip()


def render_card(case: Case, transcript: list[dict[str, Any]], last: int = MAX_CARD_LINES) -> str:
    handle = f" ({case.customer_handle})" if case.customer_handle else ""
    lines = [
        f"Case {case.number} · {case.channel_title} · {case.status.value.replace('_', ' ')}"
        + (" · escalated" if case.escalated else ""),
        f"Customer: {case.display_name}{handle}, id {case.customer.user_id}",
        f"Language: {case.language} · opened {fmt_time(case.created_at)} · reason: {case.reason}",
    ]
    if case.operator:
        lines.append(f"Operator: {case.operator}")
    if case.tried:
        lines.append("Bot tried: " + ", ".join(f"{entry} ({score:.2f})" for entry, score in case.tried))
    else:
        lines.append("Bot tried: nothing")
    if case.first_reply_at:
        lines.append(f"First reply after {int(case.first_reply_at - case.created_at)} s")
    if case.resolved_at:
        lines.append(f"Resolved {fmt_time(case.resolved_at)}" + (f" · rated {case.rating}/5" if case.rating else ""))
    if transcript:
        shown = transcript[-last:]
        lines.append("")
        part = f" (last {len(shown)} of {len(transcript)})" if len(shown) < len(transcript) else ""
        lines.append(f"Conversation{part}:")
        lines += [render_line(e) for e in shown]
    return "\n".join(lines)
