"""Random texts through the real path (intake, desk, outbox, delivery; in memory: ``tests.harness.Conversation``)
as customers' messages, customers' and operators' names, and operators' texts: nothing crashes, the staff side
never shows a control character (but line breaks and tabs) or a lone surrogate, a name never holds a line break,
a direction override or a zero-width character, and a long question reaches the staff side whole. One case goes
through the Telegram stand-in: the staff side is sent as plain text (no parse mode, no entities), in parts.

Hypothesis runs in a worker thread (derandomized) while the harness runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.messages import Audience, Operator, Outbound, StaffKind, UserRef
from core.sanitize import clean_text
from tests.e2e.conftest import telegram_settings
from tests.fuzz.mutate import NASTY_TEXTS
from tests.harness import Conversation

FUZZ = settings(
    max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # control characters but \t and \n
SURROGATE = re.compile(r"[\ud800-\udfff]")
NOT_IN_A_NAME = re.compile(r"[\n\r\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2060\ufeff]")

PIECES = [  # what people (and attackers) paste
    "\x1b[31m",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "\x00",
    "\x07",
    "\x08",
    "\x0b",
    "\x0c",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "\x85",
    "\x9b",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u200f",
    "\u061c",
    "\u2028",
    "\ud800",
    "\udfff",
    "<b>",
    "</b>",
    "<a href='x'>",
    "&amp;",
    "*bold*",
    "_it_",
    "`code`",
    "```",
    "[link](http://x)",
    "||spoiler||",
    "@admin",
    "#1",
    "/resolve",
    "//",
    "!",
    "Привет",
    "שלום",
    "مرحبا",
    "👍🏽",
    "e\u0301",
    " ",
    "x",
]
texts = st.one_of(
    st.sampled_from(NASTY_TEXTS),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.text(st.characters(codec=None) | st.characters(categories=["Cs"]), max_size=60),
    st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),  # invalid UTF-8, as Python keeps it
    st.builds(lambda piece, n: piece * n, st.sampled_from(PIECES), st.integers(500, 3000)),  # huge
)
names = st.one_of(st.none(), texts, st.text(max_size=80))
_users = itertools.count(1)


def in_thread(loop: asyncio.AbstractEventLoop, coro: Awaitable[Any]) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(120)  # type: ignore[arg-type]


def check_staff(outs: list[Outbound]) -> None:
    for out in outs:
        if out.audience is not Audience.STAFF:
            continue
        for shown in (out.text, str(out.meta.get("title") or "")):
            assert not CONTROL.search(shown), f"a control character on the staff side: {shown[:200]!r}"
            assert not SURROGATE.search(shown), f"a lone surrogate on the staff side: {shown[:200]!r}"
        assert not NOT_IN_A_NAME.search(str(out.meta.get("title") or "")), out.meta


def check_customer(outs: list[Outbound]) -> None:
    for out in outs:
        if out.audience is Audience.CUSTOMER:
            assert not CONTROL.search(out.text) and not SURROGATE.search(out.text), repr(out.text[:200])
            assert not NOT_IN_A_NAME.search(str(out.meta.get("operator") or "")), out.meta


async def test_customer_texts_and_names(conv: Conversation):
    loop = asyncio.get_running_loop()

    @FUZZ
    @given(first=texts, text=texts, name=names)
    def fuzz(first: str, text: str, name: str | None) -> None:
        user = UserRef("console", f"f{next(_users)}")
        check_customer(in_thread(loop, conv.say(first, user=user, name=name)))  # the FAQ side
        outs = in_thread(loop, conv.say("/operator", user=user, name=name))
        check_staff(outs)
        opened = [o for o in outs if o.kind == StaffKind.CASE_OPENED]
        case_id = opened[0].case_id if opened else None
        if case_id is None:  # "/operator" was not a handoff here (e.g. the case opened on the first message)
            case = in_thread(loop, conv.store.open_case_of(user))
            assert case is not None, [o.text[:100] for o in outs]
            case_id = case.id
        case = in_thread(loop, conv.store.get_case(case_id))
        assert not NOT_IN_A_NAME.search(case.customer_name) and not CONTROL.search(case.customer_name)
        outs = in_thread(loop, conv.say(text, user=user, name=name))
        check_staff(outs)
        check_customer(outs)
        question = clean_text(text).strip()
        if question and not question.startswith("/"):  # a command is the desk's, not a message
            relayed = "".join(o.text for o in outs if o.kind == StaffKind.CUSTOMER_MESSAGE)
            assert question in relayed, (question[:100], relayed[:100])

    await asyncio.to_thread(fuzz)


async def test_operator_texts_and_names(conv: Conversation):
    loop = asyncio.get_running_loop()

    @FUZZ
    @given(text=texts, name=texts, command=st.sampled_from(["take", "needinfo", "status", "resolve"]))
    def fuzz(text: str, name: str, command: str) -> None:
        n = next(_users)
        outs = in_thread(loop, conv.say("/operator", user=UserRef("console", f"o{n}")))  # a case of its own
        case_id = next(o for o in outs if o.kind == StaffKind.CASE_OPENED).case_id
        operator = Operator(f"op{n}", name)
        outs = in_thread(loop, conv.operator(text, case_id=case_id, operator=operator))
        check_staff(outs)
        check_customer(outs)
        outs = in_thread(loop, conv.button(case_id, command, operator=operator))
        check_staff(outs)
        check_customer(outs)
        outs = in_thread(loop, conv.operator_edit(text, case_id, operator=operator))
        check_staff(outs)
        check_customer(outs)

    await asyncio.to_thread(fuzz)


async def test_a_long_nasty_question_reaches_the_telegram_staff_group_whole_as_plain_text(telegram_fake, bot_factory):
    fake = telegram_fake
    await bot_factory(**telegram_settings(fake))
    anna = 7401
    fake.customer_says(anna, "/operator", name="Anna \u202eevil\u200b\nline")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="the case's topic")
    assert not NOT_IN_A_NAME.search(topic.name)
    body = "".join(itertools.islice(itertools.cycle([*PIECES[:24], "слово ", "word ", "<i>x</i> ", "*y* "]), 12000))
    question = "Вопрос: " + body + " КОНЕЦ"
    fake.customer_says(anna, question)
    expected = clean_text(question).strip()
    sent = await fake.wait_for(
        lambda: [m for m in fake.topic_messages(topic.thread_id) if "КОНЕЦ" in (m.text or "")], what="the last part"
    )
    _card, *relay = [m.text or "" for m in fake.topic_messages(topic.thread_id) if m.kind == "text"]
    assert len(sent) == 1 and len(relay) >= 3 and all(len(t) <= 4096 for t in relay)  # in parts, as Telegram takes
    header, _, first = relay[0].partition(":\n")
    assert header.startswith("👤 Anna") and not NOT_IN_A_NAME.search(header)
    rest = expected  # whole: the parts are the cleaned question in order (a cut drops the break it lands on)
    for part in [first, *relay[1:]]:
        assert rest.startswith(part), (part[:60], rest[:60])
        rest = rest[len(part) :]
        rest = rest[1:] if rest[:1] in ("\n", " ") else rest
    assert rest == ""
    for m in fake.staff_messages():
        assert m.parse_mode is None and not m.entities, (m.kind, m.parse_mode, m.entities)
        assert not CONTROL.search(m.text or "") and not SURROGATE.search(m.text or "")
