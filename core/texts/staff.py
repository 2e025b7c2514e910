"""What operators read, in ``STAFF_LANGUAGE`` (Russian or English): cards, status lines, replies to commands.

Statuses are named as the support playbook names them: Принято / В работе / Требует уточнений / Решено (and
Отменено for a case the customer cancelled); Accepted / In progress / Needs info / Resolved / Cancelled.
Dates are shown in ``TIMEZONE`` with its name, as each language writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

STAFF: dict[str, dict[str, str]] = {
    "status.accepted": {"ru": "Принято", "en": "Accepted"},
    "status.in_progress": {"ru": "В работе", "en": "In progress"},
    "status.needs_info": {"ru": "Требует уточнений", "en": "Needs info"},
    "status.resolved": {"ru": "Решено", "en": "Resolved"},
    "status.cancelled": {"ru": "Отменено", "en": "Cancelled"},
    "btn.take": {"ru": "Взять", "en": "Take"},
    "btn.needinfo": {"ru": "Уточнить", "en": "Needs info"},
    "btn.resolve": {"ru": "Решено", "en": "Resolve"},
    "btn.escalate": {"ru": "Эскалировать", "en": "Escalate"},
    "status_line": {"ru": "Обращение {number} → {status}{by}", "en": "Case {number} → {status}{by}"},
    "unknown_command": {
        "ru": "Неизвестная команда /{name}: ничего не отправлено. Команды: {known}. "
        "Чтобы отправить клиенту текст, начинающийся с /, начните его с //.",
        "en": "Unknown command /{name}: nothing was sent. Known: {known}. "
        "To send the customer a text that starts with /, begin it with //.",
    },
    "unknown_command_short": {
        "ru": "Неизвестная команда /{name}. Команды: {known}.",
        "en": "Unknown command /{name}. Known: {known}.",
    },
    "unknown_button": {"ru": "Неизвестная кнопка", "en": "Unknown button"},
    "usage_case": {"ru": "Формат: /case N", "en": "Usage: /case N"},
    "where_command": {
        "ru": "/{name}: используйте в теме обращения или ответом на сообщение обращения (или /case N).",
        "en": "/{name}: use it in a case's topic or as a reply to a case's message (or /case N).",
    },
    "unknown_case": {
        "ru": "Не понимаю, к какому обращению относится это сообщение (слишком старое?): используйте /case N",
        "en": "I don't know which case this message belongs to (too old?): use /case N",
    },
    "empty": {
        "ru": "Пустое сообщение: клиенту ничего не отправлено. Напишите текст.",
        "en": "Empty message: nothing was sent to the customer. Type the text.",
    },
    "no_case": {"ru": "Обращения #{id} нет.", "en": "There is no case #{id}."},
    "closed_not_sent": {
        "ru": "Обращение {number} закрыто ({status}), поэтому сообщение НЕ отправлено (следующее сообщение клиента "
        "откроет новое обращение). Отправьте /reopen, чтобы открыть его снова, и напишите ещё раз.",
        "en": "Case {number} is closed ({status}), so this message was NOT sent (the customer's next message would "
        "open a new case). Send /reopen to reopen it, then write again.",
    },
    "banned": {"ru": "{name} заблокирован{note}.{extra}", "en": "{name} is banned{note}.{extra}"},
    "unbanned": {"ru": "{name} разблокирован{note}.{extra}", "en": "{name} is unbanned{note}.{extra}"},
    "no_change": {"ru": " (без изменений)", "en": " (no change)"},
    "dropped": {"ru": " Отброшено сообщений: {n}.", "en": " {n} message(s) dropped so far."},
    "not_applicable": {
        "ru": "Обращение {number}: {status}, команда /{command} неприменима.",
        "en": "Case {number} is {status}: /{command} does not apply.",
    },
    "taken_over": {
        "ru": "Обращение {number}: {new} забрал(а) его у {old}.",
        "en": "Case {number}: {new} took it over from {old}.",
    },
    "already_escalated": {"ru": "Обращение {number} уже эскалировано.", "en": "Case {number} is already escalated."},
    "escalated": {
        "ru": "⚠️ Обращение {number} передано старшим специалистам ({operator}).",
        "en": "⚠️ Case {number} escalated to senior specialists by {operator}.",
    },
    "open_already": {"ru": "Обращение {number} уже открыто.", "en": "Case {number} is open already."},
    "other_open": {
        "ru": "У клиента есть другое открытое обращение, {number}: пишите туда.",
        "en": "The customer has another open case, {number}: write there.",
    },
    "not_delivered_customer": {
        "ru": "⚠️ Не доставлено клиенту: {reason}\n« {preview} »",
        "en": "⚠️ Not delivered to the customer: {reason}\n« {preview} »",
    },
    "customer_cancelled": {
        "ru": "Обращение {number}: клиент отменил его (/cancel).",
        "en": "Case {number}: the customer cancelled it (/cancel).",
    },
    "rated": {
        "ru": "Обращение {number}: клиент оценил помощь на {stars}/5.",
        "en": "Case {number}: the customer rated the help {stars}/5.",
    },
    "comment": {
        "ru": "Обращение {number}: комментарий клиента к оценке: {text}",
        "en": "Case {number}: the customer's comment on the rating: {text}",
    },
    "edited": {"ru": "✏️ изменено: {text}", "en": "✏️ edited: {text}"},
    "window": {
        "ru": "{channel}: свободные ответы возможны до {closes} (24 часа после последнего сообщения клиента; "
        "каждое новое сообщение клиента продлевает срок).",
        "en": "{channel}: free-form replies are possible until {closes} (24 hours after the customer's last "
        "message; each new message from the customer moves this on).",
    },
    # the card
    "card.title": {"ru": "Обращение {number} · {channel} · {status}", "en": "Case {number} · {channel} · {status}"},
    "card.escalated": {"ru": " · эскалировано", "en": " · escalated"},
    "card.customer": {"ru": "Клиент: {name}{handle}, id {id}", "en": "Customer: {name}{handle}, id {id}"},
    "card.meta": {
        "ru": "Язык: {language} · открыто {opened} · причина: {reason}",
        "en": "Language: {language} · opened {opened} · reason: {reason}",
    },
    "card.operator": {"ru": "Оператор: {name}", "en": "Operator: {name}"},
    "card.tried": {"ru": "Бот предлагал: {tried}", "en": "Bot tried: {tried}"},
    "card.tried_nothing": {"ru": "Бот предлагал: ничего", "en": "Bot tried: nothing"},
    "card.first_reply": {"ru": "Первый ответ через {seconds} с", "en": "First reply after {seconds} s"},
    "card.resolved": {"ru": "Закрыто {at}", "en": "Resolved {at}"},
    "card.rated": {"ru": " · оценка {stars}/5", "en": " · rated {stars}/5"},
    "card.conversation": {"ru": "Переписка{part}:", "en": "Conversation{part}:"},
    "card.part": {"ru": " (последние {shown} из {total})", "en": " (last {shown} of {total})"},
    "reason.requested": {"ru": "клиент попросил оператора", "en": "asked for a person"},
    "reason.no_match": {"ru": "нет ответа в FAQ", "en": "no FAQ answer"},
    "reason.not_helped": {"ru": "ответ FAQ не помог", "en": "the FAQ answer did not help"},
    "reason.attachment": {"ru": "файл", "en": "a file"},
    "reason.complaint": {"ru": "жалоба", "en": "complaint"},
}


def st(key: str, lang: str | None, **values: object) -> str:
    variants = STAFF[key]
    text = variants.get(lang or "en") or variants["en"]
    return text.format(**values) if values else text


def status_name(status: str, lang: str | None) -> str:
    return st(f"status.{status}", lang)


def fmt_when(ts: float | None, lang: str | None, tz: str = "UTC") -> str:
    """A moment as the language writes it, with the time zone's name: ``02.12.2026 09:30 (Europe/Moscow)``."""
    if not ts:
        return "—"
    zone = ZoneInfo(tz) if tz and tz != "UTC" else UTC
    moment = datetime.fromtimestamp(ts, zone)
    shown = moment.strftime("%d.%m.%Y %H:%M") if lang == "ru" else moment.strftime("%Y-%m-%d %H:%M")
    return f"{shown} ({tz or 'UTC'})"
