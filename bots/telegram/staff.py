"""The staff supergroup: one forum topic per case, its card, the customer's messages, status lines, answers.

A case's topic is created on its first message (under the ``tg-topic:{case}`` lease, so one topic per case
whatever the number of processes), named by the case's title, and opened by the card (Take / Needs info /
Resolve / Escalate, ``case:<cmd>:<N>``). Customer messages queued behind the card ride inside it (the outbox
folds them: texts in the card, files in ``attachments``, native messages in ``meta["copies"]``, copied after
the card in one copyMessages call): a new case costs the group two messages. Relays are copied as they are
(an album in one copyMessages call), other channels' as a "👤 name:" text with the files. A status line
renames the topic. Command answers (REPLY) go where the command was typed (``meta["thread"]``/``reply_to``).

Without topics ("the chat is not a forum": remembered for 10 minutes) a case is a card in the group and its
messages reply to it, each relay under a "[#N] 👤 name:" header. A deleted topic is created again (and the
card posted again in it), a closed one reopened. Every message sent for a case is linked to it (``tgmsg``,
90 days) so that an operator's reply to any of them acts on the case; the topic is linked for good.

Per case (``StaffDirectory.place``): ``tg_topic``, ``tg_card``, ``tg_plain``, ``tg_title``. Where a case is
shown (thread, plain) is cached in-process; a stale entry shows as "thread not found" and is read again.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bots.ports import ChannelMemory, DeliveryError, Limit, SendContext, StaffDirectory
from bots.telegram.api import (
    LINK_TTL,
    Part,
    TelegramApi,
    calls_for,
    copy_runs,
    group_limits,
    run_parts,
    to_delivery_error,
)
from core.messages import Button, Outbound, StaffKind

log = logging.getLogger("bots.telegram")

NOFORUM_TTL = 600.0  # "not a forum" is believed this long before a topic is tried again (for new cases)
TOPIC_LOCK_TTL = 60.0
CACHE_MAX = 20_000


def card_keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """The card's buttons (built by the desk, in the staff's language), two to a row."""
    if not buttons:
        return None
    row = [InlineKeyboardButton(text=b.label[:64], callback_data=b.payload[:64]) for b in buttons]
    return InlineKeyboardMarkup(inline_keyboard=[row[i : i + 2] for i in range(0, len(row), 2)])


def _topic_gone(e: TelegramAPIError) -> bool:
    low = str(e.message).lower()
    return "thread not found" in low or "topic_deleted" in low or "topic deleted" in low


def _topic_closed(e: TelegramAPIError) -> bool:
    return "topic_closed" in str(e.message).lower()


@dataclass
class Place:
    """Where a case is shown: its topic, or plain group messages replying to its card."""

    thread: int | None
    plain: bool
    card: int | None = None

    @classmethod
    def of(cls, facts: dict[str, str]) -> Place | None:
        card = int(facts["tg_card"]) if facts.get("tg_card") else None
        if facts.get("tg_topic"):
            return cls(int(facts["tg_topic"]), False, card)
        if facts.get("tg_plain"):
            return cls(None, True, card)
        return None


class StaffSide:
    def __init__(self, api: TelegramApi, memory: ChannelMemory, directory: StaffDirectory):
        self.api = api
        self.bot = api.bot
        self.chat = api.options.staff_chat_id
        self.memory = memory
        self.directory = directory
        self._places: OrderedDict[int, Place] = OrderedDict()  # a cache: Redis holds the facts

    # ================================================================ limits
    async def staff_limits(self, out: Outbound) -> list[Limit]:
        if out.kind == StaffKind.ESCALATION:  # shown in the escalation chat, with a link of up to 64 characters
            return group_limits(self.api.options.escalation_chat_id, calls_for(out.text + " " * 64, ()))
        return group_limits(self.chat, await self.calls(out))

    async def calls(self, out: Outbound) -> int:
        """How many Bot API sends ``out`` takes in the group (a created topic counts as one)."""
        copies = out.meta.get("copies") or ()
        copying = len(copy_runs(copies))
        if out.kind == StaffKind.REPLY and "thread" in out.meta:
            return calls_for(out.text, out.attachments)
        if out.kind == StaffKind.CASE_OPENED:
            topic = 0 if out.case_id in self._places else 1
            return topic + calls_for(out.text, out.attachments, captions=False) + copying
        place = await self._known(out.case_id) if out.case_id else None
        plain = place is not None and place.plain
        if out.kind == StaffKind.CUSTOMER_MESSAGE and (copies or self._native(out)):
            return (copying or 1) + (1 if plain else 0)
        return calls_for(self._shown(out, plain), out.attachments)

    # ================================================================ sending
    async def send_staff(self, out: Outbound, ctx: SendContext) -> str:
        """Show a staff-side message in the group (see the module docstring); returns the last message id."""
        case_id = out.case_id
        if out.kind == StaffKind.REPLY and "thread" in out.meta:
            thread, reply_to = out.meta.get("thread"), out.meta.get("reply_to")
            markup = card_keyboard(out.buttons)  # e.g. /faq's choices (faqsend:<case>:<entry>), /gaps' groups
            parts = self.api.content_parts(  # /stats: its chart as a file (``core.desk.managers``)
                self.chat, out.text, out.attachments, ctx.media, markup=markup, thread=thread, reply_to=reply_to
            )
            return await run_parts(parts, ctx, self._linker(ctx, case_id))
        if not case_id:
            raise DeliveryError("a staff message without a case", permanent=True)
        if out.kind == StaffKind.ESCALATION:
            return await self._escalation(case_id, out, ctx)
        for attempt in range(3):
            place, reposted = await self._place(case_id, out, ctx)
            try:
                return await self._show(case_id, out, ctx, place, reposted)
            except DeliveryError as e:
                cause = e.__cause__
                if attempt == 2 or place.plain or not isinstance(cause, TelegramAPIError):
                    raise
                if _topic_closed(cause):
                    with contextlib.suppress(TelegramAPIError):
                        await self.bot.reopen_forum_topic(self.chat, place.thread)
                elif _topic_gone(cause):
                    await self._forget(case_id, place.thread)
                else:
                    raise
        raise AssertionError("unreachable")

    async def _show(self, case_id: int, out: Outbound, ctx: SendContext, place: Place, reposted: str | None) -> str:
        api, chat, thread, media = self.api, self.chat, place.thread, ctx.media
        if place.plain and place.card is None and out.kind != StaffKind.CASE_OPENED:
            place.card = (Place.of(await self.directory.place(case_id)) or place).card  # posted by another process
        reply_to = place.card if place.plain else None
        copies = out.meta.get("copies") or ()
        parts: list[Part]
        if out.kind == StaffKind.CASE_OPENED:
            markup = card_keyboard(out.buttons)
            text = await self._follow_up_link(out)
            parts = api.content_parts(
                chat, text, out.attachments, media, markup=markup, markup_first=True, thread=thread, captions=False
            )
            if parts:
                parts[0] = self._card_part(case_id, parts[0], reposted)
            if reposted and out.text:  # the card is in the recreated topic already: its files and copies are not
                texts = calls_for(out.text, (), captions=False)
                parts[1:texts] = [_already(reposted)] * (texts - 1)
            parts += api.copies_parts(chat, copies, thread)
        elif out.kind == StaffKind.CUSTOMER_MESSAGE and (copies or self._native(out)):
            if copies:
                parts = api.copies_parts(chat, copies, thread)
            else:
                ref = out.copy_from
                assert ref is not None

                async def copy() -> str:
                    return str(await api.copy(chat, int(ref.chat_id), int(ref.message_id), thread, reply_to))

                parts = [copy]
            if place.plain:  # who and which case, then the message itself (locations, polls... as they are)
                header = f"[#{case_id}] 👤 {out.meta.get('name') or 'customer'}:"

                async def head() -> str:
                    return str(await api.text(chat, header, None, None, reply_to))

                parts.insert(0, head)
        else:
            text = self._shown(out, place.plain)
            parts = api.content_parts(chat, text, out.attachments, media, thread=thread, reply_to=reply_to)
        mid = await run_parts(parts, ctx, self._linker(ctx, case_id))
        if out.kind == StaffKind.STATUS and not place.plain and thread is not None:
            await self._rename(case_id, thread, out)
        return mid

    async def _escalation(self, case_id: int, out: Outbound, ctx: SendContext) -> str:
        """An escalated case in the escalation chat: the desk's text with the link to the case's topic (or card)
        under its first line."""
        chat = self.api.options.escalation_chat_id
        if not chat:
            raise DeliveryError("no escalation chat is configured (TELEGRAM_ESCALATION_CHAT_ID)", permanent=True)
        link = case_link(self.chat, await self._known(case_id))
        head, _, rest = out.text.partition("\n")
        text = "\n".join(line for line in (head, link, rest) if line)
        return await run_parts(self.api.content_parts(chat, text, (), ctx.media), ctx)

    async def _follow_up_link(self, out: Outbound) -> str:
        """A follow-up's card: the link to the old case's topic after its "Follow-up to #N" line, when known."""
        old, line = out.meta.get("follows"), out.meta.get("follows_line")
        if not old or not line or line not in out.text:
            return out.text
        topic = (await self.directory.place(int(old))).get("tg_topic")
        if not topic or self.chat is None:
            return out.text
        link = f"https://t.me/c/{str(self.chat).removeprefix('-100')}/{topic}"
        return out.text.replace(line, f"{line} {link}", 1)

    def _card_part(self, case_id: int, part: Part, reposted: str | None) -> Part:
        """The card's first message (the one with the buttons): remembered as the case's card."""

        async def run() -> str:
            mid = reposted or await part()
            await self.directory.set_place(case_id, tg_card=mid)
            cached = self._places.get(case_id)
            if cached is not None:
                cached.card = int(mid)
            return mid

        return run

    @staticmethod
    def _native(out: Outbound) -> bool:
        return out.copy_from is not None and out.copy_from.channel == "telegram"

    @staticmethod
    def _shown(out: Outbound, plain: bool) -> str:
        """The text of a relay, status line or notice as shown in the group."""
        header = f"[#{out.case_id}] " if plain else ""
        if out.kind != StaffKind.CUSTOMER_MESSAGE:
            return header + out.text
        merged = int(out.meta.get("merged", 1))
        label = f"👤 {out.meta.get('name') or 'customer'}" + (f" ({merged} messages)" if merged > 1 else "")
        return f"{header}{label}:\n{out.text}" if out.text else f"{header}{label}"

    @staticmethod
    def _linker(ctx: SendContext, case_id: int | None) -> Callable[[str], None] | None:
        """Every message sent for a case is linked to it (recorded by the outbox when the entry is done)."""
        if not case_id:
            return None

        def link(ids: str) -> None:
            for mid in ids.split(","):
                if mid:
                    ctx.link("tgmsg", mid, case_id, ttl=LINK_TTL)

        return link

    # ================================================================ where a case is shown
    def _remember(self, case_id: int, place: Place) -> Place:
        self._places[case_id] = place
        self._places.move_to_end(case_id)
        while len(self._places) > CACHE_MAX:
            self._places.popitem(last=False)
        return place

    async def _known(self, case_id: int) -> Place | None:
        """The cached place, else the stored one (None while the case has neither topic nor plain mode)."""
        cached = self._places.get(case_id)
        if cached is not None:
            return cached
        place = Place.of(await self.directory.place(case_id))
        return self._remember(case_id, place) if place is not None else None

    async def _place(self, case_id: int, out: Outbound, ctx: SendContext) -> tuple[Place, str | None]:
        """The case's place, its topic created now if it has none -> (place, the card's id if posted again)."""
        place = await self._known(case_id)
        if place is not None:
            return place, None
        async with self.directory.lock(f"tg-topic:{case_id}", TOPIC_LOCK_TTL):
            facts = await self.directory.place(case_id)
            place = Place.of(facts)
            if place is not None:
                return self._remember(case_id, place), None
            place = await self._create(case_id, out, facts)
        self._remember(case_id, place)
        if place.plain or not facts.get("tg_card"):
            return place, None
        # a recreated topic: show the card again so that the topic makes sense on its own
        return place, await self._repost_card(case_id, place, ctx)

    async def _create(self, case_id: int, out: Outbound, facts: dict[str, str]) -> Place:
        card = int(facts["tg_card"]) if facts.get("tg_card") else None
        if await self.memory.get("noforum", "staff"):
            await self.directory.set_place(case_id, tg_plain="1")
            return Place(None, True, card)
        title = out.meta.get("title") or await self.directory.title(case_id)
        if title is None:
            raise DeliveryError(f"no case {case_id}", permanent=True)
        try:
            topic = await self.bot.create_forum_topic(self.chat, name=title[:128])
        except TelegramBadRequest as e:
            if "not a forum" in str(e.message).lower():
                await self.memory.set("noforum", "staff", "1", ttl=NOFORUM_TTL)
                await self.directory.set_place(case_id, tg_plain="1")
                return Place(None, True, card)
            raise to_delivery_error(e) from e
        except TelegramAPIError as e:
            raise to_delivery_error(e) from e
        thread = topic.message_thread_id
        # the topic and its link back to the case at once: a process killed in between would leave a topic
        # whose operator messages reach no case
        await self.directory.set_place(case_id, link=("tgtopic", thread), tg_topic=str(thread), tg_title=title)
        return Place(thread, False, card)

    async def _forget(self, case_id: int, thread: int | None) -> None:
        """The topic is gone: forget it (unless another process has replaced it already)."""
        log.info("telegram: topic %s of case %s is gone; recreating it", thread, case_id)
        self._places.pop(case_id, None)
        async with self.directory.lock(f"tg-topic:{case_id}", TOPIC_LOCK_TTL):
            if (await self.directory.place(case_id)).get("tg_topic") == str(thread):
                await self.directory.drop_place(case_id, "tg_topic")

    async def _repost_card(self, case_id: int, place: Place, ctx: SendContext) -> str | None:
        card = await self.directory.card(case_id)
        if card is None:
            return None
        parts = self.api.content_parts(
            self.chat,
            card,
            (),
            ctx.media,
            markup=card_keyboard(self.directory.card_buttons(case_id)),
            markup_first=True,
            thread=place.thread,
        )
        ids: list[str] = []
        try:
            for part in parts:
                ids.append(await part())
        except TelegramAPIError as e:
            log.warning("telegram: posting the card of case %s again failed: %s", case_id, e.message)
        if not ids:
            return None
        for mid in ids:
            ctx.link("tgmsg", mid, case_id, ttl=LINK_TTL)
        await self.directory.set_place(case_id, tg_card=ids[0])
        place.card = int(ids[0])
        return ids[0]

    async def _rename(self, case_id: int, thread: int, out: Outbound) -> None:
        title = out.meta.get("title") or await self.directory.title(case_id)
        if not title or (await self.directory.place(case_id)).get("tg_title") == title:
            return
        try:
            await self.bot.edit_forum_topic(self.chat, thread, name=title[:128])
        except TelegramAPIError as e:
            if "not_modified" not in str(e.message).lower():
                log.warning("telegram: renaming the topic of case %s failed: %s", case_id, e.message)
                return
        await self.directory.set_place(case_id, tg_title=title)


def case_link(chat: int | None, place: Place | None) -> str:
    """``https://t.me/c/<chat id without -100>/<topic>``: the case's topic (its card without topics) for members
    of the staff group; empty when there is none yet or the group has no such links."""
    raw = str(chat or "")
    target = None if place is None else (place.card if place.plain else place.thread)
    return f"https://t.me/c/{raw[4:]}/{target}" if raw.startswith("-100") and target else ""


def _already(mid: str) -> Part:
    async def run() -> str:
        return mid

    return run
