"""FAQ entries and reading them: ``FaqEntry``, ``FaqError`` and ``load_faq`` with its validation.

File format (``faq_data/*.yaml``)::

    - id: working_hours            # unique, stable; statistics refer to it
      questions:                   # customer phrasings, any language; the first is the title
        - Какие часы работы поддержки?
        - When is support available?
      answer:                      # a string, or a mapping language -> string
        ru: Поддержка работает круглосуточно, 24/7.
        en: Support is available 24/7.
      ask: [order number]          # optional: what the bot asks for before a handoff (a list, or a mapping
                                   # language -> list), e.g. ask: {ru: [номер заказа], en: [order number]}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

__all__ = ["FaqEntry", "FaqError", "load_faq"]


class FaqError(ValueError):
    """A FAQ file is broken; the message names the file, the entry and the reason."""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    questions: tuple[str, ...]
    answers: Mapping[str, str]  # language -> text; a plain-string answer is stored under "*"
    source: str = ""  # file it came from
    ask: tuple[str, ...] = ()  # details the bot asks for before a handoff (``ask:``), for every language
    ask_by_language: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # ``ask: {ru: [...], en: [...]}``

    def asks(self, lang: str | None) -> tuple[str, ...]:
        """The details to ask for in ``lang``: that language's list, else the language-neutral one, else en, ru."""
        by_lang = self.ask_by_language
        if lang and lang in by_lang:
            return by_lang[lang]
        return self.ask or by_lang.get("en") or by_lang.get("ru") or ()

    @property
    def title(self) -> str:
        return self.questions[0]

    def answer(self, lang: str | None) -> str:
        """The answer in ``lang``; else the language-neutral one, else en, else ru, else any."""
        answers = self.answers
        if lang:
            lang = lang.lower()
            if lang in answers:
                return answers[lang]
            base = lang.split("-", 1)[0].split("_", 1)[0]
            if base in answers:
                return answers[base]
        for key in ("*", "en", "ru"):
            if key in answers:
                return answers[key]
        return next(iter(answers.values()))


_ENTRY_KEYS = {"id", "questions", "answer", "ask"}
ASK_MAX = 5  # details asked for at most, per language


def _faq_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))
        if not files:
            raise FaqError(f"{path}: no *.yaml / *.yml files in this folder")
        return files
    if not path.exists():
        raise FaqError(f"{path}: no such file or folder")
    return [path]


def _parse_entry(raw: object, where: str, source: str = "") -> FaqEntry:
    """Validate one raw YAML item; ``where`` is the message prefix ``file: entry N``."""
    if not isinstance(raw, dict):
        raise FaqError(f"{where}: an entry must be a mapping with id, questions and answer")
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not entry_id.strip():
        raise FaqError(f"{where}: id must be a non-empty string, got {entry_id!r}")
    entry_id = entry_id.strip()
    where = f"{where} ({entry_id})"
    unknown = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
    if unknown:
        raise FaqError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: answer, ask, id, questions")

    questions = raw.get("questions")
    if questions is None or questions == [] or questions == "":
        raise FaqError(f"{where}: questions are missing or empty")
    if not isinstance(questions, list):
        raise FaqError(f"{where}: questions must be a list of strings")
    clean_questions = []
    for n, q in enumerate(questions, 1):
        if not isinstance(q, str):
            raise FaqError(f"{where}: question {n} is not a string ({q!r})")
        if not q.strip():
            raise FaqError(f"{where}: question {n} is empty")
        clean_questions.append(q.strip())

    answer = raw.get("answer")
    if answer is None:
        raise FaqError(f"{where}: answer is empty")
    if isinstance(answer, str):
        if not answer.strip():
            raise FaqError(f"{where}: answer is empty")
        answers = {"*": answer.strip()}
    elif isinstance(answer, dict):
        if not answer:
            raise FaqError(f"{where}: answer is empty")
        answers = {}
        for lang, text in answer.items():
            if not isinstance(lang, str) or not lang.strip():
                raise FaqError(f"{where}: answer language {lang!r} is not a non-empty string")
            if not isinstance(text, str):
                raise FaqError(f"{where}: answer in {lang!r} is not a string ({text!r})")
            if not text.strip():
                raise FaqError(f"{where}: answer in {lang!r} is empty")
            answers[lang.strip().lower()] = text.strip()
    else:
        raise FaqError(f"{where}: answer must be a string or a mapping language -> string")
    ask, ask_by_language = _parse_ask(raw.get("ask"), where)
    return FaqEntry(
        entry_id, tuple(clean_questions), MappingProxyType(answers), source, ask, MappingProxyType(ask_by_language)
    )


def _ask_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise FaqError(f"{where}: ask must be a non-empty list of strings (or a mapping language -> list)")
    if len(value) > ASK_MAX:
        raise FaqError(f"{where}: ask has {len(value)} items; at most {ASK_MAX}")
    items = []
    for n, item in enumerate(value, 1):
        if not isinstance(item, str) or not item.strip():
            raise FaqError(f"{where}: ask item {n} is not a non-empty string ({item!r})")
        items.append(" ".join(item.split()))
    return tuple(items)


def _parse_ask(raw: object, where: str) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """``ask:`` (optional): a list of details, or a mapping language -> list."""
    if raw is None:
        return (), {}
    if isinstance(raw, dict):
        if not raw:
            raise FaqError(f"{where}: ask is empty")
        by_language = {}
        for lang, items in raw.items():
            if not isinstance(lang, str) or not lang.strip():
                raise FaqError(f"{where}: ask language {lang!r} is not a non-empty string")
            by_language[lang.strip().lower()] = _ask_list(items, f"{where}: ask ({lang})")
        return (), by_language
    return _ask_list(raw, where), {}


def collect_faq(path: str | os.PathLike) -> tuple[list[FaqEntry], list[str]]:
    """Every valid entry, and every error found (file, entry and reason), in one pass over all files."""
    entries: list[FaqEntry] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    try:
        files = _faq_files(Path(path))
    except FaqError as exc:
        return [], [str(exc)]
    for file in files:
        name = str(file)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"line {mark.line + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            errors.append(f"{name}: {line}YAML syntax error: {problem}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{name}: cannot read: {exc}")
            continue
        if data is None:
            data = []
        if not isinstance(data, list):
            errors.append(f"{name}: the file must be a YAML list of entries, got {type(data).__name__}")
            continue
        for n, raw in enumerate(data, 1):
            try:
                entry = _parse_entry(raw, f"{name}: entry {n}", name)
            except FaqError as exc:
                errors.append(str(exc))
                continue
            if entry.id in seen:
                errors.append(f"{name}: entry {n} ({entry.id}): duplicate id, already defined in {seen[entry.id]}")
                continue
            seen[entry.id] = f"{name} entry {n}"
            entries.append(entry)
    if not entries and not errors:
        errors.append(f"{path}: the FAQ has no entries")
    return entries, errors


def load_faq(path: str | os.PathLike) -> list[FaqEntry]:
    """Load and validate a FAQ file, or every ``*.yaml`` / ``*.yml`` file of a folder (sorted).

    Raises ``FaqError`` naming the file, the entry and the reason of every error found.
    """
    entries, errors = collect_faq(path)
    if errors:
        raise FaqError("\n".join(errors))
    return entries


def missing_answers(entries: list[FaqEntry], language: str) -> list[str]:
    """Ids of the entries with no answer in ``language`` (and none for every language)."""
    return [e.id for e in entries if language not in e.answers and "*" not in e.answers]
