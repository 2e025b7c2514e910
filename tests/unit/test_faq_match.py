"""Normalisation, keyboard layout, matching bands and robustness, confusable pairs."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from core.faq import (
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_SUGGEST_THRESHOLD,
    Band,
    FaqEntry,
    FaqMatcher,
    confusable_pairs,
    fix_layout,
    load_faq,
    normalize,
)

FAQ = Path(__file__).parent / "data" / "faq_small.yaml"


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq(FAQ))


def test_normalize() -> None:
    assert normalize("  Ёлка,   ЁЖИК!!  ") == "елка ежик"
    assert normalize("Where's my\torder?!") == "where s my order"
    assert normalize("…——") == ""
    assert normalize("Карта_VISA / 24/7") == "карта visa 24 7"


def test_fix_layout() -> None:
    assert fix_layout("ghbdtn") == "привет"
    assert fix_layout("руддщ") == "hello"
    assert fix_layout("Ghbdtn") == "Привет"
    assert fix_layout("j,sxyj") == "обычно"  # a comma between letters is the key б
    assert fix_layout("ghbdtn, rfr ltkf?") == "привет, как дела?"  # a trailing comma stays
    assert fix_layout("ghbdtn мир") == "привет мир"  # mixed: words in the target script are kept
    assert fix_layout("руддщ bob") == "hello bob"
    assert fix_layout("123") == "123"


def test_thresholds_are_ordered() -> None:
    assert 0 < DEFAULT_SUGGEST_THRESHOLD < DEFAULT_ANSWER_THRESHOLD < 1


def test_band_answer(matcher: FaqMatcher) -> None:
    m = matcher.match("Какие часы работы поддержки?")
    assert m.band is Band.ANSWER
    assert m.best is not None and m.best.entry.id == "working_hours"
    assert m.best.score >= DEFAULT_ANSWER_THRESHOLD
    assert len(m.candidates) <= 3
    scores = [c.score for c in m.candidates]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_band_suggest(matcher: FaqMatcher) -> None:
    m = matcher.match("карту")  # in both card entries: ambiguous
    assert m.band is Band.SUGGEST
    assert {c.entry.id for c in m.candidates[:2]} == {"card_lost", "card_new"}
    assert DEFAULT_SUGGEST_THRESHOLD <= m.best.score < DEFAULT_ANSWER_THRESHOLD


@pytest.mark.parametrize("text", ["zzz", "Play some jazz music", "", "?!"])
def test_band_none(matcher: FaqMatcher, text: str) -> None:
    m = matcher.match(text)
    assert m.band is Band.NONE
    assert m.best is None or m.best.score < DEFAULT_SUGGEST_THRESHOLD


def test_near_miss_candidates_are_kept_in_band_none() -> None:
    entries = load_faq(FAQ)
    m = FaqMatcher(entries, answer_threshold=1.0, suggest_threshold=1.0).match("Где мой заказ?")
    assert m.band is Band.NONE
    assert m.best is not None and m.best.entry.id == "delivery"


def test_custom_thresholds() -> None:
    entries = load_faq(FAQ)
    m = FaqMatcher(entries, answer_threshold=0.0, suggest_threshold=0.0).match("карту")
    assert m.band is Band.ANSWER
    with pytest.raises(ValueError):
        FaqMatcher(entries, answer_threshold=0.1, suggest_threshold=0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when is suport avialable", "working_hours"),  # typos
        ("available support is when", "working_hours"),  # word order
        ("поддержки работы часы какие", "working_hours"),
        ("Где мой зака", "delivery"),  # truncated word
        ("как вернуть деньги за заказ", "refund"),
        ("Как поменять пароль", "password"),  # another verb, same key word
        ("rfr cvtybnm gfhjkm", "password"),  # "как сменить пароль" typed in the English layout
        ("ghbdtn, rfr dthyenm ltymub pf pfrfp", "refund"),  # "привет, как вернуть деньги за заказ"
        ("Ш дщые ьн сфкв", "card_lost"),  # "I lost my card" typed in the Russian layout
        ("I lost my card ghjcnj", "card_lost"),  # mixed
    ],
)
def test_robust_matching(matcher: FaqMatcher, text: str, expected: str) -> None:
    m = matcher.match(text)
    assert m.best is not None and m.best.entry.id == expected
    assert m.band is Band.ANSWER


def test_empty_faq_matches_nothing() -> None:
    assert FaqMatcher([]).match("hello").band is Band.NONE


def test_confusable_pairs_finds_planted_duplicate() -> None:
    entries = [*load_faq(FAQ), FaqEntry("order_status", ("Где сейчас мой заказ?", "Track my parcel"), {"*": "x"})]
    pairs = confusable_pairs(entries)
    assert pairs, "the planted near-duplicate must be reported"
    a_id, a_text, b_id, b_text, sim = pairs[0]
    assert {a_id, b_id} == {"delivery", "order_status"}
    assert {a_text, b_text} == {"Где мой заказ?", "Где сейчас мой заказ?"}
    assert 0.75 <= sim <= 1.0
    sims = [p[4] for p in pairs]
    assert sims == sorted(sims, reverse=True)
    assert all(p[0] != p[2] for p in pairs)


def test_confusable_pairs_clean_faq_is_empty() -> None:
    assert confusable_pairs(load_faq(FAQ)) == []


SHIPPED = Path(__file__).resolve().parents[2] / "faq_data"


def test_off_topic_question_gets_no_suggestions() -> None:
    # mostly words the shipped FAQ lacks, one common word ("в", "some"): no choices worth offering
    m = FaqMatcher(load_faq(SHIPPED))
    for text in ("погода в москве", "какая погода завтра", "play some music"):
        r = m.match(text)
        assert r.band is Band.NONE, (text, [(c.entry.id, c.score) for c in r.candidates])
    assert m.match("как сбросить пароль").band is Band.ANSWER


def _near_duplicate_faq(n_entries: int, per_entry: int) -> list[FaqEntry]:
    """Pairs of entries about the same thing: each phrasing has a paraphrase in the twin entry."""
    topics = ["card", "transfer", "refund", "login", "delivery", "balance", "limit", "fee", "pin", "cash"]
    asks = ["how do i", "why can't i", "where do i", "can i", "what if i", "help me"]
    verbs = ["check", "change", "fix", "see", "get"]
    entries = []
    for e in range(n_entries):
        a, b = topics[(e // 2) % len(topics)], topics[(e // 2 + 3) % len(topics)]
        qs = tuple(
            f"{asks[q % len(asks)]} {verbs[q % len(verbs)]} my {a} {b} {'now' if q % 2 else 'today'} {q}"
            for q in range(per_entry)
        )
        entries.append(FaqEntry(f"t{e}", qs, {"*": "x"}))
    return entries


def test_unseen_intent_shift_is_never_positive_and_skips_small_faqs() -> None:
    small = FaqMatcher(load_faq(FAQ))
    assert small._shift == 0.0  # too few phrasings to estimate
    dup = FaqMatcher(_near_duplicate_faq(10, 12))
    assert dup._shift < 0.0  # every intent has a near-paraphrase in another entry
    assert FaqMatcher(_near_duplicate_faq(10, 12))._shift == dup._shift  # deterministic


def test_confidence_is_monotone_in_the_raw_log_odds() -> None:
    m = FaqMatcher(_near_duplicate_faq(10, 12))
    assert m._shift < 0.0
    xs = [x / 10 for x in range(-60, 60)]
    confs = []
    for x in xs:  # drive _logit through a stub
        m._logit = lambda i, j, cent, near, x=x: x  # type: ignore[method-assign]
        confs.append(m._confidence(0, 1, np.zeros(1), np.zeros(1), cover=0.5))
    assert all(a <= b for a, b in itertools.pairwise(confs))


def test_confidence_below_the_answer_level_is_monotone_and_capped() -> None:
    from core.faq import calibrate

    for shift in (0.0, -0.5):
        for margin, cover, words in ((0.3, 1.0, 4), (-0.5, 0.6, 1), (2.5, 0.9, 12)):
            xs = [x / 10 for x in range(-60, 60)]
            confs = [calibrate.confidence(x, shift, cover, margin, words) for x in xs]
            assert all(a <= b for a, b in itertools.pairwise(confs))
            # below the answer level the band fit never reaches the answer threshold; above it, the answer fit rules
            for x, c in zip(xs, confs, strict=True):
                z = calibrate.shifted(x, shift)
                assert (c >= DEFAULT_ANSWER_THRESHOLD) == calibrate.answer_level(z)


def test_weekend_days_are_also_read_as_weekends() -> None:
    from core.faq.normalize import expansions

    assert expansions(normalize("do you work on sundays?").split()) == ["weekends"]
    assert expansions(normalize("Вы в воскресенье работаете? А в субботу?").split()) == ["выходные"]
    assert expansions(normalize("are you open on weekends").split()) == []
    assert expansions(["monday"]) == []


def test_content_known_ignores_function_words() -> None:
    from core.faq import calibrate

    known = {"parcel", "заказ"}.__contains__
    assert calibrate.content_known(["where", "is", "my", "parcel", "though"], known) == 1.0
    assert calibrate.content_known(["how", "are", "you"], known) == 0.0  # no content words at all
    assert calibrate.content_known(["где", "мой", "заказ", "ало"], known) == 0.5
    assert calibrate.content_known(["tell", "me", "a", "joke"], known) == 0.0
