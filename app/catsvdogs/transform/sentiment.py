"""Sentiment of a tweet's text with VADER (vaderSentiment 3.3.2).

VADER is a lexicon and rule-based model tuned for social media text. Its
analyzer reads two lexicon files (about 11,000 lines) from its own package
folder, so it works offline. Each process builds it once, on first use, and
reuses it for every record and invocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SentimentLabel = Literal["positive", "negative", "neutral"]

# The "typical threshold values" on the compound score in the vaderSentiment README.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05


@dataclass(frozen=True, slots=True)
class Sentiment:
    """VADER compound score in [-1, 1], rounded to 4 places, and its label."""

    score: float
    label: SentimentLabel


@cache
def analyzer() -> SentimentIntensityAnalyzer:
    """Return the process-wide analyzer, building it on the first call."""
    return SentimentIntensityAnalyzer()


def label_score(score: float) -> SentimentLabel:
    """Label a compound score: positive at >= 0.05, negative at <= -0.05, else neutral."""
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def score_text(text: str) -> Sentiment:
    """Score ``text`` with VADER and label the compound score.

    VADER already rounds the compound score to 4 places. The label is taken from
    the rounded score, so the stored score and label always agree.
    """
    score = round(analyzer().polarity_scores(text)["compound"], 4)
    return Sentiment(score=score, label=label_score(score))
