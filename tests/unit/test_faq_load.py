"""Loading and validating FAQ files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.faq import FaqEntry, FaqError, load_faq

GOOD = """\
- id: working_hours
  questions:
    - Какие часы работы поддержки?
    - When is support available?
  answer:
    ru: Поддержка работает круглосуточно.
    en: Support is available 24/7.
- id: refund
  questions: ["How do I get a refund?"]
  answer: Write to us and we will refund.
"""


def write(tmp_path: Path, text: str, name: str = "faq.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_good_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    entries = load_faq(path)
    assert [e.id for e in entries] == ["working_hours", "refund"]
    wh, refund = entries
    assert wh.title == "Какие часы работы поддержки?"
    assert wh.questions == ("Какие часы работы поддержки?", "When is support available?")
    assert wh.answer("ru") == "Поддержка работает круглосуточно."
    assert wh.answer("en") == "Support is available 24/7."
    assert wh.answer("de") == "Support is available 24/7."  # no "*": falls back to en
    assert wh.answer(None) == "Support is available 24/7."
    assert refund.answers == {"*": "Write to us and we will refund."}
    assert refund.answer("ru") == "Write to us and we will refund."
    assert wh.source == str(path)


def test_answer_fallback_order() -> None:
    e = FaqEntry("x", ("q",), {"ru": "ру", "de": "de"})
    assert e.answer("fr") == "ру"
    assert FaqEntry("x", ("q",), {"de": "de", "fr": "fr"}).answer("it") == "de"
    assert FaqEntry("x", ("q",), {"*": "any", "en": "en"}).answer("ru") == "any"
    assert FaqEntry("x", ("q",), {"*": "any", "en": "en"}).answer("en") == "en"


def test_folder_with_two_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, "- id: delivery\n  questions: [Where is my order]\n  answer: On its way.\n", "b.yml")
    write(tmp_path, "not: loaded\n", "notes.txt")
    entries = load_faq(tmp_path)
    assert [e.id for e in entries] == ["working_hours", "refund", "delivery"]
    assert entries[2].source.endswith("b.yml")


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, "- id: refund\n  questions: [Money back]\n  answer: Yes.\n", "b.yaml")
    with pytest.raises(FaqError, match=r"b\.yaml: entry 1 \(refund\): duplicate id, already defined in .*a\.yaml"):
        load_faq(tmp_path)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("- id: x\n  questions: [Q1]\n  answer: ''\n", r"faq\.yaml: entry 1 \(x\): answer is empty"),
        ("- id: x\n  questions: [Q1]\n", r"faq\.yaml: entry 1 \(x\): answer is empty"),
        ("- id: x\n  questions: [Q1]\n  answer: {ru: ''}\n", r"entry 1 \(x\): answer in 'ru' is empty"),
        ("- id: x\n  questions: [Q1]\n  answer: [a]\n", r"entry 1 \(x\): answer must be a string or a mapping"),
        ("- id: x\n  questions: [Q1]\n  answer: {ru: 5}\n", r"entry 1 \(x\): answer in 'ru' is not a string"),
        ("- id: x\n  answer: A\n", r"faq\.yaml: entry 1 \(x\): questions are missing or empty"),
        ("- id: x\n  questions: []\n  answer: A\n", r"entry 1 \(x\): questions are missing or empty"),
        ("- id: x\n  questions: Q1\n  answer: A\n", r"entry 1 \(x\): questions must be a list"),
        ("- id: x\n  questions: [Q1, 5]\n  answer: A\n", r"entry 1 \(x\): question 2 is not a string"),
        ("- id: x\n  questions: [Q1, '  ']\n  answer: A\n", r"entry 1 \(x\): question 2 is empty"),
        ("- id: x\n  questions: [Q1]\n  answer: A\n  tags: [t]\n", r"entry 1 \(x\): unknown key\(s\) tags"),
        ("- id: ''\n  questions: [Q1]\n  answer: A\n", r"faq\.yaml: entry 1: id must be a non-empty string"),
        ("- id: 7\n  questions: [Q1]\n  answer: A\n", r"faq\.yaml: entry 1: id must be a non-empty string"),
        ("- questions: [Q1]\n  answer: A\n", r"faq\.yaml: entry 1: id must be a non-empty string"),
        ("- just a string\n", r"faq\.yaml: entry 1: an entry must be a mapping"),
        ("id: x\nquestions: [Q1]\nanswer: A\n", r"faq\.yaml: the file must be a YAML list of entries"),
        ("- id: x\n  questions: [Q1\n  answer: A\n", r"faq\.yaml: line \d+: YAML syntax error"),
        (
            "- id: a\n  questions: [A1]\n  answer: A\n- id: a\n  questions: [B1]\n  answer: B\n",
            r"faq\.yaml: entry 2 \(a\): duplicate id",
        ),
    ],
)
def test_broken_faq_names_file_entry_and_reason(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(FaqError, match=pattern):
        load_faq(write(tmp_path, text))


def test_error_names_the_right_entry(tmp_path: Path) -> None:
    text = GOOD + "- id: third\n  questions: [Q1]\n  answer: '   '\n"
    path = write(tmp_path, text)
    with pytest.raises(FaqError) as exc:
        load_faq(path)
    assert str(exc.value) == f"{path}: entry 3 (third): answer is empty"


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "- id: x\n  questions: [Q1]\n  answer: A\n- id: y\n  questions: : :\n")
    with pytest.raises(FaqError, match=r"line 5: YAML syntax error"):
        load_faq(path)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FaqError, match="no such file"):
        load_faq(tmp_path / "nope.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaqError, match=r"no .*yaml"):
        load_faq(tmp_path / "empty")


def test_faq_error_is_value_error() -> None:
    assert issubclass(FaqError, ValueError)
