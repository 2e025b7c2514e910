"""core.faq_eval.evaluate on a hand-made FAQ and case file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bots.cli import main as cli_main
from core.faq import Band
from core.faq_eval import RESULT_KEYS, evaluate, evaluate_cases, format_misses, format_report, misses

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
    # no case lands in ANSWER_ALTERNATIVES here: what is shown is what is answered
    assert r["shown"] == r["answered_alone"] == 3 / 4
    assert r["shown_precision"] == r["answer_precision_alone"] == 2 / 3
    assert r["alternatives"] == 0.0 and r["alternatives_precision"] is None and r["alternatives_hit"] is None
    assert r["oos_shown"] == 1 / 2 and r["oos_suggested"] == 0.0


def test_none_when_nothing_to_divide(tmp_path: Path) -> None:
    cases = tmp_path / "c.csv"
    cases.write_text("text,expected\nzzz,working_hours\n", encoding="utf-8")
    r = evaluate(FAQ, cases)
    assert r["in_scope"] == 1 and r["top1"] == 0.0 and r["answered"] == 0.0
    assert r["answer_precision"] is None
    assert r["suggest_hit"] is None
    assert r["oos"] == 0 and r["oos_answered"] is None
    assert r["shown"] == 0.0 and r["shown_precision"] is None
    assert r["oos_shown"] is None and r["oos_suggested"] is None


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


OLD_KEYS = [
    "cases",
    "in_scope",
    "top1",
    "top3",
    "answered",
    "answer_precision",
    "suggested",
    "suggest_hit",
    "oos",
    "oos_answered",
    "p50_ms",
    "p99_ms",
]

# "хочу новую карту" lands in ANSWER_ALTERNATIVES (card_new, then card_lost as the first alternative);
# "как заказать карту" too, though here it is labelled out of scope.
BANDS_CSV = """text,expected
хочу новую карту,card_new
хочу новую карту,card_lost
Где мой заказ?,delivery
карту,card_new
zzz,
как заказать карту,
"""


@pytest.fixture
def bands_csv(tmp_path: Path) -> Path:
    path = tmp_path / "bands.csv"
    path.write_text(BANDS_CSV, encoding="utf-8")
    return path


def test_old_keys_come_first_and_unchanged() -> None:
    assert list(RESULT_KEYS[: len(OLD_KEYS)]) == OLD_KEYS
    assert {"shown", "shown_precision", "answer_precision_alone", "oos_shown", "oos_suggested"} <= set(RESULT_KEYS)


def test_answer_with_alternatives_counts(bands_csv: Path) -> None:
    r, outcomes = evaluate_cases(FAQ, bands_csv)
    assert [o.band for o in outcomes] == [
        Band.ANSWER_ALTERNATIVES,
        Band.ANSWER_ALTERNATIVES,
        Band.ANSWER,
        Band.SUGGEST,
        Band.NONE,
        Band.ANSWER_ALTERNATIVES,
    ]
    assert r["in_scope"] == 4 and r["oos"] == 2
    # the old keys count band ANSWER (the answer alone) and band SUGGEST only
    assert r["answered"] == r["answered_alone"] == 1 / 4
    assert r["answer_precision"] == r["answer_precision_alone"] == 1.0
    assert r["suggested"] == 1 / 4 and r["oos_answered"] == 0.0
    # the new keys count what the customer sees
    assert r["shown"] == 3 / 4  # two answers with alternatives, one alone
    assert r["shown_precision"] == 2 / 3
    assert r["alternatives"] == 2 / 4
    assert r["alternatives_precision"] == 1 / 2
    assert r["alternatives_hit"] == 1.0  # card_lost is the first alternative
    assert r["oos_shown"] == 1 / 2 and r["oos_suggested"] == 0.0


def test_misses_list_what_went_wrong(bands_csv: Path) -> None:
    _, outcomes = evaluate_cases(FAQ, bands_csv)
    wrong = misses(outcomes)
    assert [(o.text, o.expected, o.got, o.band) for o in wrong] == [
        ("хочу новую карту", "card_lost", "card_new", Band.ANSWER_ALTERNATIVES),  # a wrong answer text
        ("карту", "card_new", "card_lost", Band.SUGGEST),  # no answer text
        ("как заказать карту", "", "card_new", Band.ANSWER_ALTERNATIVES),  # out of scope, shown an answer
    ]
    assert all(0.0 <= o.score <= 1.0 for o in wrong)
    lines = format_misses(outcomes).splitlines()
    assert lines[0].split("\t") == ["kind", "band", "score", "expected", "got", "text"]
    assert [line.split("\t")[0] for line in lines[1:]] == ["wrong_answer", "not_shown", "oos_shown"]
    assert lines[3].split("\t")[1:] == [
        "answer_alternatives",
        f"{wrong[2].score:.3f}",
        "-",
        "card_new",
        "как заказать карту",
    ]


def test_cli_eval_misses(bands_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["faq", "eval", str(FAQ), str(bands_csv), "--misses"]) == 0
    out = capsys.readouterr().out
    assert "answer text shown, either band" in out
    assert "wrong_answer\tanswer_alternatives" in out and "как заказать карту" in out
    assert cli_main(["faq", "eval", str(FAQ), str(bands_csv), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert list(plain) == list(RESULT_KEYS) and list(plain)[: len(OLD_KEYS)] == OLD_KEYS
    assert cli_main(["faq", "eval", str(FAQ), str(bands_csv), "--json", "--misses"]) == 0
    with_misses = json.loads(capsys.readouterr().out)
    assert list(with_misses) == [*RESULT_KEYS, "misses"]
    assert with_misses["misses"][0] == {
        "text": "хочу новую карту",
        "expected": "card_lost",
        "got": "card_new",
        "band": "answer_alternatives",
        "score": with_misses["misses"][0]["score"],
    }
    assert [m["band"] for m in with_misses["misses"]] == ["answer_alternatives", "suggest", "answer_alternatives"]
