import pytest

from core.cases import Case, CaseStatus, TransitionError, can_move, move, rate, record_reply, reopen
from core.messages import UserRef

ANNA = UserRef("telegram", "42")


def new_case(**kw) -> Case:
    base = dict(id=123, customer=ANNA, status=CaseStatus.ACCEPTED, created_at=1000.0, customer_name="Anna")
    base.update(kw)
    return Case(**base)


def test_number_and_topic_title():
    case = new_case()
    assert case.number == "#123"
    assert case.topic_title() == "🆕 #123 · Telegram · Anna"
    assert "⚠️" in new_case(escalated=True).topic_title()
    assert new_case(customer=UserRef("vk", "7"), customer_name="Ivan").topic_title().endswith("#123 · VK · Ivan")
    assert len(new_case(customer_name="x" * 500).topic_title()) == 128
    wa = new_case(customer=UserRef("whatsapp", "79001234567"), customer_name="Maria", customer_handle="+79001234567")
    assert wa.topic_title() == "🆕 #123 · WhatsApp · +79001234567 · Maria"


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS, True),
        (CaseStatus.ACCEPTED, CaseStatus.NEEDS_INFO, True),
        (CaseStatus.ACCEPTED, CaseStatus.RESOLVED, True),
        (CaseStatus.IN_PROGRESS, CaseStatus.NEEDS_INFO, True),
        (CaseStatus.NEEDS_INFO, CaseStatus.IN_PROGRESS, True),
        (CaseStatus.IN_PROGRESS, CaseStatus.ACCEPTED, False),
        (CaseStatus.RESOLVED, CaseStatus.IN_PROGRESS, False),
        (CaseStatus.RESOLVED, CaseStatus.RESOLVED, False),
        (CaseStatus.IN_PROGRESS, CaseStatus.IN_PROGRESS, False),
    ],
)
def test_transitions(start, target, allowed):
    case = new_case(status=start)
    assert can_move(case, target) is allowed
    if allowed:
        assert move(case, target, 2000.0).status is target
    else:
        with pytest.raises(TransitionError):
            move(case, target, 2000.0)


def test_resolve_sets_time_and_closer():
    done = move(new_case(), CaseStatus.RESOLVED, 5000.0, operator="Olga")
    assert done.resolved_at == 5000.0
    assert done.closed_by == "operator"
    assert done.operator == "Olga"
    assert not done.is_open


def test_first_reply_recorded_once_and_starts_work():
    case = record_reply(new_case(), 1100.0, "Olga")
    assert case.first_reply_at == 1100.0
    assert case.status is CaseStatus.IN_PROGRESS
    again = record_reply(case, 1200.0, "Petr")
    assert again.first_reply_at == 1100.0
    assert again.operator == "Olga"


def test_rating_rules():
    with pytest.raises(TransitionError):
        rate(new_case(), 5)
    done = move(new_case(), CaseStatus.RESOLVED, 2000.0)
    assert rate(done, 4).rating == 4
    with pytest.raises(TransitionError):
        rate(done, 6)


def test_hash_round_trip():
    case = new_case(
        tried=(("refund", 0.61), ("payment_failed", 0.4)),
        first_reply_at=1010.5,
        escalated=True,
        rating=None,
        customer_handle="@anna",
        extra={"topic": "77"},
    )
    assert Case.from_hash(case.to_hash()) == case
    assert Case.from_hash(case.to_hash()).extra == {"topic": "77"}


def test_reopen():
    with pytest.raises(TransitionError):
        reopen(new_case(), "Olga")
    done = rate(move(new_case(), CaseStatus.RESOLVED, 2000.0, operator="Olga"), 2)
    again = reopen(done, "Petr")
    assert again.status is CaseStatus.IN_PROGRESS and again.resolved_at is None and again.rating is None
    assert again.operator == "Petr"
