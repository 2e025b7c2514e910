"""Managers on the Telegram stand-in: ``/stats`` in the staff group's general topic and in a private chat comes back
as an uploaded PNG chart with the summary; a non-manager is refused; ``/gaps`` buttons work from the group."""

from __future__ import annotations

import struct

from core.stats.chart import CHART_SIZE
from tests.e2e.conftest import telegram_settings

OLGA = 501  # the stand-in's default operator
MANAGER = 9001
STRANGER = 7103


def png_size(data: bytes | None) -> tuple[int, int]:
    assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


async def test_stats_and_gaps_in_the_staff_group(telegram_fake, bot_factory):
    fake = telegram_fake
    await bot_factory(**telegram_settings(fake), MANAGER_IDS=f"{OLGA},{MANAGER}")
    fake.customer_says(7101, "Мой холодильник поёт по ночам", name="Anna")
    await fake.wait_for(lambda: fake.sent_to(7101), what="the no-match answer")
    said = fake.operator_says(None, "/stats today")
    photos = await fake.wait_for(lambda: fake.sent_to(fake.staff_chat, kind="photo"), what="the chart")
    assert png_size(photos[0].data) == CHART_SIZE
    assert photos[0].reply_to == said["message"]["message_id"]  # answered where it was typed
    shown = "".join(m.text or "" for m in fake.staff_messages())
    assert "Conversations: 1 · settled by the FAQ: 0 (0%)" in shown

    fake.operator_says(None, "/gaps")
    listing = await fake.wait_for(lambda: [m for m in fake.staff_messages() if (m.text or "").startswith("FAQ gaps")])
    button = listing[0].reply_markup["inline_keyboard"][0][0]
    assert button["text"] == "1 · 1×" and button["callback_data"].startswith("gapshow:0:")
    fake.operator_press(listing[0], button["callback_data"])
    group = await fake.wait_for(lambda: [m for m in fake.staff_messages() if (m.text or "").startswith("Group 1")])
    assert "Мой холодильник поёт по ночам" in group[0].text

    fake.operator_says(None, "/stats", user_id=502, name="Ivan Petrov")
    refused = await fake.wait_for(lambda: [m for m in fake.staff_messages() if "managers only" in (m.text or "")])
    assert "Your Telegram id: 502." in refused[0].text


async def test_stats_in_a_private_chat(telegram_fake, bot_factory):
    fake = telegram_fake
    await bot_factory(**telegram_settings(fake), MANAGER_IDS=str(MANAGER))
    fake.customer_says(MANAGER, "/stats 30d", name="Maria")
    (photo,) = await fake.wait_for(lambda: fake.sent_to(MANAGER, kind="photo"), what="the chart")
    assert png_size(photo.data) == CHART_SIZE
    fake.customer_says(STRANGER, "/stats", name="Boris")
    (refused,) = await fake.wait_for(lambda: fake.sent_to(STRANGER), what="the refusal")
    assert refused.text == "Эта команда только для менеджеров поддержки."


async def test_the_digest_clock_runs_only_when_configured(telegram_fake, bot_factory):
    with_digest = await bot_factory(**telegram_settings(telegram_fake), MANAGER_IDS=str(MANAGER), DIGEST_TIME="09:00")
    assert "digest" in [t.get_name() for t in with_digest.runtime.tasks]
    for settings in ({"MANAGER_IDS": str(MANAGER)}, {"DIGEST_TIME": "09:00"}):  # no time, or nobody to send to
        bot = await bot_factory(**telegram_settings(telegram_fake), **settings)
        assert "digest" not in [t.get_name() for t in bot.runtime.tasks]
