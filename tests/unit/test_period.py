"""Periods managers type, the hashes that cover them, and the latency sketch's accuracy."""

from __future__ import annotations

import random
from datetime import date

import pytest

from core.stats import sketch
from core.stats.figures import spans
from core.stats.period import Period, PeriodError, parse_period, parse_since

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        (None, date(2026, 11, 26), TODAY),  # the default: 7d
        ("today", TODAY, TODAY),
        ("вчера", date(2026, 12, 1), date(2026, 12, 1)),
        ("30d", date(2026, 11, 3), TODAY),
        ("2026-11-05", date(2026, 11, 5), date(2026, 11, 5)),
        ("2026-11-01..2026-11-30", date(2026, 11, 1), date(2026, 11, 30)),
    ],
)
def test_periods(spec, start, end):
    assert parse_period(spec, TODAY) == Period(start, end)


@pytest.mark.parametrize("spec", ["last week", "0d", "2026-11-30..2026-11-01", "2026-13-01", "99999d"])
def test_what_is_not_a_period_says_so(spec):
    with pytest.raises(PeriodError):
        parse_period(spec, TODAY)


def test_since_runs_to_today_and_never_starts_in_the_future():
    assert parse_since("2026-11-01", TODAY) == Period(date(2026, 11, 1), TODAY)
    assert parse_since("yesterday", TODAY) == Period(date(2026, 12, 1), TODAY)
    assert parse_since("2026-10-01..2026-10-31", TODAY) == Period(date(2026, 10, 1), date(2026, 10, 31))
    with pytest.raises(PeriodError, match="after today"):
        parse_since("2026-12-05", TODAY)


def test_whole_months_are_read_as_months_and_the_rest_as_days():
    got = spans(Period(date(2026, 1, 30), date(2026, 3, 2)))
    assert got == ["d:2026-01-30", "d:2026-01-31", "m:2026-02", "d:2026-03-01", "d:2026-03-02"]
    assert spans(Period(date(2024, 2, 1), date(2024, 2, 29))) == ["m:2024-02"]  # a leap February
    assert spans(Period(date(2026, 2, 1), date(2026, 2, 27))) == [f"d:2026-02-{d:02d}" for d in range(1, 28)]


def test_quantiles_from_the_sketch_stay_within_its_accuracy():
    rng = random.Random(3)
    values = [rng.lognormvariate(5, 1.5) for _ in range(5000)]
    counts: dict[int, int] = {}
    for v in values:
        counts[sketch.bucket(v)] = counts.get(sketch.bucket(v), 0) + 1
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]
        assert abs(sketch.quantile(counts, q) - exact) <= exact * sketch.ACCURACY
    assert sketch.quantile({}, 0.5) is None
