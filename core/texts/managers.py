"""Texts of the managers' part (``/stats``, ``/gaps``, the daily digest), merged into ``core.texts.TEXTS`` and
``core.texts.staff.STAFF``. The figures' own labels are in ``core.stats.report``."""

from __future__ import annotations

CUSTOMER: dict[str, dict[str, str]] = {
    "managers.refused": {
        "ru": "Эта команда только для менеджеров поддержки.",
        "en": "This command is for support managers only.",
    },
}

STAFF: dict[str, dict[str, str]] = {
    "managers.refused": {
        "ru": "/{name} — только для менеджеров (MANAGER_IDS). Ваш Telegram id: {id}.",
        "en": "/{name} is for managers only (MANAGER_IDS). Your Telegram id: {id}.",
    },
    "managers.bad_period": {
        "ru": "Не понял период: {error}. Например: /{name} today, /{name} 7d, /{name} 30d, "
        "/{name} 2026-11-01..2026-11-30",
        "en": "Not a period: {error}. For example: /{name} today, /{name} 7d, /{name} 30d, "
        "/{name} 2026-11-01..2026-11-30",
    },
    "managers.gaps_none": {
        "ru": "За {period} все вопросы закрыл FAQ или операторы: пробелов в FAQ не найдено.",
        "en": "No FAQ gaps in {period}: every question was answered by the FAQ or handed on as asked.",
    },
    "managers.gaps_header": {
        "ru": "Пробелы FAQ за {period}: {questions} вопр., {groups} групп. Кнопка — примеры группы.",
        "en": "FAQ gaps in {period}: {questions} question(s) in {groups} group(s). A button shows a group's examples.",
    },
    "managers.gaps_line": {
        "ru": "{n}. {count}× «{example}» → {nearest}",
        "en": "{n}. {count}× “{example}” → {nearest}",
    },
    "managers.gaps_new": {"ru": "новая статья", "en": "a new entry"},
    "managers.gaps_examples": {
        "ru": "Группа {n}: {count} вопр., ближайшая статья: {nearest}. Примеры:\n{examples}\n\nДля faq_data:\n{yaml}",
        "en": "Group {n}: {count} question(s), nearest entry: {nearest}. Examples:\n{examples}\n\n"
        "For faq_data:\n{yaml}",
    },
    "managers.gaps_gone": {
        "ru": "Этот список устарел: наберите /gaps ещё раз.",
        "en": "That list has expired: type /gaps again.",
    },
    "managers.digest": {"ru": "Сводка за {day}", "en": "Digest for {day}"},
    "managers.no_chart": {
        "ru": "(График сейчас построить не удалось; цифры выше полные.)",
        "en": "(The chart could not be drawn this time; the figures above are complete.)",
    },
}
