"""A latency sketch that sums: durations counted in logarithmic buckets (the idea of DDSketch).

A duration of ``v`` seconds falls in bucket ``ceil(log(v) / log(GAMMA))`` (0 for anything under a second). A
bucket is one hash field of a day's figures (``metric~bucket``), so a day, a month or a year is the sum of its
buckets, and a median or p90 read back from them is within ``ACCURACY`` of the true value, whatever the period.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

GAMMA = 1.08
ACCURACY = (GAMMA - 1) / (GAMMA + 1)  # the largest relative error of a quantile read back (about 3.8%)
_LOG = math.log(GAMMA)


def bucket(seconds: float) -> int:
    """The bucket a duration is counted in."""
    if seconds < 1:
        return 0
    return max(1, math.ceil(math.log(seconds) / _LOG - 1e-9))


def value(b: int) -> float:
    """The value a bucket stands for: the point of least relative error between its bounds."""
    if b <= 0:
        return 0.0
    return 2 * GAMMA**b / (GAMMA + 1)


def quantile(counts: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of what the buckets counted; None when they counted nothing."""
    total = sum(n for n in counts.values() if n > 0)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for b in sorted(counts):
        if counts[b] <= 0:
            continue
        seen += counts[b]
        if seen >= rank:
            return value(b)
    return value(max(counts))
