"""The desk's ratings: a case's rating (1-5), and the message right after it as its comment."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from core import cases as lifecycle
from core.cases import TransitionError
from core.desk.language import asks_for_human
from core.faq import Band
from core.messages import Inbound, StaffKind, UserRef, to_customer, to_staff
from core.store import Unit
from core.texts import t

if TYPE_CHECKING:
    from core.desk import SupportDesk

COMMENT_WINDOW = 3600  # a message this soon after a rating is taken as its comment


class RatingSide:
    async def _rate(self: SupportDesk, user: UserRef, case_id: int, stars: int, lang: str, u: Unit):
        case = await u.get_case(case_id)
        if case is None or case.customer != user or case.rating is not None or not 1 <= stars <= 5:
            return [to_customer(user, t("choice_expired", lang))]
        try:
            case = lifecycle.rate(case, stars)
        except TransitionError:
            return [to_customer(user, t("choice_expired", lang))]
        u.save_case(case)
        u.log(case.id, "customer", f"Rated {stars}/5")
        operator = case.resolved_by or case.operator  # the rating is theirs
        u.record("rated", case=case.id, stars=stars, customer=user.key, operator=operator or None)  # figures: ch, op
        u.update_user(user, buttons=None, rate_case=None, comment_case=str(case.id), comment_at=repr(self.clock()))
        outs = [to_customer(user, t("rate_thanks", lang, stars=stars))]
        if stars <= 2:
            outs.append(to_customer(user, t("rate_low", lang)))
        outs.append(to_staff(case.id, self.st("rated", number=case.number, stars=stars), StaffKind.INFO))
        return outs

    async def _comment(self: SupportDesk, event: Inbound, text: str, state: dict[str, str], lang: str, u: Unit):
        """The message right after a rating is its comment: kept with the case and shown in its topic."""
        user = event.sender
        case_id = int(state["comment_case"])
        u.update_user(user, comment_case=None, comment_at=None)
        case = await u.get_case(case_id)
        fresh = self.clock() - float(state.get("comment_at") or 0) <= COMMENT_WINDOW
        question = asks_for_human(text) or self.matcher.match(text).band in (Band.ANSWER, Band.ANSWER_ALTERNATIVES)
        if case is None or case.customer != user or not fresh or question:
            state.pop("comment_case", None)
            return await self._converse_with(event, state, u)  # a new question, or too late: an ordinary message
        u.save_case(replace(case, extra={**case.extra, "comment": text[:2000]}))
        u.log(case.id, "customer", f"Comment on the rating: {text}")
        operator = case.resolved_by or case.operator
        u.record(
            "rating_comment",
            case=case.id,
            customer=user.key,
            stars=case.rating,
            operator=operator or None,
            text=text[:500],
        )
        return [
            to_customer(user, t("comment_thanks", lang)),
            to_staff(case.id, self.st("comment", number=case.number, text=text), StaffKind.INFO),
        ]
