"""Customer-facing strings, in Russian and English. ``t(key, lang, **values)`` picks and fills one."""

from __future__ import annotations

LANGUAGES = ("ru", "en")

TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я бот поддержки. Напишите свой вопрос — я постараюсь сразу ответить, "
        "а если не смогу, передам обращение оператору.\n"
        "Команды: /help — помощь, /operator — связаться с человеком, /status — мои обращения.",
        "en": "Hello! I'm the support bot. Type your question and I'll try to answer right away; "
        "if I can't, I'll pass your request to an operator.\n"
        "Commands: /help, /operator to talk to a person, /status for your cases.",
    },
    "help": {
        "ru": "Просто напишите вопрос своими словами.\n"
        "/operator — позвать оператора\n/status — статус моих обращений (/status 123 — одного)\n"
        "/callback — попросить перезвонить\n"
        "/cancel — отменить текущее действие или закрыть моё обращение\n/start — начать заново\n"
        "Поддержка никогда не спрашивает пароль и коды из SMS.",
        "en": "Just type your question in your own words.\n"
        "/operator — talk to a person\n/status — status of my cases (/status 123: one of them)\n"
        "/callback — ask us to call you back\n"
        "/cancel — cancel the current step or close my open case\n/start — start over\n"
        "Support never asks for your password or SMS codes.",
    },
    "suggest": {
        "ru": "Не уверен, что понял. Возможно, вы имели в виду:",
        "en": "I'm not sure I understood. Did you mean:",
    },
    "no_match": {
        "ru": "К сожалению, я не нашёл ответа на этот вопрос. Передать обращение оператору?",
        "en": "Sorry, I couldn't find an answer to that. Shall I pass your request to an operator?",
    },
    "rephrase_hint": {
        "ru": "Хорошо. Попробуйте сформулировать вопрос иначе или нажмите /operator.",
        "en": "All right. Try asking in other words, or send /operator.",
    },
    "attachment_no_case": {
        "ru": "Я не умею читать файлы. Передать их оператору?",
        "en": "I can't read files. Shall I pass them to an operator?",
    },
    "btn_operator": {"ru": "Позвать оператора", "en": "Talk to a person"},
    "btn_not_helped": {"ru": "Не помогло", "en": "Didn't help"},
    "btn_none_of_these": {"ru": "Ничего из этого — к оператору", "en": "None of these: a person, please"},
    "btn_rephrase": {"ru": "Спрошу иначе", "en": "I'll rephrase"},
    "handoff": {
        "ru": "Обращение {number} создано и передано оператору. Статус: принято. Ответ придёт сюда же. "
        "Если понадобится, назовите номер {number}.",
        "en": "Case {number} is open and passed to an operator. Status: accepted. The reply will come here. "
        "Quote {number} if you need to refer to it.",
    },
    "already_open": {
        "ru": "У вас уже есть открытое обращение {number} (статус: {status}). Пишите сюда — оператор всё увидит.",
        "en": "You already have an open case {number} (status: {status}). Write here: the operator sees it all.",
    },
    "status_changed.in_progress": {
        "ru": "Оператор {operator} взял ваше обращение {number} в работу.",
        "en": "Operator {operator} is now working on your case {number}.",
    },
    "status_changed.needs_info": {
        "ru": "По обращению {number} оператору нужна дополнительная информация. Пожалуйста, ответьте здесь.",
        "en": "The operator needs more information on case {number}. Please reply here.",
    },
    "status_changed.resolved": {
        "ru": "Обращение {number} решено. Если вопрос появится снова — просто напишите.",
        "en": "Case {number} is resolved. If anything comes up again, just write.",
    },
    "escalated": {
        "ru": "Ваше обращение {number} передано старшему специалисту.",
        "en": "Your case {number} has been passed to a senior specialist.",
    },
    "rate_prompt": {
        "ru": "Оцените, пожалуйста, помощь по обращению {number} от 1 до 5.",
        "en": "Please rate the help with case {number} from 1 to 5.",
    },
    "rate_thanks": {
        "ru": "Спасибо за оценку {stars} из 5! Если хотите, напишите комментарий одним сообщением.",
        "en": "Thank you for rating us {stars} out of 5! If you like, write a comment in one message.",
    },
    "comment_thanks": {
        "ru": "Спасибо, ваш комментарий передан команде поддержки.",
        "en": "Thank you, your comment has been passed to the support team.",
    },
    "not_it": {
        "ru": "Не то? Возможно, вы имели в виду:",
        "en": "Not it? Perhaps you meant:",
    },
    "rate_low": {
        "ru": "Жаль, что не всё получилось. Если вопрос не решён, напишите — откроем новое обращение.",
        "en": "Sorry it didn't go well. If the problem remains, write to us and we'll open a new case.",
    },
    "status_header": {"ru": "Ваши обращения:", "en": "Your cases:"},
    "status_line": {"ru": "{number} — {status}, создано {created}", "en": "{number} — {status}, opened {created}"},
    "status_none": {
        "ru": "У вас пока нет обращений. Напишите вопрос или /operator.",
        "en": "You have no cases yet. Type a question or /operator.",
    },
    "cancel_case": {
        "ru": "Обращение {number} закрыто по вашей просьбе.",
        "en": "Case {number} is closed at your request.",
    },
    "cancel_nothing": {
        "ru": "Нечего отменять. Напишите вопрос, если нужна помощь.",
        "en": "Nothing to cancel. Type a question if you need help.",
    },
    "unknown_command": {
        "ru": "Не знаю команды {command}. Доступны: /start, /help, /operator, /status, /callback, /cancel.",
        "en": "I don't know the command {command}. Available: /start, /help, /operator, /status, /callback, /cancel.",
    },
    "empty_message": {
        "ru": "Пустое сообщение. Напишите вопрос текстом.",
        "en": "The message is empty. Please type your question.",
    },
    "choice_expired": {
        "ru": "Этот вариант уже неактуален. Напишите вопрос заново.",
        "en": "That choice has expired. Please type your question again.",
    },
    "status.accepted": {"ru": "принято", "en": "accepted"},
    "status.in_progress": {"ru": "в работе", "en": "in progress"},
    "status.needs_info": {"ru": "требует уточнений", "en": "needs info"},
    "status.resolved": {"ru": "решено", "en": "resolved"},
    "status.cancelled": {"ru": "отменено", "en": "cancelled"},
    "not_delivered_staff": {
        "ru": "Не удалось передать ваше сообщение оператору. Пожалуйста, повторите его чуть позже.",
        "en": "Your message could not be passed to the operator. Please send it again a little later.",
    },
    "wa_list_button": {  # WhatsApp: the button that opens a list of choices (at most 20 characters)
        "ru": "Выбрать",
        "en": "Choose",
    },
    "reopened": {
        "ru": "Обращение {number} снова открыто: оператор продолжит работу. Пишите сюда.",
        "en": "Case {number} is open again: the operator has more to add. Write here.",
    },
    "not_helped": {
        "ru": "Жаль, что ответ не помог. Передать обращение оператору?",
        "en": "Sorry that didn't help. Shall I pass your request to an operator?",
    },
    "small_talk_hello": {
        "ru": "Здравствуйте! Напишите, пожалуйста, ваш вопрос — я постараюсь помочь.",
        "en": "Hello! Please type your question and I'll do my best to help.",
    },
    "small_talk_thanks": {
        "ru": "Пожалуйста! Если появятся вопросы — пишите.",
        "en": "You're welcome! Write any time you have a question.",
    },
    "unsupported_message": {
        "ru": "Такой тип сообщения не поддерживается. Пожалуйста, отправьте текст или фото.",
        "en": "This kind of message isn't supported. Please send text or a photo.",
    },
    "no_words": {
        "ru": "Напишите, пожалуйста, вопрос словами — так я смогу найти ответ.",
        "en": "Please describe your question in words, so I can find an answer.",
    },
}


def _merge() -> None:
    """The playbook's texts live next to their parts (core/texts/requests.py, hours.py, privacy.py,
    managers.py): their
    customer texts join ``TEXTS``, their staff texts ``core.texts.staff.STAFF``."""
    from core.texts import hours, managers, privacy, requests, staff

    for part in (requests, hours, privacy, managers):
        for mine, theirs in ((TEXTS, part.CUSTOMER), (staff.STAFF, part.STAFF)):
            overlap = mine.keys() & theirs.keys()
            assert not overlap, f"text keys defined twice: {overlap}"
            mine.update(theirs)


_merge()


def t(key: str, lang: str | None, **values: object) -> str:
    variants = TEXTS[key]
    text = variants.get(lang or "ru") or variants["en"]
    return text.format(**values) if values else text


def detect_language(text: str, platform_code: str | None = None, fallback: str = "ru") -> str:
    """Russian or English: from the script of the text when it has letters, else the platform's code."""
    cyr = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    lat = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    if cyr + lat >= 3:
        return "ru" if cyr >= lat else "en"
    if platform_code:
        code = platform_code.lower().split("-")[0].split("_")[0]
        return "ru" if code in {"ru", "uk", "be", "kk", "uz", "ky", "tg", "hy", "az"} else "en"
    return fallback
