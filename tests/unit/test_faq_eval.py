"""core.faq_eval.evaluate on a hand-made FAQ and case file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.faq_eval import RESULT_KEYS, evaluate, format_report

DATA = Path(__file__).parent / "data"
FAQ = DATA / "faq_small.yaml"
CASES = DATA / "cases_small.csv"


def test_evaluate_hand_computed() -> None:
    # Cases (see data/cases_small.csv):
    # 1 exact phrasing of working_hours       -> answered, right
    # 2 exact phrasing of delivery            -> answered, right
    # 3 exact phrasing of password, labelled working_hours (shares no word or n-gram with it)
    #                                         -> answered, wrong; expected not in the top 3
    # 4 "карту": both card entries contain it -> suggested, card_lost first, card_new second
    # 5 "zzz", out of scope                   -> nothing
    # 6 exact phrasing of password, labelled out of scope -> answered (an out-of-scope answer)
    r = evaluate(FAQ, CASES)
    assert tuple(r) == RESULT_KEYS
    assert r["cases"] == 6
    assert r["in_scope"] == 4
    assert r["top1"] == 2 / 4
    assert r["top3"] == 3 / 4
    assert r["answered"] == 3 / 4
    assert r["answer_precision"] == 2 / 3
    assert r["suggested"] == 1 / 4
    assert r["suggest_hit"] == 1.0
    assert r["oos"] == 2
    assert r["oos_answered"] == 1 / 2
    assert r["p50_ms"] >= 0 and r["p99_ms"] >= r["p50_ms"]


def test_none_when_nothing_to_divide(tmp_path: Path) -> None:
    cases = tmp_path / "c.csv"
    cases.write_text("text,expected\nzzz,working_hours\n", encoding="utf-8")
    r = evaluate(FAQ, cases)
    assert r["in_scope"] == 1 and r["top1"] == 0.0 and r["answered"] == 0.0
    assert r["answer_precision"] is None
    assert r["suggest_hit"] is None
    assert r["oos"] == 0 and r["oos_answered"] is None


def test_unknown_expected_id_is_an_error(tmp_path: Path) -> None:
    cases = tmp_path / "c.csv"
    cases.write_text("text,expected\nhello,no_such_entry\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_entry"):
        evaluate(FAQ, cases)


def test_bad_header_is_an_error(tmp_path: Path) -> None:
    cases = tmp_path / "c.csv"
    cases.write_text("question,answer\nhello,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text,expected"):
        evaluate(FAQ, cases)


def test_format_report_lists_every_figure() -> None:
    text = format_report(evaluate(FAQ, CASES))
    assert "top-1 accuracy" in text and "0.500" in text and "0.667" in text
    assert len(text.splitlines()) == 2 + len(RESULT_KEYS)
