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
    m = _DURATION.match(value)
    if not m:
        return None
    g = {k: int(v) for k, v in m.groupdict().items() if v}
    return (
        g.get("y", 0) * 365
        + g.get("mo", 0) * 30
        + g.get("w", 0) * 7
        + g.get("d", 0)
        + g.get("h", 0) / 24
        + g.get("mi", 0) / 1440
        + g.get("s", 0) / 86400
    )


def yaml_bool_word(value: object, true_word: str, false_word: str) -> object:
    """YAML reads bare `yes`/`no` as booleans: turn them back into the vocabulary's words."""
    if value is True:
        return true_word
    if value is False:
        return false_word
    return value
