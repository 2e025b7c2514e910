"""Managers in Telegram, over the real path in memory: ``/stats`` and ``/gaps`` (staff group and private chat),
who may use them, the chart that comes with ``/stats``, and the daily digest (once, with several processes)."""

from __future__ import annotations

import asyncio
import base64
import struct

from bots.digest import DigestClock
from core.events import OperatorCommand, StaffPlace
from core.messages import Audience, Operator, StaffKind, UserRef
from core.stats.chart import CHART_SIZE
from core.stats.figures import read_figures
from core.stats.period import Period
from tests.integration.test_stats import DAY, drive

IVAN = Operator("8", "Ivan")  # not a manager
MANAGER = UserRef("telegram", "7")  # Olga's Telegram id, in MANAGER_IDS below
SETTINGS = {"MANAGER_IDS": "7, 9", "channels": ("telegram", "vk", "whatsapp")}


def png_size(attachment) -> tuple[int, int]:
    header, _, data = attachment.ref.partition(",")
    assert header == "data:image/png;base64" and attachment.channel == "inline"
    png = base64.b64decode(data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) == attachment.size
    return struct.unpack(">II", png[16:24])


async def managed(conversation, **extra):
    conv, _ = await drive(lambda **kw: conversation(**{**SETTINGS, **kw, **extra}))
    return conv


async def test_stats_in_the_staff_group(conversation):
    conv = await managed(conversation)
    (answer,) = conv.staff_msgs(await conv.operator("/stats today", None))
    assert answer.kind == StaffKind.REPLY and answer.case_id == 0
    assert "📊 Support, 2026-01-01 (1 d)" in answer.text
    assert "Conversations: 6 · settled by the FAQ: 1 (17%)" in answer.text
    assert "Handed to a person: 5: asked 3, no match 1, didn't help 1" in answer.text
    assert "Ivan: 1 taken, 1 replies, 0 resolved" in answer.text
    (chart,) = answer.attachments
    assert png_size(chart) == CHART_SIZE


async def test_only_managers_get_figures(conversation):
    conv = await managed(conversation)
    (refused,) = conv.staff_msgs(await conv.operator("/stats", None, operator=IVAN))
    assert refused.text == "/stats is for managers only (MANAGER_IDS). Your Telegram id: 8."
    assert not refused.attachments
    (refused,) = conv.staff_msgs(await conv.operator("/gaps", None, operator=IVAN))
    assert "managers only" in refused.text
    stranger = UserRef("telegram", "12345")
    (told,) = conv.customer_msgs(await conv.say("/stats", user=stranger))
    assert told.text == "Эта команда только для менеджеров поддержки." and not told.attachments
    (told,) = conv.customer_msgs(await conv.press("gapshow:abc.1", user=stranger))
    assert "только для менеджеров" in told.text


async def test_stats_in_a_private_chat_is_not_a_conversation(conversation):
    conv = await managed(conversation)
    (answer,) = conv.customer_msgs(await conv.say("/stats 2026-01-01..2026-01-01", user=MANAGER))
    assert answer.to == MANAGER and "Conversations: 6" in answer.text
    assert png_size(answer.attachments[0]) == CHART_SIZE
    fig = await read_figures(conv.store, Period(DAY, DAY))
    assert fig.overall.conversations == 6  # the manager's /stats counted nowhere


async def test_a_bad_period_says_what_is_accepted(conversation):
    conv = await managed(conversation)
    (answer,) = conv.staff_msgs(await conv.operator("/stats last week", None))
    assert answer.text.startswith("Not a period:") and "/stats 7d" in answer.text and not answer.attachments


async def test_gaps_list_and_their_buttons(conversation):
    conv = await managed(conversation)
    for text in ("Можно оплатить криптовалютой?", "оплата биткоином возможна?", "Где ваш офис в Казани?"):
        await conv.say(text, user=UserRef("vk", "g"), name="g")
    (listing,) = conv.staff_msgs(await conv.operator("/gaps 7d", None))
    assert listing.text.startswith("FAQ gaps in 2025-12-26..2026-01-01:")
    assert len(listing.buttons) >= 2
    first = listing.buttons[0]
    assert first.label.startswith("1 · ") and first.payload.startswith("gapshow:0:")
    token = first.payload.removeprefix("gapshow:0:")
    press = OperatorCommand(conv.operator_ref, 0, "gapshow", StaffPlace(), conv.next_id(), token)
    (examples,) = conv.staff_msgs(await conv.send(press))
    assert examples.text.startswith("Group 1:") and "For faq_data:" in examples.text
    gone = OperatorCommand(conv.operator_ref, 0, "gapshow", StaffPlace(), conv.next_id(), "nope.1")
    (expired,) = conv.staff_msgs(await conv.send(gone))
    assert expired.text == "That list has expired: type /gaps again."
    (private,) = conv.customer_msgs(await conv.say("/gaps", user=MANAGER))
    payload = private.buttons[0].payload
    assert payload.startswith("gapshow:") and not payload.startswith("gapshow:0:")
    (shown,) = conv.customer_msgs(await conv.press(payload, user=MANAGER))
    assert shown.text.startswith("Group 1:")


async def test_a_gaps_list_keeps_no_text_and_forget_reaches_it(conversation, redis):
    conv = await managed(conversation)
    gina = UserRef("vk", "g")
    for text in ("Где ваш офис в Казани?", "есть офис в казани?"):
        await conv.say(text, user=gina, name="g")
    (listing,) = conv.staff_msgs(await conv.operator("/gaps 7d", None))
    token = listing.buttons[0].payload.removeprefix("gapshow:0:").rpartition(".")[0]
    kept = await redis.get(conv.store.keys.stats_view(token))
    assert "Казани" not in kept and "казани" not in kept  # only digests of the questions shown
    press = OperatorCommand(conv.operator_ref, 0, "gapshow", StaffPlace(), conv.next_id(), f"{token}.1")
    (before,) = conv.staff_msgs(await conv.send(press))
    assert "Где ваш офис в Казани?" in before.text
    await conv.say("/forget", user=gina, name="g")
    await conv.press("forget:yes", user=gina, name="g")
    again = OperatorCommand(conv.operator_ref, 0, "gapshow", StaffPlace(), conv.next_id(), f"{token}.1")
    (after,) = conv.staff_msgs(await conv.send(again))
    assert after.text.startswith("Group 1: 2 question(s)") and "Казани" not in after.text


async def test_the_digest_goes_once_to_every_manager(conversation, clock):
    conv = await managed(conversation, DIGEST_TIME="09:00")
    other = await conversation(**SETTINGS, DIGEST_TIME="09:00")  # a second process
    clocks = [DigestClock(c.core, (9, 0), clock=clock) for c in (conv, other)]
    assert not await clocks[0].tick()  # 2026-01-01 00:28: not yet
    clock.advance(9 * 3600)  # 09:28 on 2026-01-01: the digest of 2025-12-31
    fired = await asyncio.gather(clocks[0].tick(), clocks[1].tick())  # at the same moment, as replicas do
    assert fired == [True, True]  # both fire; the digest's lane and dedup key let one through
    sent = await conv.deliver() + await other.deliver()
    digests = [o for o in sent if o.audience == Audience.CUSTOMER and o.text.startswith("Digest for 2025-12-31")]
    assert sorted(o.to.user_id for o in digests) == ["7", "9"]
    assert all(png_size(o.attachments[0]) == CHART_SIZE for o in digests)
    assert not await clocks[0].tick()  # fired already today
    clock.advance(13 * 3600)  # 22:28: more than 12 hours late: a process starting now does not send it
    late = DigestClock(conv.core, (9, 0), clock=clock)
    assert late.due(clock()) is None
    evening = DigestClock(conv.core, (21, 0), clock=clock)  # 21:00, and a process that starts at 00:30
    assert evening.due(clock() + 2 * 3600) == "2025-12-31"  # 3.5 hours late, across midnight: still sent


def broken_chart(*args, **kwargs) -> bytes:
    raise RuntimeError("no fonts on this server")


async def test_a_chart_that_cannot_be_drawn_does_not_hold_the_figures_up(conversation, caplog):
    conv = await managed(conversation, chart=broken_chart)
    (answer,) = conv.staff_msgs(await conv.operator("/stats today", None))
    assert "Conversations: 6" in answer.text and not answer.attachments
    assert answer.text.endswith("(The chart could not be drawn this time; the figures above are complete.)")
    assert "the chart of 2026-01-01 could not be drawn" in caplog.text
