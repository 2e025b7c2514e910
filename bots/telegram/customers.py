"""Sending to customers' private chats: texts in parts of 4096 with the inline keyboard on the last part, a file
with its caption when the text fits one, the native copy of a Telegram message (``copy_from``), an album of
them in one copyMessages call (``meta["copies"]``). ``meta["request_contact"]``: a reply keyboard with one "share
my number" button of that label (a shared contact comes back as its number); ``meta["remove_keyboard"]``: it goes."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bots.ports import Limit, SendContext
from bots.telegram.api import Part, TelegramApi, calls_for, chat_limits, copy_runs, keyboard, run_parts
from core.messages import Outbound


class CustomerSide:
    def __init__(self, api: TelegramApi):
        self.api = api

    def limits(self, out: Outbound) -> list[Limit]:
        chat = out.to.user_id if out.to else "?"
        return chat_limits(chat, self.calls(out))

    @staticmethod
    def calls(out: Outbound) -> int:
        """How many Bot API sends ``out`` takes."""
        copies = out.meta.get("copies")
        if copies:
            return len(copy_runs(copies))
        if out.copy_from is not None and out.copy_from.channel == "telegram":
            return 1
        return calls_for(out.text or "", out.attachments)

    async def send(self, out: Outbound, ctx: SendContext) -> str:
        assert out.to is not None
        chat = int(out.to.user_id)
        api = self.api
        parts: list[Part]
        copies = out.meta.get("copies")
        ref = out.copy_from
        if copies:
            parts = api.copies_parts(chat, copies)
        elif ref is not None and ref.channel == "telegram":

            async def copy() -> str:
                return str(await api.copy(chat, int(ref.chat_id), int(ref.message_id)))

            parts = [copy]
        else:
            parts = api.content_parts(chat, out.text, out.attachments, ctx.media, markup=markup(out))
        return await run_parts(parts, ctx)


def markup(out: Outbound) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """The message's buttons; a "share my number" keyboard, or its removal, when the desk asks for one."""
    label = out.meta.get("request_contact")
    if label:
        button = KeyboardButton(text=str(label)[:64], request_contact=True)
        return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)
    if out.meta.get("remove_keyboard") and not out.buttons:
        return ReplyKeyboardRemove(remove_keyboard=True)
    return keyboard(out.buttons)
