"""FAQ gaps (``core.stats.gaps``): grouping, nearest entries, determinism and the YAML to paste."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.faq import DEFAULT_SUGGEST_THRESHOLD, FaqEntry, FaqMatcher, load_faq, normalize
from core.stats import gaps
from core.stats.gaps import GapGroup, GapQuestion, group_gaps, paste_yaml

ROOT = Path(__file__).resolve().parents[2]

GIFT = [
    "Можно ли оплатить заказ подарочным сертификатом?",
    "как использовать подарочный сертификат",
    "подарочный сертификат не принимается при оплате",
    "где ввести номер подарочного сертификата",
]
CRASH = [
    "the mobile app crashes on startup",
    "mobile app crashes when I open it",
    "your mobile app keeps crashing after the update",
]
PICKUP = "есть ли у вас самовывоз из магазина?"
LONE = "do you ship to Kazakhstan"


def _scripted() -> list[GapQuestion]:
    return [
        *(GapQuestion(t, "no_match") for t in GIFT),
        *(GapQuestion(t, "not_helped", "site_app_error") for t in CRASH),
        GapQuestion(PICKUP, "no_match"),
        GapQuestion(PICKUP, "no_match"),
        GapQuestion(LONE, "no_match"),
    ]


@pytest.fixture(scope="module")
def shipped() -> FaqMatcher:
    return FaqMatcher(load_faq(ROOT / "faq_data"))


@pytest.fixture(scope="module")
def tiny() -> FaqMatcher:
    return FaqMatcher(
        [
            FaqEntry(
                "delivery",
                ("Где мой заказ?", "Сколько идет доставка?", "Where is my order?", "How long does delivery take?"),
                {"*": "Three days."},
            ),
            FaqEntry(
                "refund", ("Как вернуть деньги?", "Хочу вернуть деньги за заказ", "How do I get a refund?"), {"*": "-"}
            ),
            FaqEntry("password", ("Как сменить пароль?", "Забыл пароль", "How do I change my password?"), {"*": "-"}),
        ]
    )


def _by_count(groups: list[GapGroup]) -> list[tuple[int, set[str]]]:
    return [(g.count, set(g.examples)) for g in groups]


def test_scripted_groups_on_the_shipped_faq(shipped: FaqMatcher) -> None:
    groups = group_gaps(shipped, _scripted())
    assert _by_count(groups) == [(4, set(GIFT)), (3, set(CRASH)), (2, {PICKUP}), (1, {LONE})]
    gift, crash, pickup, lone = groups
    assert lone.examples == (LONE,) and lone.kinds == {"no_match": 1, "not_helped": 0}
    assert gift.kinds == {"no_match": 4, "not_helped": 0}
    assert crash.kinds == {"no_match": 0, "not_helped": 3}
    assert pickup.kinds == {"no_match": 2, "not_helped": 0} and pickup.examples == (PICKUP,)
    # the app crashes are what site_app_error is about: the matcher offers it for them
    assert crash.nearest == "site_app_error" and crash.score >= shipped.suggest_threshold
    for g in groups:
        assert re.fullmatch(r"[0-9a-f]{8}", g.key)
        assert 0.0 <= g.score <= 1.0
        assert (g.nearest is None) == (g.score == 0.0) or g.kinds["not_helped"]
    assert len({g.key for g in groups}) == 4


def test_threshold_decides_what_joins(shipped: FaqMatcher) -> None:
    qs = _scripted()
    assert [g.count for g in group_gaps(shipped, qs, threshold=1.01)] == [2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert [g.count for g in group_gaps(shipped, qs, threshold=-1.0)] == [10]
    # a stricter threshold than the default only splits groups
    strict = group_gaps(shipped, qs, threshold=0.6, limit=100)
    default = [set(g.examples) for g in group_gaps(shipped, qs)]
    assert all(any(set(g.examples) <= d for d in default) for g in strict)


def test_examples_most_frequent_first_with_the_most_frequent_spelling(tiny: FaqMatcher) -> None:
    texts = ["подарочный сертификат на 5000 рублей"] * 1 + ["есть ли подарочный сертификат на 5000 рублей"] * 3
    texts += ["Подарочный сертификат на 5000 рублей?"] * 3  # normalises like the first: 4 questions in all
    texts += ["можно ли подарочный сертификат на 5000 рублей"] * 2
    texts += ["а подарочный сертификат на 5000 рублей"] * 2
    qs = [GapQuestion(t, "no_match") for t in texts]
    (group,) = group_gaps(tiny, qs)
    assert group.count == 11
    assert group.examples == (
        "Подарочный сертификат на 5000 рублей?",  # 4, shown as its most frequent spelling
        "есть ли подарочный сертификат на 5000 рублей",  # 3
        "а подарочный сертификат на 5000 рублей",  # 2; ties by normalised text
        "можно ли подарочный сертификат на 5000 рублей",  # 2
    )
    assert group_gaps(tiny, qs, examples=2)[0].examples == group.examples[:2]
    assert group_gaps(tiny, qs, examples=0)[0].examples == ()


def test_deterministic_and_order_free(shipped: FaqMatcher) -> None:
    qs = _scripted()
    first = group_gaps(shipped, qs)
    assert group_gaps(shipped, qs) == first
    rnd = random.Random(7)
    for _ in range(3):
        shuffled = list(qs)
        rnd.shuffle(shuffled)
        assert group_gaps(shipped, shuffled) == first


def test_ties_by_key(tiny: FaqMatcher) -> None:
    qs = [GapQuestion(t, "no_match") for t in ("погода в Москве", "курс доллара", "как приготовить борщ")]
    groups = group_gaps(tiny, qs)
    assert [g.count for g in groups] == [1, 1, 1]
    assert [g.key for g in groups] == sorted(g.key for g in groups)


def test_kinds_are_counted_with_duplicates(tiny: FaqMatcher) -> None:
    qs = [
        GapQuestion("подарочный сертификат на 5000 рублей", "no_match"),
        GapQuestion("подарочный сертификат на 5000 рублей", "not_helped", "refund"),
        GapQuestion("есть ли подарочный сертификат на 5000 рублей", "not_helped", "refund"),
        GapQuestion("есть ли подарочный сертификат на 5000 рублей", "not_helped", None),
    ]
    (group,) = group_gaps(tiny, qs)
    assert group.count == 4
    assert group.kinds == {"no_match": 1, "not_helped": 3}


def test_nearest_entry(tiny: FaqMatcher) -> None:
    delivery = [GapQuestion(t, "no_match") for t in ("сколько идет доставка в Казань", "сколько идет доставка в Омск")]
    gift = [GapQuestion("подарочный сертификат на 5000 рублей", "no_match")]
    groups = {g.examples[0]: g for g in group_gaps(tiny, delivery + gift)}
    near = groups["сколько идет доставка в Казань"]
    assert near.count == 2 and near.nearest == "delivery" and near.score >= tiny.suggest_threshold
    far = groups["подарочный сертификат на 5000 рублей"]
    assert (far.nearest, far.score) == (None, 0.0)
    # an entry whose answer did not help is the fallback when the matcher sees nothing near
    hinted = [*gift, GapQuestion("подарочный сертификат на 5000 рублей", "not_helped", "refund")]
    (g,) = group_gaps(tiny, hinted)
    assert g.nearest == "refund" and g.score < tiny.suggest_threshold
    # ... but not over an entry the matcher does find, and only while it still exists
    (g,) = group_gaps(tiny, [*delivery, GapQuestion("сколько идет доставка в Казань", "not_helped", "refund")])
    assert g.nearest == "delivery"
    (g,) = group_gaps(tiny, [*gift, GapQuestion("подарочный сертификат на 5000 рублей", "not_helped", "gone")])
    assert g.nearest is None


def test_small_talk_is_near_nothing_whatever_the_raw_confidence(shipped: FaqMatcher) -> None:
    talk = ["how are you", "hi how are you", "how are you doing"]
    # the matcher ranks working_hours first with a high confidence, but its off-topic gate offers nothing
    assert all(shipped.match(t).band.value == "none" for t in talk)
    assert shipped.match(talk[0]).candidates[0].score > shipped.suggest_threshold
    (group,) = group_gaps(shipped, [GapQuestion(t, "no_match") for t in talk])
    assert group.count == 3 and (group.nearest, group.score) == (None, 0.0)


def test_empty_input_and_limits(tiny: FaqMatcher, shipped: FaqMatcher) -> None:
    assert group_gaps(tiny, []) == []
    assert group_gaps(tiny, [GapQuestion("?!", "no_match"), GapQuestion("   ", "not_helped", "refund")]) == []
    qs = _scripted()
    full = group_gaps(shipped, qs)
    assert group_gaps(shipped, qs, limit=2) == full[:2]
    assert group_gaps(shipped, qs, limit=0) == []
    # only the most frequent distinct text is kept
    (only,) = group_gaps(shipped, qs, max_distinct=1)
    assert (only.count, only.examples) == (2, (PICKUP,))


def test_unknown_kind_is_refused(tiny: FaqMatcher) -> None:
    with pytest.raises(ValueError, match="no-match"):
        group_gaps(tiny, [GapQuestion("где мой заказ", "no-match")])


def test_leaders_across_blocks_match_a_plain_greedy_clustering() -> None:
    rnd = np.random.default_rng(3)
    n = 2 * gaps._BLOCK + 77  # three blocks of the similarity matrix
    centres = rnd.normal(size=(40, 64))
    x = centres[rnd.integers(0, 40, n)] + rnd.normal(scale=0.8, size=(n, 64))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    sims = x @ x.T
    free = np.ones(n, dtype=bool)
    expected = []
    for i in range(n):
        if free[i]:
            members = [i] + [j for j in range(i + 1, n) if free[j] and sims[i, j] >= np.float32(0.5)]
            free[members] = False
            expected.append(members)
    got = [m.tolist() for m in gaps._leaders(x, 0.5)]
    assert got == expected
    assert 40 <= len(got) < n // 4  # real groups formed, neither one per centre-mix nor all singletons


def test_many_distinct_texts(tiny: FaqMatcher) -> None:
    rnd = random.Random(5)
    topics = ["подарочный сертификат", "самовывоз из магазина", "gift card balance", "app crashes on start"]
    qs = [
        GapQuestion(
            f"{rnd.choice(topics)} {rnd.randrange(10_000)} {rnd.choice(['срочно', 'please', 'вопрос'])}", "no_match"
        )
        for _ in range(1500)
    ]
    groups = group_gaps(tiny, qs, limit=1000, max_distinct=1200)
    per_text = Counter(normalize(q.text) for q in qs)
    kept = sorted(per_text.items(), key=lambda kv: (-kv[1], kv[0]))[:1200]  # the most frequent distinct texts
    assert len(per_text) > 1200 and sum(g.count for g in groups) == sum(n for _, n in kept)
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)
    for topic in topics:  # every big group stays within its topic
        assert any(all(e.startswith(topic) for e in g.examples) and g.count > 50 for g in groups)
    assert all(len({e.split()[0] for e in g.examples}) == 1 for g in groups if g.count > 50)


def test_paste_yaml_parses_and_quotes(tiny: FaqMatcher) -> None:
    tricky = [
        "yes",
        "null",
        "123",
        "a: b",
        "# not a comment",
        "- dash",
        'quote "x" \\ back',
        "эмодзи 😀",
        "zero\u200bwidth",
        "del\x7fchar",
        " ".join(["long words"] * 40),
    ]
    qs = [GapQuestion(f"сколько идет доставка в Казань {t}", "no_match") for t in tricky[:2]]
    qs += [GapQuestion(t, "no_match") for t in tricky[2:]]
    qs += [GapQuestion("подарочный сертификат на 5000 рублей", "not_helped", "refund")] * 2
    groups = group_gaps(tiny, qs, limit=100, threshold=0.99)
    text = paste_yaml(groups)
    data = yaml.safe_load(text)
    assert isinstance(data, list) and len(data) == len(groups)
    for g, item in zip(groups, data, strict=True):
        assert item["questions"] == list(g.examples)
        if g.nearest is not None and g.score >= DEFAULT_SUGGEST_THRESHOLD:
            assert item == {"id": g.nearest, "questions": list(g.examples)}
        else:
            assert item == {"id": f"gap_{g.key}", "questions": list(g.examples), "answer": {"ru": "TODO", "en": "TODO"}}
    pasted = {q for item in data for q in item["questions"]}
    assert set(tricky[2:]) <= pasted
    ids = [item["id"] for item in data]
    assert "delivery" in ids  # the delivery questions are added to the delivery entry
    hinted = next(g for g in groups if g.nearest == "refund")
    assert f"gap_{hinted.key}" in ids  # "did not help" alone does not add phrasings to that entry
    assert f"nearest entry: refund ({hinted.score:.2f})" in text
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert len(comments) >= 2 * len(groups)
    assert yaml.safe_load(paste_yaml([])) is None


def test_paste_yaml_comment_and_skeleton() -> None:
    groups = [
        GapGroup("0a1b2c3d", 5, ("подарочный сертификат",), None, 0.0, {"no_match": 5, "not_helped": 0}),
        GapGroup("deadbeef", 1, ("app crashes",), "site_app_error", 0.6, {"no_match": 0, "not_helped": 1}),
        GapGroup("00000001", 2, ("x",), "bad\nid", 0.9, {"no_match": 2, "not_helped": 0}),
    ]
    text = paste_yaml(groups)
    assert text.startswith("# 5 questions (5 no_match), no entry is near\n")
    assert "# 1 question (1 not_helped), nearest entry: site_app_error (0.60)\n" in text
    assert "# add these phrasings to entry site_app_error:" in text
    assert "did not help" in text
    assert yaml.safe_load(text) == [
        {"id": "gap_0a1b2c3d", "questions": ["подарочный сертификат"], "answer": {"ru": "TODO", "en": "TODO"}},
        {"id": "site_app_error", "questions": ["app crashes"]},
        {"id": "bad\nid", "questions": ["x"]},
    ]
