"""The desk's privacy part: what customers write is masked, ``/forget`` deletes what is kept about a customer,
and a customer who floods is slowed down.

Masking (``mask_event``): card numbers and secrets (``core.privacy``) in a customer's message, caption or edit
are hidden before the desk reads the event, so they reach neither the staff group (relays, cards, edits), nor the
case's history, nor the event log; a masked message is relayed as text, never copied as the original. The
customer is told why, once (``privacy_told`` in their state).

``/forget`` asks first (a "Yes, delete" button or "да"/"yes"; /cancel or "нет"/"no" keeps everything; any other
message drops the question). Then, in one unit of work: the open case is closed with a note in its topic; every
case of the customer keeps its numbers (status, times, rating) but loses the texts of its history (each becomes
"[deleted at the customer's request]"), its files' names, the customer's name and handle, and its extra facts
(``Case.extra``: the rating's comment, a prepared request's details, a callback number...: only ``forgotten``
stays); the customer's state, recent conversation and list of cases go (``Unit.forget_customer``). The event
log keeps its entries (their texts were masked when written); one ``forgotten`` event counts the request, without
the customer.

Flood: more than ``FLOOD_LIMIT`` messages in one minute (counted in the customer's state) get one notice; the
rest of that minute's messages still reach the operator, marked ``flood`` so that the outbox merges those that
wait into one message; without an open case they are kept in the conversation but not answered one by one.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from core import cases as lifecycle
from core.cases import CaseStatus
from core.desk.customers import COMMAND, COMMANDS
from core.events import CustomerEdit, Event
from core.messages import Button, Inbound, Outbound, StaffKind, UserRef, to_customer, to_staff
from core.privacy import mask
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

FORGET_YES, FORGET_NO = "forget:yes", "forget:no"
FORGET_WINDOW = 600  # the "Delete your data?" question is answered within this many seconds
_YES = {"да", "yes", "да удалить", "yes delete", "удалить", "delete", "подтверждаю", "confirm"}
_NO = {"нет", "no", "не надо", "не удалять", "отмена", "cancel", "keep"}


def mask_event(event: Event) -> tuple[Event, tuple[str, ...]]:
    """A customer's message or edit with card numbers and secrets hidden, and the kinds hidden. A masked message
    loses its ``origin``: a platform must not copy the original (it would show what was hidden)."""
    if isinstance(event, Inbound) and event.text:
        text, kinds = mask(event.text)
        return (replace(event, text=text, origin=None), kinds) if kinds else (event, ())
    if isinstance(event, CustomerEdit) and event.text:
        text, kinds = mask(event.text)
        return (replace(event, text=text), kinds) if kinds else (event, ())
    return event, ()


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower().replace("ё", "е")).split())


class PrivacySide:
    # ------------------------------------------------------------------ masking
    async def told_why(self: SupportDesk, user: UserRef, kinds: tuple[str, ...], u: Unit) -> list[Outbound]:
        """Something was hidden in what ``user`` wrote: counted, and the customer told why (once)."""
        if not kinds or await u.is_banned(user) or user.key in u.forgotten:
            return []
        u.record("masked", kinds=",".join(kinds), channel=user.channel)
        state = await u.get_user(user)
        if state.get("privacy_told"):
            return []
        lang = state.get("lang") or self.options.default_language
        u.update_user(user, privacy_told="1")
        what = t("privacy.and", lang).join(t(f"privacy.kind.{kind}", lang) for kind in kinds)
        return [to_customer(user, t("privacy.masked", lang, what=what), lang=lang)]

    # ------------------------------------------------------------------ flood
    async def count_message(self: SupportDesk, event: Inbound, u: Unit) -> list[Outbound]:
        """Count a typed message in this minute's, once it was handled (its customer's state stays empty until
        then: a first message starts a conversation); the first one past ``FLOOD_LIMIT`` gets the notice."""
        limit = self.options.flood_limit
        if limit <= 0 or event.payload is not None or event.sender.key in u.forgotten:
            return []
        state = await u.get_user(event.sender)
        minute = str(int(self.clock() // 60))
        n = int(state.get("flood_n") or 0) + 1 if state.get("flood_min") == minute else 1
        u.update_user(event.sender, flood_min=minute, flood_n=str(n))
        if n != limit + 1:
            return []
        u.record("flood", channel=event.sender.channel, limit=limit)
        lang = state.get("lang") or self.options.default_language
        key = "privacy.flood_case" if await u.open_case_of(event.sender) else "privacy.flood"
        return [to_customer(event.sender, t(key, lang, limit=limit), lang=lang)]

    def flooding(self: SupportDesk, state: dict[str, str]) -> bool:
        """The message being handled is past ``FLOOD_LIMIT`` this minute (``state``: the customer's, which counts
        the messages before it)."""
        limit = self.options.flood_limit
        minute = str(int(self.clock() // 60))
        return 0 < limit <= int(state.get("flood_n") or 0) and state.get("flood_min") == minute

    async def flood_meta(self: SupportDesk, user: UserRef, u: Unit) -> dict[str, bool]:
        """What a relay carries for the outbox: ``{"flood": True}`` (merge those waiting) past the limit."""
        return {"flood": True} if self.flooding(await u.get_user(user)) else {}

    # ------------------------------------------------------------------ /forget
    def forget_ask(self: SupportDesk, user: UserRef, lang: str, u: Unit) -> list[Outbound]:
        u.update_user(user, forget_at=repr(self.clock()))
        buttons = (
            Button(t("privacy.btn_forget_yes", lang), FORGET_YES),
            Button(t("privacy.btn_forget_no", lang), FORGET_NO),
        )
        return [to_customer(user, t("privacy.forget_ask", lang), buttons=buttons, lang=lang)]

    async def forget_step(
        self: SupportDesk, event: Inbound, payload: str | None, text: str, state: dict[str, str], lang: str, u: Unit
    ) -> list[Outbound] | None:
        """The answer to "Delete your data?", if this message is one (None: it is not, handle it as usual)."""
        user = event.sender
        asked = state.get("forget_at")
        pending = bool(asked) and self.clock() - float(asked or 0) <= FORGET_WINDOW
        if payload in (FORGET_YES, FORGET_NO):
            u.update_user(user, forget_at=None)
            if payload == FORGET_NO:
                return [to_customer(user, t("privacy.forget_kept", lang))]
            if not pending:
                return [to_customer(user, t("privacy.forget_expired", lang))]
            return await self.forget(user, lang, u)
        if not asked:
            return None
        u.update_user(user, forget_at=None)
        if not pending or payload is not None:
            return None
        words = _words(text)
        command = COMMAND.match(text)
        if words in _YES:
            return await self.forget(user, lang, u)
        if words in _NO or (command and COMMANDS.get(command.group(1).lower()) == "cancel"):
            return [to_customer(user, t("privacy.forget_kept", lang))]
        return None  # something else: the question is dropped, the message handled as any other

    async def forget(self: SupportDesk, user: UserRef, lang: str, u: Unit) -> list[Outbound]:
        """Delete what is kept about ``user`` (see the module docstring); the event log keeps anonymous counts."""
        now = self.clock()
        outs: list[Outbound] = []
        open_case = await u.open_case_of(user)
        if open_case is not None:
            closed = lifecycle.move(open_case, CaseStatus.CANCELLED, now, closed_by="customer")
            u.save_case(closed)
            u.record(
                "status", case=closed.id, old=open_case.status, new=closed.status, by="customer", channel=user.channel
            )
        deleted = self.st("privacy.deleted_text")
        case_ids = await u.case_ids_of(user)
        for case_id in case_ids:
            case = await u.get_case(case_id)
            if case is None:
                continue
            name = self.st("privacy.forgotten_name")
            anonymous = replace(case, customer_name=name, customer_handle="", extra={"forgotten": "1"})
            u.save_case(anonymous)
            u.drop_case_extras(case_id, *(k for k in case.extra if k != "forgotten"))
            for i, entry in enumerate(await u.transcript(case_id)):
                if entry.get("who") == "system" or not (entry.get("text") or entry.get("files")):
                    continue
                files = [{"kind": f.get("kind"), "name": None} for f in entry.get("files") or ()]
                u.set_log_entry(case_id, i, {**entry, "text": deleted if entry.get("text") else "", "files": files})
            if open_case is not None and case_id == open_case.id:
                u.log(case_id, "system", "The customer asked to delete their data (/forget): case closed")
                text = self.st("privacy.forgotten", number=anonymous.number)
                outs.append(to_staff(case_id, text, StaffKind.STATUS, meta={"title": anonymous.topic_title()}))
        await u.forget_figures(user, case_ids)
        u.forget_customer(user)
        u.record("forgotten", channel=user.channel, cases=len(case_ids))
        outs.append(to_customer(user, t("privacy.forget_done", lang)))
        return outs
