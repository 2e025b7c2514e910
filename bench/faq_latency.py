"""FAQ match latency: the shipped FAQ (faq_data/) and a generated FAQ of 10,000 phrasings.

Usage: ``.venv/bin/python bench/faq_latency.py [FAQ_PATH]``.  Prints load time, median and p99
of ``FaqMatcher.match`` per query, and the machine's core count.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.faq import FaqEntry, FaqMatcher, load_faq

ROOT = Path(__file__).resolve().parents[1]
EN = (  # noqa: SIM905
    "card account transfer payment refund order delivery password login balance limit fee cash "
    "withdraw deposit exchange rate currency statement app phone verify identity blocked lost "
    "stolen pending declined top up virtual physical pin change reset support hours"
).split()
RU = (  # noqa: SIM905
    "карта счет перевод платеж возврат заказ доставка пароль вход баланс лимит комиссия "
    "наличные снять пополнить обмен курс валюта выписка приложение телефон подтвердить личность "
    "заблокирован потерял украли ожидает отклонен виртуальная пин сменить сбросить поддержка"
).split()
GLUE_EN = ["how", "do", "i", "can", "you", "my", "the", "why", "is", "not", "where", "what", "when", "to", "a"]
GLUE_RU = ["как", "мне", "почему", "не", "где", "что", "когда", "можно", "у", "меня", "мой", "вы"]


def sentence(rng: random.Random, ru: bool) -> str:
    words = RU if ru else EN
    glue = GLUE_RU if ru else GLUE_EN
    parts = rng.sample(glue, 2) + rng.sample(words, rng.randint(3, 6))
    rng.shuffle(parts)
    return " ".join(parts).capitalize() + "?"


def generated_faq(n_entries: int = 1000, per_entry: int = 10, seed: int = 0) -> list[FaqEntry]:
    rng = random.Random(seed)
    return [
        FaqEntry(f"e{i}", tuple(sentence(rng, i % 2 == 1) for _ in range(per_entry)), {"*": f"answer {i}"})
        for i in range(n_entries)
    ]


def queries(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        q = sentence(rng, i % 2 == 1)
        if i % 7 == 0:  # a typo
            pos = rng.randrange(len(q))
            q = q[:pos] + q[pos + 1 :]
        out.append(q)
    return out


def measure(name: str, entries: list[FaqEntry], qs: list[str]) -> None:
    t0 = time.perf_counter()
    m = FaqMatcher(entries)
    load_s = time.perf_counter() - t0
    for q in qs[:50]:  # warm-up
        m.match(q)
    times = []
    for q in qs:
        t = time.perf_counter()
        m.match(q)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    phrasings = sum(len(e.questions) for e in entries)
    print(
        f"| {name} | {len(entries)} | {phrasings} | {load_s:.2f} | {statistics.median(times):.2f} | {p99:.2f} |",
        flush=True,
    )


def main(argv: list[str]) -> int:
    rng = random.Random(1)
    print(f"FAQ match latency; machine: {os.cpu_count()} cores")
    print("| FAQ | entries | phrasings | load s | match p50 ms | match p99 ms |")
    print("|---|---|---|---|---|---|")
    shipped = Path(argv[0]) if argv else ROOT / "faq_data"
    try:
        entries = load_faq(shipped)
    except ValueError as exc:
        print(f"| shipped FAQ: not measured ({exc}) |")
    else:
        qs = [q for e in entries for q in e.questions] + queries(rng, 1000)
        measure(f"shipped ({shipped.name})", entries, qs)
    measure("generated 1,000 x 10", generated_faq(), queries(rng, 3000))
    measure("generated 200 x 50", generated_faq(200, 50, seed=2), queries(rng, 3000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
