"""Texts of the playbook's requests part, merged into ``core.texts.TEXTS`` and ``core.texts.staff.STAFF``.

Status at hand, follow-ups (a resolved case reopened, a new case following up an old one), the details asked
for before a handoff, callbacks (``core.desk.requests``).
"""

from __future__ import annotations

CUSTOMER: dict[str, dict[str, str]] = {
    # status at hand
    "requests.status_header": {"ru": "Ваши обращения:", "en": "Your cases:"},
    "requests.status_line": {
        "ru": "{number} — {status}, создано {created}, последнее действие {last}",
        "en": "{number} — {status}, opened {created}, last activity {last}",
    },
    "requests.status_more": {
        "ru": "Подробнее об одном из них: /status {id}",
        "en": "One of them in detail: /status {id}",
    },
    "requests.status_one": {
        "ru": "Обращение {number}: {status}.\nСоздано: {created}\nПоследнее действие: {last}\n{next}",
        "en": "Case {number}: {status}.\nOpened: {created}\nLast activity: {last}\n{next}",
    },
    "requests.status_next.accepted": {
        "ru": "Оно ждёт оператора — ответ придёт сюда.",
        "en": "It is waiting for an operator; the reply will come here.",
    },
    "requests.status_next.in_progress": {
        "ru": "Оператор занимается им — ответ придёт сюда.",
        "en": "An operator is working on it; the reply will come here.",
    },
    "requests.status_next.needs_info": {
        "ru": "Оператор ждёт от вас уточнений — ответьте, пожалуйста, здесь.",
        "en": "The operator is waiting for details from you: please reply here.",
    },
    "requests.status_next.resolved": {
        "ru": "Если вопрос не решён, напишите сюда и укажите номер {number}.",
        "en": "If the problem remains, write here and quote {number}.",
    },
    "requests.status_next.cancelled": {
        "ru": "Вы закрыли его сами. Если вопрос остался, напишите сюда и укажите номер {number}.",
        "en": "You closed it yourself. If the problem remains, write here and quote {number}.",
    },
    "requests.status_unknown": {
        "ru": "Среди ваших обращений нет {number}. Все ваши обращения: /status",
        "en": "None of your cases is {number}. All your cases: /status",
    },
    # status changes the customer feels
    "requests.taken": {
        "ru": "Оператор {operator} подключился: обращение {number} в работе.",
        "en": "Operator {operator} has joined: case {number} is in progress.",
    },
    "requests.back_to_operator": {
        "ru": "Спасибо! Обращение {number} снова у оператора (в работе).",
        "en": "Thank you! Case {number} is back with the operator (in progress).",
    },
    # follow-ups
    "requests.reopened": {
        "ru": "Обращение {number} снова открыто: ваше сообщение передано оператору, ответ придёт сюда.",
        "en": "Case {number} is open again: your message went to the operator, and the reply will come here.",
    },
    "requests.reopened_ask": {
        "ru": "Обращение {number} снова открыто. Напишите, что осталось нерешённым, — оператор ответит здесь.",
        "en": "Case {number} is open again. Write what is still unresolved, and the operator will reply here.",
    },
    # preparing the request
    "requests.ask_before": {
        "ru": "Чтобы оператор помог быстрее, опишите, пожалуйста, проблему одним сообщением{what}. Можно приложить "
        "скриншоты или фото. Поддержка никогда не спрашивает пароль и коды из SMS — не отправляйте их. "
        "Добавить нечего — нажмите «Пропустить».",
        "en": "To help the operator sort it out faster, please describe the problem in one message{what}. "
        "Screenshots and photos are welcome. Support never asks for your password or SMS codes, so please don't "
        "send them. Nothing to add? Press “Skip”.",
    },
    "requests.ask_after": {
        "ru": "Пока оператор подключается, опишите, пожалуйста, проблему подробнее{what} — можно приложить "
        "скриншоты. Поддержка никогда не спрашивает пароль и коды из SMS.",
        "en": "While an operator joins, please describe the problem in more detail{what}; screenshots are welcome. "
        "Support never asks for your password or SMS codes.",
    },
    "requests.ask_items": {"ru": " и укажите: {items}", "en": " and include: {items}"},
    "requests.btn_skip": {"ru": "Пропустить", "en": "Skip"},
    "requests.flow_cancelled": {
        "ru": "Хорошо, отменено. Напишите вопрос, если нужна помощь.",
        "en": "OK, cancelled. Type a question if you need help.",
    },
    # callbacks
    "requests.ask_phone": {
        "ru": "На какой номер вам перезвонить? Напишите его, например: +7 900 123-45-67. Передумали — /cancel.",
        "en": "Which number should we call you back on? Type it, e.g. +7 900 123-45-67. Changed your mind? /cancel",
    },
    "requests.btn_share_phone": {"ru": "📱 Отправить мой номер", "en": "📱 Share my number"},
    "requests.phone_invalid": {
        "ru": "Не похоже на номер телефона. Напишите его полностью, например: +7 900 123-45-67 (или /cancel).",
        "en": "That doesn't look like a phone number. Please type it in full, e.g. +7 900 123-45-67 (or /cancel).",
    },
    "requests.phone_gave_up": {
        "ru": "Не получилось разобрать номер, и запрос на звонок отменён. Попробовать ещё раз: /callback. "
        "Или просто напишите вопрос.",
        "en": "I couldn't read the number, so the callback request is cancelled. To try again: /callback. "
        "Or just type your question.",
    },
    "requests.ask_time": {
        "ru": "Номер: {phone}. Когда вам удобно принять звонок? Например: «сегодня после 18:00» или «завтра утром».",
        "en": "Number: {phone}. When is a good time to call you? For example: “today after 6 pm” or “tomorrow "
        "morning”.",
    },
    "requests.callback_booked": {
        "ru": "Мы перезвоним на {phone}, удобное время: {when}. Если планы изменятся, напишите сюда.",
        "en": "We'll call you at {phone}; a good time: {when}. If your plans change, write here.",
    },
    "requests.callback_noted": {
        "ru": "Добавлено к обращению {number}: перезвоним на {phone}, удобное время: {when}.",
        "en": "Added to case {number}: we'll call you at {phone}; a good time: {when}.",
    },
}

STAFF: dict[str, dict[str, str]] = {
    "requests.reopened": {
        "ru": "🔁 Обращение {number} → снова открыто: клиент написал после решения.",
        "en": "🔁 Case {number} → reopened: the customer wrote again after it was resolved.",
    },
    "requests.callback": {
        "ru": "📞 Клиент просит перезвонить: {phone} · удобное время: {when}",
        "en": "📞 The customer asks for a call back: {phone} · a good time: {when}",
    },
    "requests.called": {
        "ru": "📞 Обращение {number}: клиенту перезвонили ({operator}).",
        "en": "📞 Case {number}: the customer was called back ({operator}).",
    },
    # lines of the case card
    "requests.card.follows": {"ru": "↩️ Продолжение обращения {number}", "en": "↩️ Follow-up to {number}"},
    "requests.card.callback": {
        "ru": "📞 Обратный звонок: {phone} · удобное время: {when}",
        "en": "📞 Callback: {phone} · a good time: {when}",
    },
    "requests.card.called": {"ru": "Перезвонили: {at} ({operator})", "en": "Called back: {at} ({operator})"},
    "requests.card.asked": {"ru": "Бот попросил указать: {items}", "en": "The bot asked for: {items}"},
    "requests.card.details": {"ru": "Описание от клиента: {text}", "en": "The customer's description: {text}"},
    "requests.card.skipped": {
        "ru": "Клиент пропустил вопросы бота.",
        "en": "The customer skipped the bot's questions.",
    },
    # the card's "reason:" (``core.cards`` reads every ``reason.*`` key)
    "reason.callback": {"ru": "обратный звонок", "en": "callback"},
}
