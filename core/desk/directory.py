"""The staff front end's view of cases (``bots.ports.StaffDirectory``): links, its own facts, titles, cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.cards import card_buttons, render_card
from core.messages import Button

if TYPE_CHECKING:
    from core.store import Store


class CaseDirectory:
    def __init__(self, store: Store, staff_language: str = "en", timezone: str = "UTC"):
        self.store = store
        self.lang = staff_language
        self.tz = timezone

    async def case_of(self, kind: str, native_id: str | int) -> int | None:
        return await self.store.lookup(kind, native_id)

    async def link(self, kind: str, native_id: str | int, case_id: int, ttl: float | None = None) -> None:
        await self.store.link(kind, native_id, case_id, ttl)

    async def place(self, case_id: int) -> dict[str, str]:
        return await self.store.case_meta(case_id)

    async def set_place(self, case_id: int, *, link: tuple[str, str | int] | None = None, **fields: str) -> None:
        await self.store.set_case_meta(case_id, link=link, **fields)

    async def drop_place(self, case_id: int, *fields: str) -> None:
        await self.store.drop_case_meta(case_id, *fields)

    async def title(self, case_id: int) -> str | None:
        case = await self.store.get_case(case_id)
        return case.topic_title() if case else None

    async def card(self, case_id: int) -> str | None:
        case = await self.store.get_case(case_id)
        return render_card(case, await self.store.transcript(case_id), lang=self.lang, tz=self.tz) if case else None

    def card_buttons(self, case_id: int) -> tuple[Button, ...]:
        """The buttons of a case's card (Take, Needs info, Resolve, Escalate), in the staff's language."""
        return card_buttons(case_id, self.lang)

    def lock(self, name: str, ttl: float) -> Any:
        return self.store.lease(name, ttl)
