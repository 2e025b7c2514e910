"""``core.privacy.mask``: card numbers (Luhn) and secrets hidden; order numbers, phones, dates, amounts left alone."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.privacy import CARD, CODE, PASSWORD, luhn, mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Моя карта 4111 1111 1111 1111, списали дважды", "Моя карта •••• 1111, списали дважды"),
        ("card 4111-1111-1111-1111 please", "card •••• 1111 please"),
        ("5500000000000004", "•••• 0004"),
        ("Amex 3782 822463 10005", "Amex •••• 0005"),
        ("Заказ оплачен картой 4111 1111 1111 1111", "Заказ оплачен картой •••• 1111"),
        ("4111 1111 1111 1111 2025", "•••• 1111 2025"),  # a card glued to the expiry year
        ("карта 4111\u00a01111\u00a01111\u00a01111", "карта •••• 1111"),
    ],
)
def test_card_numbers_that_pass_luhn_are_masked_to_their_last_four_digits(text, masked):
    assert mask(text) == (masked, (CARD,))


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails the Luhn check
        "заказ AB-12345-XYZ не пришёл",
        "AB-4111111111111111",  # an identifier with letters
        "4111111111111111-XYZ",
        "Номер заказа 4111111111111111",  # a number named as something else
        "order #4111111111111111",
        "трек-номер 4111111111111111",
        "позвоните +8613912345678",  # a phone number in international form (13 digits)
        "телефон +7 900 123-45-67, или 8 (900) 123-45-67",
        "дата 12.03.2024, сумма 1 500 000 руб",
        "1 000 000 000 000 000",  # grouped by threes: an amount
        "411111111111",  # 12 digits
        "41111111111111111111",  # 20 digits
        "Как сбросить пароль?",
        "Забыл пароль от аккаунта",
        "мой пароль не подходит",
        "my password is incorrect",
        "password reset link",
        "I can't pass the test 1234",
        "promo code: SALE2024",
        "error code: 500",
        "код ошибки 500",
        "код из смс не пришёл",
        "промокод 12345",
        "купил 3 шт по 1234 руб, итого 3702",
    ],
)
def test_no_false_positives(text):
    assert mask(text) == (text, ())


@pytest.mark.parametrize(
    ("text", "masked", "kind"),
    [
        ("пароль: qwerty", "пароль: [скрыто]", PASSWORD),
        ("мой пароль qwerty123", "мой пароль [скрыто]", PASSWORD),
        ("Мой пароль qwerty", "Мой пароль [скрыто]", PASSWORD),  # Latin letters after a Russian word
        ("password is hunter2", "password is [hidden]", PASSWORD),
        ("my password for the account is hunter2", "my password for the account is [hidden]", PASSWORD),
        ("pass: abc", "pass: [hidden]", PASSWORD),
        ("пароль от почты: Secret!1", "пароль от почты: [скрыто]", PASSWORD),
        ("пароль от почты qwerty123", "пароль от почты [скрыто]", PASSWORD),
        ("Пароль — Tr0ub4dor&3", "Пароль — [скрыто]", PASSWORD),
        ('мой пароль "hello world" не работает', "мой пароль [скрыто] не работает", PASSWORD),
        ("код из смс 1234", "код из смс [скрыто]", CODE),
        ("код из смс 123 456, пришёл", "код из смс [скрыто], пришёл", CODE),
        ("sms code 123456", "sms code [hidden]", CODE),
        ("OTP 4821", "OTP [hidden]", CODE),
        ("PIN 1234", "PIN [hidden]", CODE),
        ("CVV 123", "CVV [hidden]", CODE),
        ("пин-код 0000", "пин-код [скрыто]", CODE),
        ("код: 4821", "код: [скрыто]", CODE),
        ("verification code is 991-204", "verification code is [hidden]", CODE),
    ],
)
def test_passwords_and_codes_are_hidden(text, masked, kind):
    assert mask(text) == (masked, (kind,))


def test_several_kinds_in_one_message_in_the_order_found():
    text = "Оплатил картой 5500 0000 0000 0004, код подтверждения 8812, пароль: qwerty"
    masked, kinds = mask(text)
    assert masked == "Оплатил картой •••• 0004, код подтверждения [скрыто], пароль: [скрыто]"
    assert kinds == (CARD, CODE, PASSWORD)


def test_the_placeholder_follows_the_words_around_or_is_given():
    assert mask("my password: пароль123")[0] == "my password: [hidden]"
    assert mask("пароль: qwerty", hidden="***")[0] == "пароль: ***"


def test_the_luhn_check():
    assert luhn("4111111111111111") and luhn("378282246310005") and luhn("0")
    assert not luhn("4111111111111112")


@given(st.text(max_size=200))
def test_masking_twice_changes_nothing(text):
    once, _ = mask(text)
    assert mask(once) == (once, ())


@given(st.from_regex(r"[А-Яа-я ,.!?0-9+()-]{0,80}", fullmatch=True))
def test_nothing_with_fewer_than_13_digits_is_a_card(text):
    if sum(ch.isdigit() for ch in text) < 13:
        assert CARD not in mask(text)[1]


def test_two_cards_in_one_run_are_both_masked():
    assert mask("4111 1111 1111 1111 5500 0000 0000 0004") == ("•••• 1111 •••• 0004", (CARD,))


@pytest.mark.parametrize(
    "text",
    ["1-" * 2000, "1234 " * 800, "password is" + " " * 4000, "пароль от" + " " * 4000, "пароль: " * 500, "1 " * 2000],
)
def test_long_hostile_texts_are_masked_quickly(text):
    started = time.perf_counter()
    mask(text)
    assert time.perf_counter() - started < 1.0  # linear work (it took seconds before the searches were bounded)
