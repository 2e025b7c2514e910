"""Texts of the playbook's hours part, merged into ``core.texts.TEXTS`` and ``core.texts.staff.STAFF``."""

from __future__ import annotations

CUSTOMER: dict[str, dict[str, str]] = {
    "hours.outside": {
        "ru": "Сейчас нерабочее время. Обращение сохранено, операторы ответят в рабочее время: "
        "ближайшее начинается {opens}. Часы работы: {hours}.",
        "en": "We're outside working hours right now. Your case is saved and operators will reply during "
        "working hours: the next period starts {opens}. Working hours: {hours}.",
    },
    "hours.outside_unknown": {
        "ru": "Сейчас нерабочее время. Обращение сохранено, операторы ответят в рабочее время. Часы работы: {hours}.",
        "en": "We're outside working hours right now. Your case is saved and operators will reply during "
        "working hours. Working hours: {hours}.",
    },
    "hours.help": {
        "ru": "Операторы работают: {hours}.",
        "en": "Operators are available: {hours}.",
    },
}

STAFF: dict[str, dict[str, str]] = {
    "hours.reminder.1": {
        "ru": "⏰ Обращение {number}: нет ответа оператора {minutes} мин рабочего времени (норма первого ответа: "
        "{sla} мин).{mention}",
        "en": "⏰ Case {number}: no operator reply for {minutes} working minutes (first-response target: "
        "{sla} min).{mention}",
    },
    "hours.reminder.2": {
        "ru": "⏰⏰ Обращение {number}: всё ещё нет ответа оператора — уже {minutes} мин рабочего времени "
        "(норма: {sla} мин).{mention}",
        "en": "⏰⏰ Case {number}: still no operator reply after {minutes} working minutes "
        "(target: {sla} min).{mention}",
    },
    "hours.answered_late": {
        "ru": "Обращение {number}: первый ответ через {minutes} мин рабочего времени (норма: {sla} мин).",
        "en": "Case {number}: first reply after {minutes} working minutes (target: {sla} min).",
    },
    "hours.escalation": {"ru": "⚠️ Эскалация ({by})", "en": "⚠️ Escalated ({by})"},
    "hours.by_complaint": {"ru": "жалоба клиента", "en": "the customer's complaint"},
}
