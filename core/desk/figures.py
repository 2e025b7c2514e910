"""The desk's part in the managers' figures (kept by ``core.stats.tally``): conversations, deflection, and the
facts the figures need that only the desk knows (working time, the SLA, who resolved).

A **conversation** starts with a customer's message when they have no open case and wrote nothing for
``CONVERSATION_IDLE`` (or never wrote): it is counted on its first day, in the customer's channel. It is
**settled by the FAQ** (deflected) while its last FAQ step was an answer the customer did not mark "didn't
help" and it was not handed to a person; the count of the conversation's day follows (+1 when the FAQ answers,
-1 on "didn't help" or a handoff). The conversation's day and flags live in the customer's state (``cv_*``).
Managers' commands (``/stats``, ``/gaps``) are in ``core.desk.managers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.cases import Case
from core.messages import UserRef
from core.store import Unit

if TYPE_CHECKING:
    from core.desk import SupportDesk

CONVERSATION_IDLE = 6 * 3600  # seconds of silence after which a customer's message starts a new conversation


class FigureSide:
    async def conversation_step(self: SupportDesk, user: UserRef, state: dict[str, str], u: Unit) -> None:
        """A customer's message or press: maybe the start of a conversation (see the module docstring)."""
        now = u.now  # the time the counters use too
        last = float(state.get("cv_last") or 0)
        fields: dict[str, str | None] = {"cv_last": f"{now:.0f}"}
        if (not last or now - last > CONVERSATION_IDLE) and await u.open_case_of(user) is None:
            u.count("conversations", channel=user.channel)
            fields.update(cv_day=self.store.tally.day(now), cv_f="-", last_q=None)
        u.update_user(user, **fields)
        for name, value in fields.items():
            if value is None:
                state.pop(name, None)
            else:
                state[name] = value

    def faq_settled(self: SupportDesk, user: UserRef, state: dict[str, str], u: Unit) -> None:
        """The FAQ answered (directly or a chosen suggestion): the conversation counts as settled by it."""
        flags, day = state.get("cv_f") or "", state.get("cv_day")
        if day and "h" not in flags and "d" not in flags:
            u.count("deflected", day=day, channel=user.channel)
            self._flags(user, state, flags + "d", u)

    def faq_unsettled(self: SupportDesk, user: UserRef, state: dict[str, str], u: Unit, handed_off=False) -> None:
        """ "Didn't help", or a handoff: the conversation is no longer settled by the FAQ."""
        flags, day = state.get("cv_f") or "", state.get("cv_day")
        if day and "d" in flags:
            u.count("deflected", by=-1, day=day, channel=user.channel)
            flags = flags.replace("d", "")
        if handed_off and "h" not in flags:
            flags += "h"
        if day and flags != (state.get("cv_f") or ""):
            self._flags(user, state, flags, u)

    @staticmethod
    def _flags(user: UserRef, state: dict[str, str], flags: str, u: Unit) -> None:
        u.update_user(user, cv_f=flags or "-")
        state["cv_f"] = flags or "-"

    def record_first_response(self: SupportDesk, case: Case, now: float, operator: str, u: Unit) -> None:
        """The case's first operator reply: wall and working time, and whether it broke the first-response SLA."""
        work = self.options.hours.working_seconds_between(case.created_at, now)
        late = self.options.sla_minutes > 0 and work > self.options.sla_minutes * 60
        u.record(
            "first_response",
            case=case.id,
            seconds=f"{now - case.created_at:.1f}",
            work=f"{work:.1f}",
            late="1" if late else None,
            operator=operator,
            channel=case.customer.channel,
        )

    def record_resolved(self: SupportDesk, case: Case, now: float, operator: str | None, u: Unit) -> None:
        work = self.options.hours.working_seconds_between(case.created_at, now)
        u.record(
            "resolved",
            case=case.id,
            seconds=f"{now - case.created_at:.1f}",
            work=f"{work:.1f}",
            operator=operator or None,
            channel=case.customer.channel,
        )
