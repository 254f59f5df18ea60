"""The words facts are written in (SPEC §1): retention durations, training answers, storage answers.

Shared by the registry (what tables claim and what we expect) and the extractor (what pages say), so
the two can be compared value for value.
"""

from __future__ import annotations

import re
from typing import Literal

Training = Literal["no", "yes", "opt-out", "opt-in"]
Stores = Literal["yes", "zdr", "no"]
ScopeItem = Literal["prompt", "completion", "image"]

TRAINING_VALUES: tuple[str, ...] = ("no", "yes", "opt-out", "opt-in")
STORES_VALUES: tuple[str, ...] = ("yes", "zdr", "no")

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)

SUMMARY_FIELDS: tuple[str, ...] = ("retention", "flagged_retention", "training", "zdr_available")


def is_duration(value: str) -> bool:
    """True for an ISO-8601 duration such as P30D, PT24H, P2Y."""
    return bool(_DURATION.match(value))


def is_retention(value: str) -> bool:
    """True for a retention value: an ISO-8601 duration, 'zero' or 'unknown'."""
    return value in ("zero", "unknown") or is_duration(value)


def duration_days(value: str) -> float | None:
    """Approximate length in days of an ISO-8601 duration (for ordering and display), else None."""
    g = _duration_parts(value)
    if g is None:
        return None
    return (
        g.get("y", 0) * 365
        + g.get("mo", 0) * 30
        + g.get("w", 0) * 7
        + g.get("d", 0)
        + g.get("h", 0) / 24
        + g.get("mi", 0) / 1440
        + g.get("s", 0) / 86400
    )


def _duration_parts(value: str) -> dict[str, int] | None:
    """The numbers of an ISO-8601 duration by unit (y, mo, w, d, h, mi, s; those given), else None."""
    m = _DURATION.match(value)
    return {k: int(v) for k, v in m.groupdict().items() if v} if m else None


def same_value(a: str | None, b: str | None) -> bool:
    """Whether two fact values say the same thing: equal, or durations of the same length. A week is 7 days,
    a day 24 hours and a year 12 months, so "two weeks" (P2W) is "14 days" (P14D) and P1D is PT24H; a
    month is not a fixed number of days, so P1M is not P30D."""
    if a == b:
        return True
    if a is None or b is None:
        return False
    key = _duration_key(a)
    return key is not None and key == _duration_key(b)


def _duration_key(value: str) -> tuple[int, int] | None:
    """An ISO-8601 duration as (months, seconds), the two lengths that convert exactly within themselves."""
    g = _duration_parts(value)
    if g is None:
        return None
    months = g.get("y", 0) * 12 + g.get("mo", 0)
    hours = (g.get("w", 0) * 7 + g.get("d", 0)) * 24 + g.get("h", 0)
    return months, (hours * 60 + g.get("mi", 0)) * 60 + g.get("s", 0)


def yaml_bool_word(value: object, true_word: str, false_word: str) -> object:
    """YAML reads bare `yes`/`no` as booleans: turn them back into the vocabulary's words."""
    if value is True:
        return true_word
    if value is False:
        return false_word
    return value
