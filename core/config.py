"""Settings: environment variables and an optional `.env` file (pydantic-settings).

Every setting is listed, with a one-line comment, in `.env.example`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from core.hours import WorkingHours

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FAQ_PATH = REPO_ROOT / "faq_data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )  # "NAME=" in .env means "not set"

    # core
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_prefix: str = Field(default="sb:", alias="REDIS_PREFIX")
    # Redis behind Sentinel: "host:port,host:port" and the monitored master's name (instead of REDIS_URL's host)
    redis_sentinels: str | None = Field(default=None, alias="REDIS_SENTINELS")
    redis_master_name: str | None = Field(default=None, alias="REDIS_MASTER_NAME")
    faq_path: Path = Field(default=DEFAULT_FAQ_PATH, alias="FAQ_PATH")
    faq_answer_threshold: float | None = Field(default=None, ge=0, le=1, alias="FAQ_ANSWER_THRESHOLD")
    faq_suggest_threshold: float | None = Field(default=None, ge=0, le=1, alias="FAQ_SUGGEST_THRESHOLD")
    faq_alternatives_threshold: float | None = Field(default=None, ge=0, le=1, alias="FAQ_ALTERNATIVES_THRESHOLD")
    default_language: Literal["ru", "en"] = Field(default="ru", alias="DEFAULT_LANGUAGE")
    staff_language: Literal["ru", "en"] | None = Field(default=None, alias="STAFF_LANGUAGE")
    timezone: str = Field(default="UTC", alias="TIMEZONE")
    max_message_chars: int = Field(default=4000, alias="MAX_MESSAGE_CHARS")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # log lines: "text" (one readable line) or "json" (one JSON object per line); tokens are never written
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")
    delivery_give_up_after: float = Field(default=6 * 3600.0, gt=0, alias="DELIVERY_GIVE_UP_AFTER")

    # support playbook: working hours, the first-response SLA, escalation (core.hours, core.desk.sla, bots.sla)
    working_hours: str = Field(default="24/7", alias="WORKING_HOURS")
    holidays: str | None = Field(default=None, alias="HOLIDAYS")
    first_response_sla_minutes: float = Field(default=15.0, ge=0, alias="FIRST_RESPONSE_SLA_MINUTES")
    onduty_usernames: str | None = Field(default=None, alias="ONDUTY_USERNAMES")
    telegram_escalation_chat_id: int | None = Field(default=None, alias="TELEGRAM_ESCALATION_CHAT_ID")
    # support playbook: follow-ups and callbacks (core.desk.requests)
    reopen_days: float = Field(default=7.0, ge=0, alias="REOPEN_DAYS")
    phone_region: str = Field(default="RU", alias="PHONE_REGION")
    # support playbook: a customer's messages a minute before they are slowed down (core.desk.privacy; 0: off)
    flood_limit: int = Field(default=20, ge=0, alias="FLOOD_LIMIT")
    # managers (core.stats, core.desk.managers, bots.digest): Telegram user ids allowed /stats and /gaps, who get
    # the daily digest at DIGEST_TIME (HH:MM in TIMEZONE; unset: no digest); raw events are kept this many days
    manager_ids: str | None = Field(default=None, alias="MANAGER_IDS")
    digest_time: str | None = Field(default=None, alias="DIGEST_TIME")
    events_retention_days: float = Field(default=400, gt=0, alias="EVENTS_RETENTION_DAYS")

    @field_validator("manager_ids")
    @classmethod
    def _manager_ids(cls, value: str | None) -> str | None:
        for item in (value or "").replace(";", ",").replace(" ", ",").split(","):
            if item and not item.lstrip("-").isdigit():
                raise ValueError(f"{item!r} is not a Telegram user id (numbers, comma-separated: 12345,67890)")
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str | None) -> str | None:
        if value and parse_clock_time(value) is None:
            raise ValueError(f"{value!r} is not a time of day (use HH:MM, e.g. 09:00)")
        return value or None

    @property
    def managers(self) -> frozenset[str]:
        """MANAGER_IDS as a set of Telegram user ids (strings)."""
        items = (value for value in (self.manager_ids or "").replace(";", ",").replace(" ", ",").split(","))
        return frozenset(item for item in items if item)

    @property
    def digest_at(self) -> tuple[int, int] | None:
        """DIGEST_TIME as (hour, minute), None when unset."""
        return parse_clock_time(self.digest_time) if self.digest_time else None

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (use a two-letter country code such as RU)")
        return value.upper()

    @field_validator("working_hours", "holidays", "onduty_usernames")
    @classmethod
    def _playbook_values(cls, value: str | None, info: ValidationInfo) -> str | None:
        from core.hours import WorkingHours, parse_holidays, parse_usernames

        if info.field_name == "working_hours":
            WorkingHours.parse(value, "UTC")
        elif info.field_name == "holidays":
            parse_holidays(value)
        else:
            parse_usernames(value)
        return value

    @property
    def hours(self) -> WorkingHours:
        """WORKING_HOURS in TIMEZONE, with HOLIDAYS (``core.hours``)."""
        from core.hours import WorkingHours

        return WorkingHours.parse(self.working_hours, self.timezone, self.holidays)

    @property
    def onduty(self) -> tuple[str, ...]:
        """ONDUTY_USERNAMES as ``@name``s."""
        from core.hours import parse_usernames

        return parse_usernames(self.onduty_usernames)

    # Telegram
    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_staff_chat_id: int | None = Field(default=None, alias="TELEGRAM_STAFF_CHAT_ID")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")

    # VK
    vk_group_token: str | None = Field(default=None, alias="VK_GROUP_TOKEN")
    vk_group_id: int | None = Field(default=None, alias="VK_GROUP_ID")
    vk_api_url: str = Field(default="https://api.vk.ru", alias="VK_API_URL")
    vk_callback_secret: str | None = Field(default=None, alias="VK_CALLBACK_SECRET")
    vk_confirmation_code: str | None = Field(default=None, alias="VK_CONFIRMATION_CODE")

    # WhatsApp Cloud API
    whatsapp_token: str | None = Field(default=None, alias="WHATSAPP_TOKEN")
    whatsapp_phone_number_id: str | None = Field(default=None, alias="WHATSAPP_PHONE_NUMBER_ID")
    whatsapp_app_secret: str | None = Field(default=None, alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: str | None = Field(default=None, alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_api_url: str = Field(default="https://graph.facebook.com", alias="WHATSAPP_API_URL")
    whatsapp_reopen_template: str | None = Field(default=None, alias="WHATSAPP_REOPEN_TEMPLATE")

    # built-in web server (webhooks, /healthz)
    http_host: str = Field(default="0.0.0.0", alias="HTTP_HOST")
    http_port: int = Field(default=8080, alias="HTTP_PORT")

    @property
    def staff_lang(self) -> str:
        """What operators read: STAFF_LANGUAGE, else DEFAULT_LANGUAGE."""
        return self.staff_language or self.default_language

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from exc
        return value

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def vk_enabled(self) -> bool:
        return bool(self.vk_group_token and self.vk_group_id)

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_token and self.whatsapp_phone_number_id)


def parse_clock_time(text: str) -> tuple[int, int] | None:
    """``"09:00"`` -> (9, 0); None when it is no time of day."""
    hour, colon, minute = text.strip().partition(":")
    if not colon or not (hour.isdigit() and minute.isdigit() and len(minute) == 2):
        return None
    h, m = int(hour), int(minute)
    return (h, m) if 0 <= h < 24 and 0 <= m < 60 else None
