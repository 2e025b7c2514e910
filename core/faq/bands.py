"""The result of ``FaqMatcher.match``: the ``Band`` (what the bot does) and the ranked ``Candidate`` entries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.faq.load import FaqEntry

__all__ = ["ANSWER_BANDS", "Band", "Candidate", "Match"]


class Band(StrEnum):
    """What the bot does with a match, from most to least sure.

    - ``ANSWER``: send the best entry's answer;
    - ``ANSWER_ALTERNATIVES``: send the best entry's answer, then "Not it?" with ``Match.alternatives``
      (up to two) and "Talk to a person";
    - ``SUGGEST``: a "did you mean" menu of the candidates (up to three);
    - ``NONE``: nothing worth offering; offer an operator.
    """

    ANSWER = "answer"
    ANSWER_ALTERNATIVES = "answer_alternatives"
    SUGGEST = "suggest"
    NONE = "none"


# Bands in which the customer gets the best entry's answer text.
ANSWER_BANDS = frozenset({Band.ANSWER, Band.ANSWER_ALTERNATIVES})


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: FaqEntry
    score: float  # calibrated confidence in [0, 1]


@dataclass(frozen=True, slots=True)
class Match:
    band: Band
    candidates: tuple[Candidate, ...]  # best first, at most 3

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def alternatives(self) -> tuple[Candidate, ...]:
        """The runner-ups offered after the best entry's answer (band ``ANSWER_ALTERNATIVES``, up to two); else ()."""
        return self.candidates[1:3] if self.band is Band.ANSWER_ALTERNATIVES else ()

    @property
    def answered(self) -> bool:
        """Whether the customer gets the best entry's answer text (``ANSWER`` or ``ANSWER_ALTERNATIVES``)."""
        return self.band in ANSWER_BANDS and bool(self.candidates)
