"""Texts of the playbook's privacy part, merged into ``core.texts.TEXTS`` and ``core.texts.staff.STAFF``.

Customers: why a card number or a secret was hidden (``core.privacy``), the ``/forget`` conversation, the flood
notice. Operators: the ``/forget`` note, and the operators' tools (``/faq``, ``/assign``, ``/cases``).
"""

from __future__ import annotations

CUSTOMER: dict[str, dict[str, str]] = {
    "privacy.masked": {
        "ru": "Я скрыл {what} в вашем сообщении: оператор этого не увидит. Поддержке никогда не нужны пароли, "
        "коды из SMS и полные номера карт — не сообщайте их никому, даже тем, кто представляется поддержкой.",
        "en": "I've hidden {what} in your message: the operator won't see it. Support never needs your password, "
        "SMS codes or full card number: don't give them to anyone, even someone who says they're from support.",
    },
    "privacy.kind.card": {"ru": "номер карты", "en": "a card number"},
    "privacy.kind.password": {"ru": "пароль", "en": "a password"},
    "privacy.kind.code": {"ru": "код", "en": "a code"},
    "privacy.and": {"ru": " и ", "en": " and "},
    "privacy.forget_ask": {
        "ru": "Удалить ваши данные? Я удалю ваш профиль, недавнюю переписку и тексты ваших обращений, а открытое "
        "обращение закрою. Отменить это будет нельзя.\nПодтвердите кнопкой «Да, удалить» или ответьте «да»; "
        "/отмена — ничего не удалять.",
        "en": "Delete your data? I'll delete your profile, our recent conversation and the texts of your cases, "
        'and close your open case. This can\'t be undone.\nConfirm with "Yes, delete" or reply "yes"; '
        "/cancel keeps everything.",
    },
    "privacy.btn_forget_yes": {"ru": "Да, удалить", "en": "Yes, delete"},
    "privacy.btn_forget_no": {"ru": "Не удалять", "en": "Keep my data"},
    "privacy.forget_done": {
        "ru": "Готово: ваши данные удалены. Если напишете снова, начнём с чистого листа.",
        "en": "Done: your data is deleted. If you write again, we'll start from scratch.",
    },
    "privacy.forget_kept": {
        "ru": "Хорошо, ничего не удалено.",
        "en": "All right, nothing was deleted.",
    },
    "privacy.forget_expired": {
        "ru": "Этот запрос на удаление уже неактуален. Чтобы удалить данные, отправьте /forget ещё раз.",
        "en": "That deletion request has expired. To delete your data, send /forget again.",
    },
    "privacy.flood": {
        "ru": "Вы отправили больше {limit} сообщений за минуту. Пожалуйста, пишите реже: до конца минуты я не "
        "отвечаю на каждое сообщение, но все их сохраняю. Связаться с оператором: /operator.",
        "en": "You've sent more than {limit} messages in a minute. Please slow down: until the minute is over I "
        "won't answer each message, but I keep them all. To reach an operator: /operator.",
    },
    "privacy.flood_case": {
        "ru": "Вы отправили больше {limit} сообщений за минуту. Ничего не потеряется: до конца минуты оператор "
        "получит ваши сообщения вместе, одним. Пожалуйста, пишите реже.",
        "en": "You've sent more than {limit} messages in a minute. Nothing will be lost: until the minute is over "
        "the operator gets your messages together, in one. Please slow down.",
    },
}

STAFF: dict[str, dict[str, str]] = {
    "privacy.forgotten": {
        "ru": "🗑 Обращение {number}: клиент попросил удалить свои данные (/forget). Обращение закрыто, тексты "
        "переписки удалены.",
        "en": "🗑 Case {number}: the customer asked to delete their data (/forget). The case is closed and the "
        "texts of the conversation are deleted.",
    },
    "privacy.forgotten_name": {"ru": "(данные удалены)", "en": "(data deleted)"},
    "privacy.deleted_text": {"ru": "[удалено по просьбе клиента]", "en": "[deleted at the customer's request]"},
    # the operators' tools
    "tools.faq_usage": {
        "ru": "Формат: /faq <слова или id статьи FAQ> — отправляет клиенту ответ из FAQ на его языке.",
        "en": "Usage: /faq <words or an FAQ entry id>: sends the customer the FAQ answer in their language.",
    },
    "tools.faq_none": {
        "ru": "В FAQ ничего не нашлось по запросу «{query}». Ничего не отправлено.",
        "en": 'Nothing in the FAQ matches "{query}". Nothing was sent.',
    },
    "tools.faq_pick": {
        "ru": "Какой ответ FAQ отправить клиенту по обращению {number}? Нажмите кнопку (или /faq <id>):",
        "en": "Which FAQ answer should the customer of case {number} get? Press one (or type /faq <id>):",
    },
    "tools.faq_sent": {
        "ru": "📤 {operator} отправил(а) клиенту ответ FAQ «{entry}»:\n{text}",
        "en": '📤 {operator} sent the customer the FAQ answer "{entry}":\n{text}',
    },
    "tools.faq_gone": {
        "ru": "Статьи FAQ «{entry}» больше нет (FAQ изменился). Ничего не отправлено: попробуйте /faq ещё раз.",
        "en": 'The FAQ entry "{entry}" is gone (the FAQ changed). Nothing was sent: try /faq again.',
    },
    "tools.assign_usage": {
        "ru": "Формат: /assign @username — или ответьте «/assign» на сообщение оператора.",
        "en": "Usage: /assign @username, or reply /assign to an operator's message.",
    },
    "tools.assigned": {
        "ru": "👤 Обращение {number} назначено: {who} (назначил(а) {by}).",
        "en": "👤 Case {number} is assigned to {who} (by {by}).",
    },
    "tools.assigned_already": {
        "ru": "Обращение {number} уже назначено: {who}.",
        "en": "Case {number} is assigned to {who} already.",
    },
    "tools.cases_none": {"ru": "Открытых обращений нет.", "en": "No open cases."},
    "tools.cases_header": {
        "ru": "Открытые обращения ({n}), самые старые сверху:",
        "en": "Open cases ({n}), oldest first:",
    },
    "tools.cases_line": {
        "ru": "{icon} {number} · {channel} · {name} · {age} · {owner}",
        "en": "{icon} {number} · {channel} · {name} · {age} · {owner}",
    },
    "tools.cases_more": {"ru": "…и ещё {n}", "en": "…and {n} more"},
    "tools.nobody": {"ru": "не назначено", "en": "unassigned"},
    "tools.age_minutes": {"ru": "{m} мин", "en": "{m} min"},
    "tools.age_hours": {"ru": "{h} ч {m} мин", "en": "{h} h {m} min"},
    "tools.age_days": {"ru": "{d} д {h} ч", "en": "{d} d {h} h"},
}
