"""Logging for `supportbot run`: text or JSON lines, the case and channel being handled, and no secrets ever.

``setup_logging(settings)`` sends every log record to stderr, one line each: ``LOG_FORMAT=text`` (default,
``2026-01-01 10:00:00,000 INFO bots.intake: ... [case=12 channel=vk]``) or ``LOG_FORMAT=json`` (one object per
line: ``ts``, ``level``, ``logger``, ``message``, ``case`` and ``channel`` when known, ``exc`` with the
traceback of an exception).

``context(case=..., channel=...)`` (a context manager over a ``contextvars`` variable) says what is being
handled: the intake sets it around each event, the delivery worker around each send; ``bind`` adds to it.

``Redactor``: every configured token and secret (``TELEGRAM_BOT_TOKEN``, ``VK_GROUP_TOKEN``, ``WHATSAPP_TOKEN``,
``WHATSAPP_APP_SECRET``, ``WHATSAPP_VERIFY_TOKEN``, ``TELEGRAM_WEBHOOK_SECRET``, ``VK_CALLBACK_SECRET``, the Redis
password) and anything shaped like a Telegram bot token is replaced by ``***`` in the message, its arguments,
exception texts and tracebacks, before any handler formats the record.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
TELEGRAM_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
MIN_SECRET = 4  # shorter values are not secrets worth the name (and masking them would garble every line)
SECRET_SETTINGS = (
    "telegram_bot_token",
    "telegram_webhook_secret",
    "vk_group_token",
    "vk_callback_secret",
    "whatsapp_token",
    "whatsapp_app_secret",
    "whatsapp_verify_token",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("supportbot_log_context", default={})  # noqa: B039 - never mutated


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Within the block, log lines carry ``fields`` (None values are left out); restored afterwards."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` to the current context (inside a ``context`` block: undone when the block ends)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def current() -> dict[str, Any]:
    return dict(_context.get())


def secrets_of(settings: Any) -> list[str]:
    """The values ``Redactor`` must hide: tokens, secrets and the Redis password of ``settings``."""
    found = [getattr(settings, name, None) for name in SECRET_SETTINGS]
    url = getattr(settings, "redis_url", None)
    if url:
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password
            found += [password, unquote(password)] if password else []
    return [s for s in found if s]


class Redactor(logging.Filter):
    """Rewrites each record so that no secret survives: message and arguments, exception and stack texts."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        values: set[str] = set()
        for s in secrets:
            s = str(s).strip()
            if len(s) >= MIN_SECRET:
                values |= {s, quote(s, safe="")}
        # longest first: a secret that contains another is masked whole
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))) if values else None
        )

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return TELEGRAM_TOKEN_SHAPE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # formatted and redacted above: no handler formats the raw one again
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor):
        super().__init__(TEXT_FORMAT)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = getattr(record, "ctx", None) or current()
        if ctx:
            line += " [" + " ".join(f"{k}={v}" for k, v in ctx.items()) + "]"
        return self.redactor.redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, message, case, channel, exc."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        red = self.redactor.redact
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        obj: dict[str, Any] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": red(record.getMessage()),
        }
        ctx = getattr(record, "ctx", None) or current()
        for key, value in ctx.items():
            obj[key] = red(str(value)) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            obj["exc"] = red(record.exc_text)
        if record.stack_info:
            obj["stack"] = red(record.stack_info)
        return json.dumps(obj, ensure_ascii=False, default=str)


class _ContextFilter(logging.Filter):
    """Keeps the context of the moment on the record (a handler may format it later, elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "ctx"):
            record.ctx = current()
        return True


def setup_logging(settings: Any, stream: TextIO | None = None) -> logging.Handler:
    """Route every log record through one redacting handler on ``stream`` (stderr), in ``LOG_FORMAT``.

    Replaces the root logger's handlers; unhandled exceptions are logged (so redacted) too. Returns the handler.
    """
    redactor = Redactor(secrets_of(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.addFilter(redactor)
    fmt = str(getattr(settings, "log_format", "text") or "text").lower()
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else TextFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(str(getattr(settings, "log_level", "INFO")).upper())
    logging.captureWarnings(True)

    def excepthook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        logging.getLogger("supportbot").critical("unhandled error", exc_info=(kind, value, tb))

    sys.excepthook = excepthook
    return handler
