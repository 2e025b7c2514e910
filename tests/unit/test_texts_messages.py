import pytest

from core.messages import Attachment, Audience, Button, MessageRef, Outbound, UserRef
from core.texts import TEXTS, detect_language, t


def test_every_text_in_both_languages():
    for key, variants in TEXTS.items():
        assert set(variants) == {"ru", "en"}, key
        assert all(v.strip() for v in variants.values()), key


def test_placeholders_match_between_languages():
    import string

    for key, variants in TEXTS.items():
        fields = [{f for _, f, _, _ in string.Formatter().parse(v) if f} for v in variants.values()]
        assert fields[0] == fields[1], key


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        ("Как сбросить пароль?", None, "ru"),
        ("How do I reset my password?", "ru", "en"),  # the text wins over the platform
        ("👍", "en-US", "en"),
        ("ok", "uk", "ru"),
        ("", None, "ru"),
        ("", "de", "en"),
    ],
)
def test_detect_language(text, code, expected):
    assert detect_language(text, code) == expected


def test_t_fills_and_falls_back():
    assert "#7" in t("handoff", "en", number="#7")
    assert t("btn_operator", "de") == TEXTS["btn_operator"]["en"]


def test_outbound_json_round_trip():
    out = Outbound(
        Audience.CUSTOMER,
        "привет",
        to=UserRef("vk", "1"),
        case_id=3,
        buttons=(Button("Да", "op:requested"),),
        attachments=(Attachment("photo", "AgAD", "telegram", "a.jpg", "image/jpeg", 10),),
        copy_from=MessageRef("telegram", "5", "9"),
        kind="text",
        lang="ru",
        meta={"k": 1},
    )
    back = Outbound.from_json(out.to_json())
    assert back == out
    assert back.meta == {"k": 1}
