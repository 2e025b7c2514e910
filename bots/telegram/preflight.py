"""Telegram's preflight: the token and the staff group checked before anything runs (``supportbot run`` and
``supportbot doctor``, through ``TelegramChannel.preflight``); a problem is a ``ConfigError`` of one line that
says how to fix it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramUnauthorizedError,
)

from bots.ports import ConfigError, Unavailable

if TYPE_CHECKING:
    from bots.telegram.api import TelegramApi

PREFLIGHT_TRIES = 5


async def preflight(api: TelegramApi) -> None:
    """Check the token and the staff group before anything runs; a problem -> ``ConfigError`` (one line).

    The token must be accepted (getMe); the staff chat must exist, be a supergroup and have this bot as an
    administrator, with "Manage topics" when the group has topics. Network failures are retried a few
    times before giving up with a clear error too."""
    opts = api.options
    me = None
    for attempt in range(PREFLIGHT_TRIES):
        try:
            me = await api.whoami()
            break
        except TelegramUnauthorizedError as e:
            raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram (401 Unauthorized)") from e
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as e:
            if attempt == PREFLIGHT_TRIES - 1:
                raise Unavailable(
                    f"cannot reach the Telegram Bot API at {opts.api_url}: {getattr(e, 'message', None) or e!r}"
                ) from e
            await asyncio.sleep(opts.preflight_backoff * 2**attempt)
    assert me is not None
    staff = opts.staff_chat_id
    if staff is None:
        return
    try:
        chat = await api.bot.get_chat(staff)
        member = await api.bot.get_chat_member(staff, me.id)
    except TelegramMigrateToChat as e:
        raise ConfigError(
            f"TELEGRAM_STAFF_CHAT_ID={staff} was upgraded to a supergroup: "
            f"set TELEGRAM_STAFF_CHAT_ID={e.migrate_to_chat_id}"
        ) from e
    except (TelegramBadRequest, TelegramNotFound, TelegramForbiddenError) as e:
        raise ConfigError(
            f"TELEGRAM_STAFF_CHAT_ID={staff}: the bot cannot see this chat ({e.message}); "
            "add the bot to the operators' supergroup and check the id"
        ) from e
    except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as e:
        raise Unavailable(
            f"cannot reach the Telegram Bot API to check TELEGRAM_STAFF_CHAT_ID={staff}: "
            f"{getattr(e, 'message', None) or e!r}"
        ) from e
    if chat.type != "supergroup":
        raise ConfigError(
            f"TELEGRAM_STAFF_CHAT_ID={staff} is a {chat.type}, not a supergroup: "
            "make the operators' group a supergroup (e.g. turn on Topics) and use its new id"
        )
    if member.status not in ("administrator", "creator"):
        raise ConfigError(
            f"the bot @{me.username} is not an administrator of the staff group {staff}: "
            'promote it (with "Manage topics")'
        )
    if chat.is_forum and member.status == "administrator" and not getattr(member, "can_manage_topics", False):
        raise ConfigError(
            f"the bot @{me.username} may not manage topics in the staff group {staff}: "
            'give it the "Manage topics" right'
        )
