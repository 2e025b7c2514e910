"""Customers on Telegram, end to end: the real aiogram bot polling the local Bot API stand-in over HTTP."""

from __future__ import annotations

from aiogram.types import Message

from bots.telegram.events import attachments_of
from core.messages import UserRef, to_customer

ANNA = 7001


async def test_faq_answer_with_buttons(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "Как сбросить пароль?")
    msgs = await fake.wait_for(lambda: fake.sent_to(ANNA), what="an answer")
    assert "Забыли пароль" in msgs[0].text
    payloads = [p for _, p in msgs[0].buttons]
    assert "nohelp:reset_password" in payloads and "op:requested" in payloads
    assert not fake.staff_messages()


async def test_button_press_is_a_choice_and_is_answered(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "Как сбросить пароль?")
    await fake.wait_for(lambda: fake.sent_to(ANNA))
    fake.press(ANNA, "nohelp:reset_password")
    await fake.wait_for(lambda: len(fake.sent_to(ANNA)) >= 2, what="the operator offer")
    offer = fake.sent_to(ANNA)[1]
    assert any(p.startswith("op:") for _, p in offer.buttons)
    assert fake.callback_answers, "the callback query was not answered"
    fake.press(ANNA, "op:not_helped")  # after a failed FAQ: the details are asked for first
    ask = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if m.buttons and "prep:" in m.buttons[0][1]])
    assert not fake.topic_named("Anna")
    fake.press(ANNA, ask[0].buttons[0][1])  # "Skip"
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"), what="a topic")
    assert "Telegram" in topic.name and "#" in topic.name


async def test_handoff_creates_topic_and_card(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "Как сбросить пароль?", name="Anna Ivanova", username="anna_iv")
    await fake.wait_for(lambda: fake.sent_to(ANNA))
    fake.customer_says(ANNA, "/operator", name="Anna Ivanova", username="anna_iv")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna Ivanova"), what="a topic")
    assert "#1" in topic.name and "Telegram" in topic.name
    card = (await fake.wait_for(lambda: fake.topic_messages(topic.thread_id)))[0]
    assert "Case #1" in card.text and "@anna_iv" in card.text and "reset_password" in card.text
    assert "Language: ru" in card.text
    assert [label for label, _ in card.buttons] == ["Take", "Needs info", "Resolve", "Escalate"]
    told = await fake.wait_for(lambda: [m for m in fake.sent_to(ANNA) if "#1" in (m.text or "")])
    assert "создано" in told[0].text


async def test_customer_media_kinds_reach_the_topic(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "/operator")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"))
    fake.customer_sends_photo(ANNA, caption="screenshot")
    fake.customer_sends_document(ANNA, b"%PDF-1.4 invoice", "invoice.pdf")
    voice_id = fake.add_file(b"OggS voice", "voice.ogg")
    fake.customer_says(ANNA, None, voice={"file_id": voice_id, "file_unique_id": voice_id, "duration": 2})
    sticker_id = fake.add_file(b"RIFF webp", "sticker.webp")
    fake.customer_says(
        ANNA,
        None,
        sticker={
            "file_id": sticker_id,
            "file_unique_id": sticker_id,
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        },
    )
    video_id = fake.add_file(b"mp4 video", "clip.mp4")
    fake.customer_says(
        ANNA, None, video={"file_id": video_id, "file_unique_id": video_id, "width": 1, "height": 1, "duration": 1}
    )

    def copies_():
        c = [m for m in fake.topic_messages(topic.thread_id) if m.kind.startswith("copy")]
        return c if len(c) >= 5 else None

    copies = await fake.wait_for(copies_, what="five relayed files")
    kinds = [c.kind for c in copies]
    assert kinds == ["copy:photo", "copy:document", "copy:voice", "copy:sticker", "copy:video"]
    assert copies[0].text == "screenshot"


async def test_a_video_note_stays_a_video_note(tg_bot, telegram_fake):
    fake = telegram_fake
    fake.customer_says(ANNA, "/operator")
    topic = await fake.wait_for(lambda: fake.topic_named("Anna"))
    note_id = fake.add_file(b"round video", "note.mp4")
    fake.customer_says(
        ANNA, None, video_note={"file_id": note_id, "file_unique_id": note_id, "length": 240, "duration": 2}
    )
    await fake.wait_for(lambda: [m for m in fake.topic_messages(topic.thread_id) if m.kind == "copy:video_note"])
    # shown again from its file_id (as when merged): sendVideoNote, not sendVideo (Telegram refuses that)
    msg = Message.model_validate(fake.messages[(ANNA, max(mid for chat, mid in fake.messages if chat == ANNA))])
    out = to_customer(UserRef("telegram", str(ANNA)), "", attachments=attachments_of(msg))
    await tg_bot.core.outbox.enqueue([out])
    sent = await fake.wait_for(lambda: fake.sent_to(ANNA, kind="video_note"))
    assert sent[0].file == note_id
