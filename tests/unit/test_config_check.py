"""`supportbot run` refuses configurations that would lose messages or accept forged ones."""

import pytest

from bots.runner import ConfigError, check
from core.config import Settings

GOOD = {"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_STAFF_CHAT_ID": "-1001", "REDIS_URL": "redis://127.0.0.1:6379/0"}


def settings(**aliases) -> Settings:
    return Settings(_env_file=None, **{**GOOD, **aliases})


def test_a_complete_configuration_passes():
    check(settings())
    check(settings(VK_GROUP_TOKEN="t", VK_GROUP_ID="5", VK_CALLBACK_SECRET="s", VK_CONFIRMATION_CODE="c"))
    check(settings(TELEGRAM_WEBHOOK_URL="https://x/webhooks/telegram", TELEGRAM_WEBHOOK_SECRET="s"))


@pytest.mark.parametrize(
    ("aliases", "says"),
    [
        ({"TELEGRAM_BOT_TOKEN": None, "VK_GROUP_TOKEN": "t", "VK_GROUP_ID": "5"}, "TELEGRAM_STAFF_CHAT_ID"),
        ({"TELEGRAM_STAFF_CHAT_ID": None}, "TELEGRAM_STAFF_CHAT_ID"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "https://x/webhooks/telegram"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1"}, "WHATSAPP_APP_SECRET"),
        ({"VK_GROUP_TOKEN": "t", "VK_GROUP_ID": "5", "VK_CALLBACK_SECRET": "s"}, "VK_CONFIRMATION_CODE"),
    ],
)
def test_refused_with_a_reason(aliases, says):
    with pytest.raises(ConfigError, match=says):
        check(settings(**aliases))


def test_the_example_env_file_loads_as_is():
    from core.config import REPO_ROOT

    loaded = Settings(_env_file=REPO_ROOT / ".env.example")  # "NAME=" lines mean "not set"
    assert loaded.faq_answer_threshold is None and loaded.telegram_staff_chat_id is None
    # `cp .env.example .env` must not break `supportbot chat`: nothing that needs a server is set
    assert loaded.redis_url is None and loaded.telegram_bot_token is None and loaded.http_port == 8080


@pytest.mark.parametrize(
    "aliases", [{"FAQ_ANSWER_THRESHOLD": "1.5"}, {"FAQ_SUGGEST_THRESHOLD": "-0.1"}, {"DEFAULT_LANGUAGE": "de"}]
)
def test_out_of_range_settings_are_refused(aliases):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        settings(**aliases)


def test_the_alternatives_threshold_reaches_the_matcher_and_can_switch_the_band_off():
    from bots.app import build_matcher
    from core.faq import Band

    assert build_matcher(settings(FAQ_ALTERNATIVES_THRESHOLD="0.7")).alternatives_threshold == 0.7
    off = build_matcher(settings(FAQ_ALTERNATIVES_THRESHOLD="0.8", FAQ_ANSWER_THRESHOLD="0.8"))
    for text in ("where is my parcel though", "do you work on sundays", "как вернуть деньги"):
        assert off.match(text).band is not Band.ANSWER_ALTERNATIVES
