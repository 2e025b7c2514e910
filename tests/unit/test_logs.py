"""Logs: LOG_FORMAT=json gives one JSON object per line with the case and channel being handled, and no line
ever holds a configured token or secret, nor anything shaped like a Telegram bot token."""

from __future__ import annotations

import io
import json
import logging
import sys
from urllib.parse import quote

import pytest

from bots import logs
from core.config import Settings

TG_TOKEN = "7012345678:AAH" + "x" * 32  # digits:35
SECRETS = {
    "TELEGRAM_BOT_TOKEN": TG_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": "hook-secret_123",
    "VK_GROUP_TOKEN": "vk1.a.VkGroupTokenThatIsQuiteLongIndeed-0123456789abcdef",
    "VK_CALLBACK_SECRET": "vk-callback-secret",
    "WHATSAPP_TOKEN": "EAAGwhatsappTokenValue1234567890",
    "WHATSAPP_APP_SECRET": "0123456789abcdef0123456789abcdef",
    "WHATSAPP_VERIFY_TOKEN": "verify me please",
}
REDIS_PASSWORD = "p@ss/word!42"
OTHER_TOKEN = "5550001:BBF" + "y" * 32  # not configured, but shaped like a bot token


def settings(fmt: str) -> Settings:
    return Settings(
        **SECRETS,
        TELEGRAM_STAFF_CHAT_ID=-1001,
        REDIS_URL=f"redis://:{quote(REDIS_PASSWORD, safe='')}@redis:6379/0",
        LOG_FORMAT=fmt,
        LOG_LEVEL="DEBUG",
        _env_file=None,
    )


@pytest.fixture
def captured():
    """``captured(fmt)`` -> the stream every log line goes to, after ``setup_logging``; the logging set-up of the
    process is restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, sys.excepthook)

    def setup(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        logs.setup_logging(settings(fmt), stream)
        return stream

    yield setup
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    sys.excepthook = saved[2]
    logging.captureWarnings(False)


def leak_everything() -> None:
    log = logging.getLogger("bots.telegram")
    secrets = [*SECRETS.values(), REDIS_PASSWORD]
    log.info("starting with %s", ", ".join(secrets))
    log.warning("GET https://api.telegram.org/bot%s/getMe failed", TG_TOKEN)
    log.info("an update mentioned %s", OTHER_TOKEN)
    log.debug("query string access_token=%s&v=5.199", quote(SECRETS["VK_GROUP_TOKEN"], safe=""))
    try:
        try:
            raise ConnectionError(f"cannot connect to redis://:{REDIS_PASSWORD}@redis:6379")
        except ConnectionError as inner:
            raise RuntimeError(
                f"POST https://api.telegram.org/bot{TG_TOKEN}/sendMessage: {SECRETS['WHATSAPP_TOKEN']}"
            ) from inner
    except RuntimeError:
        log.exception("send failed (secret %s)", SECRETS["WHATSAPP_APP_SECRET"])
    with logs.context(case=12, channel="vk"):
        logging.getLogger("bots.intake").error("handling with %s", SECRETS["VK_CALLBACK_SECRET"])
    try:
        raise ValueError(f"unhandled {SECRETS['TELEGRAM_WEBHOOK_SECRET']}")
    except ValueError:
        sys.excepthook(*sys.exc_info())


def assert_nothing_secret(text: str) -> None:
    for value in [*SECRETS.values(), REDIS_PASSWORD, OTHER_TOKEN, quote(SECRETS["VK_GROUP_TOKEN"], safe="")]:
        assert value not in text, f"{value!r} leaked"
    assert "***" in text


def test_json_lines_parse_and_hold_no_secret(captured):
    stream = captured("json")
    leak_everything()
    text = stream.getvalue()
    assert_nothing_secret(text)
    lines = text.splitlines()
    assert len(lines) == 7  # one line per record, tracebacks included
    records = [json.loads(line) for line in lines]
    for r in records:
        assert {"ts", "level", "logger", "message"} <= set(r)
        assert r["ts"].endswith("Z")
    assert records[1]["message"] == "GET https://api.telegram.org/bot***/getMe failed"
    failed = records[4]
    assert failed["level"] == "ERROR" and "Traceback" in failed["exc"] and "ConnectionError" in failed["exc"]
    assert "bot***/sendMessage" in failed["exc"]
    handled = records[5]
    assert handled["case"] == 12 and handled["channel"] == "vk" and handled["logger"] == "bots.intake"
    assert "case" not in records[0] and "channel" not in records[0]
    assert records[6]["level"] == "CRITICAL" and "ValueError" in records[6]["exc"]


def test_text_lines_hold_no_secret_and_name_the_case(captured):
    stream = captured("text")
    leak_everything()
    text = stream.getvalue()
    assert_nothing_secret(text)
    assert "[case=12 channel=vk]" in text
    assert "Traceback" in text


def test_context_is_restored_after_the_block():
    with logs.context(channel="telegram"):
        logs.bind(case=3)
        assert logs.current() == {"channel": "telegram", "case": 3}
        with logs.context(case=None, channel="vk"):
            assert logs.current() == {"channel": "vk", "case": 3}
        assert logs.current() == {"channel": "telegram", "case": 3}
    assert logs.current() == {}


def test_short_values_are_not_treated_as_secrets():
    redactor = logs.Redactor(["ab", "", "long-enough"])
    assert redactor.redact("ab long-enough abc") == "ab *** abc"
