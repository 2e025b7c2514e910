"""Cases: what a handoff to a human creates, and the rules of its lifecycle (pure functions, no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum

from core.messages import CHANNEL_TITLES, UserRef


class CaseStatus(StrEnum):
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    NEEDS_INFO = "needs_info"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"  # the customer closed it (/cancel)


OPEN_STATUSES = frozenset({CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS, CaseStatus.NEEDS_INFO})

# status -> statuses it may move to. Resolved is final: a customer who writes again gets a new case.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.ACCEPTED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.NEEDS_INFO, CaseStatus.RESOLVED, CaseStatus.CANCELLED}
    ),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.NEEDS_INFO, CaseStatus.RESOLVED, CaseStatus.CANCELLED}),
    CaseStatus.NEEDS_INFO: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CANCELLED}),
    CaseStatus.RESOLVED: frozenset(),
    CaseStatus.CANCELLED: frozenset(),
}

STATUS_ICONS = {
    CaseStatus.ACCEPTED: "🆕",
    CaseStatus.IN_PROGRESS: "🔧",
    CaseStatus.NEEDS_INFO: "❓",
    CaseStatus.RESOLVED: "✅",
    CaseStatus.CANCELLED: "🚫",
}


class HandoffReason(StrEnum):
    REQUESTED = "requested"  # the customer asked for a human
    NO_MATCH = "no_match"  # the FAQ had nothing; the customer accepted the offer
    NOT_HELPED = "not_helped"  # an FAQ answer did not help
    ATTACHMENT = "attachment"  # the customer sent a file the bot cannot read
    COMPLAINT = "complaint"  # the customer complained (such a case starts escalated)
    CALLBACK = "callback"  # the customer asked to be called back (phone and time on the card)


class TransitionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    customer: UserRef
    status: CaseStatus
    created_at: float
    language: str = "ru"
    customer_name: str = ""
    customer_handle: str = ""
    reason: str = HandoffReason.REQUESTED
    tried: tuple[tuple[str, float], ...] = ()  # FAQ entries the bot tried before the handoff, with scores
    first_reply_at: float | None = None
    resolved_at: float | None = None
    operator: str = ""
    escalated: bool = False
    rating: int | None = None
    closed_by: str = ""  # "operator" or "customer"
    resolved_by: str = ""  # the operator who resolved it (its rating is theirs)
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def number(self) -> str:
        return f"#{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def channel_title(self) -> str:
        return CHANNEL_TITLES.get(self.customer.channel, self.customer.channel)

    @property
    def display_name(self) -> str:
        return self.customer_name or self.customer_handle or self.customer.user_id

    def topic_title(self) -> str:
        """Forum topic name: `#123 · Telegram · Anna`, prefixed with the status icon (at most 128 chars).

        WhatsApp customers are known by their number first (`#125 · WhatsApp · +7 900… · Maria`); ⚠️: escalated,
        ⏰: the first response is overdue (``extra["overdue"]``, set by ``core.desk.sla``)."""
        icon = STATUS_ICONS[self.status] + ("⚠️" if self.escalated else "") + ("⏰" if self.extra.get("overdue") else "")
        icon = ("📞" if self.reason == HandoffReason.CALLBACK else "") + icon
        icon = ("🔁" if self.is_open and self.extra.get("reopened") else "") + icon  # the customer came back
        who = self.display_name
        if self.customer.channel == "whatsapp" and self.customer_handle:
            who = self.customer_handle + (f" · {self.customer_name}" if self.customer_name else "")
        return f"{icon} {self.number} · {self.channel_title} · {who}"[:128]

    # --- storage form: a flat Redis hash -----------------------------------------------------------------
    def to_hash(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "customer": self.customer.key,
            "status": str(self.status),
            "created_at": repr(self.created_at),
            "language": self.language,
            "customer_name": self.customer_name,
            "customer_handle": self.customer_handle,
            "reason": str(self.reason),
            "tried": json.dumps(list(self.tried)),
            "first_reply_at": "" if self.first_reply_at is None else repr(self.first_reply_at),
            "resolved_at": "" if self.resolved_at is None else repr(self.resolved_at),
            "operator": self.operator,
            "escalated": "1" if self.escalated else "",
            "rating": "" if self.rating is None else str(self.rating),
            "closed_by": self.closed_by,
            "resolved_by": self.resolved_by,
            **{f"x_{k}": v for k, v in self.extra.items()},
        }

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Case:
        def opt_float(v: str | None) -> float | None:
            return float(v) if v else None

        return cls(
            id=int(h["id"]),
            customer=UserRef.parse(h["customer"]),
            status=CaseStatus(h["status"]),
            created_at=float(h["created_at"]),
            language=h.get("language", "ru"),
            customer_name=h.get("customer_name", ""),
            customer_handle=h.get("customer_handle", ""),
            reason=h.get("reason", HandoffReason.REQUESTED),
            tried=tuple((e, float(s)) for e, s in json.loads(h.get("tried") or "[]")),
            first_reply_at=opt_float(h.get("first_reply_at")),
            resolved_at=opt_float(h.get("resolved_at")),
            operator=h.get("operator", ""),
            escalated=bool(h.get("escalated")),
            rating=int(h["rating"]) if h.get("rating") else None,
            closed_by=h.get("closed_by", ""),
            resolved_by=h.get("resolved_by", ""),
            extra={k[2:]: v for k, v in h.items() if k.startswith("x_")},
        )


def can_move(case: Case, to: CaseStatus) -> bool:
    return to in TRANSITIONS[case.status]


def move(case: Case, to: CaseStatus, now: float, operator: str = "", closed_by: str = "operator") -> Case:
    """The case in its new status; raises TransitionError when the lifecycle forbids the move."""
    if not can_move(case, to):
        raise TransitionError(f"case {case.number} is {case.status}; it cannot become {to}")
    changes: dict = {"status": to}
    if operator and (to is CaseStatus.IN_PROGRESS or not case.operator):
        changes["operator"] = operator
    if to in (CaseStatus.RESOLVED, CaseStatus.CANCELLED):
        changes["resolved_at"] = now
        changes["closed_by"] = closed_by
    if to is CaseStatus.RESOLVED:
        changes["resolved_by"] = operator or case.operator
    return replace(case, **changes)


def record_reply(case: Case, now: float, operator: str) -> Case:
    """An operator answered: first-reply time is kept once; a fresh case is now in progress."""
    changes: dict = {}
    if case.first_reply_at is None:
        changes["first_reply_at"] = now
    if case.status is CaseStatus.ACCEPTED:
        changes["status"] = CaseStatus.IN_PROGRESS
    if not case.operator:
        changes["operator"] = operator
    return replace(case, **changes) if changes else case


def rate(case: Case, stars: int) -> Case:
    if case.status is not CaseStatus.RESOLVED:
        raise TransitionError(f"case {case.number} is not resolved yet")
    if not 1 <= stars <= 5:
        raise TransitionError("a rating is 1 to 5")
    return replace(case, rating=stars)


def reopen(case: Case, operator: str) -> Case:
    """A resolved case back in progress (an operator has more to say); its rating is asked for again later."""
    if case.is_open:
        raise TransitionError(f"case {case.number} is open already")
    return replace(
        case,
        status=CaseStatus.IN_PROGRESS,
        resolved_at=None,
        closed_by="",
        resolved_by="",
        rating=None,
        operator=operator or case.operator,
    )
