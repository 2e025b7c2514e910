"""Telegram: customers' private chats and the operators' staff supergroup (one forum topic per case)."""

from bots.telegram.api import TelegramOptions
from bots.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel", "TelegramOptions"]
