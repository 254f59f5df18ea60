"""Periods written in words or digits -> ISO-8601 durations.

"30 days", "thirty (30) days", "a 30-day period", "24 hours", "two years", "1 rolling year" ...
A range ("between 30 and 90 days", "30 to 90 days", "30-90 days") gives its upper bound: the
longest the data may be kept is what a retention figure promises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    "second": "S",
    "minute": "M",
    "hour": "H",
    "day": "D",
    "week": "W",
    "month": "M",
    "year": "Y",
}
_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "single": 1,
}  # fmt: skip
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_WORD = (
    rf"(?:(?:{_TENS})[- ](?:one|two|three|four|five|six|seven|eight|nine)|"
    + "|".join(sorted((w for w in _WORDS if w not in ("a", "an")), key=len, reverse=True))
    + ")"
)
_NUM = rf"(?:\d{{1,4}}|{_WORD}(?:\s*\(\d{{1,4}}\))?)"
_UNIT = r"(?P<unit>second|minute|hour|day|week|month|year)s?"
_QUAL = r"(?:\s+(?:rolling|calendar|consecutive|business|additional|full))?"
DURATION = re.compile(
    rf"\b(?:(?:between\s+)?(?P<low>{_NUM})(?:\s*[-–]\s*(?=\d)|\s+(?:to|and|or)\s+))?(?P<num>{_NUM}|an?){_QUAL}"
    rf"(?:\s+|-){_UNIT}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Duration:
    iso: str
    start: int
    end: int


def _number(text: str) -> int | None:
    text = text.lower().strip()
    m = re.search(r"\((\d+)\)", text)
    if m:
        return int(m.group(1))
    if text.isdigit():
        return int(text)
    parts = re.split(r"[- ]", text)
    total = 0
    for p in parts:
        if p not in _WORDS:
            return None
        total += _WORDS[p]
    return total


def to_iso(number: int, unit: str) -> str:
    code = _UNITS[unit.lower()]
    if unit.lower() in ("second", "minute", "hour"):
        return f"PT{number}{code}"
    return f"P{number}{code}"


_UNIT_WORD = re.compile(r"(?:second|minute|hour|day|week|month|year)s?\b", re.IGNORECASE)
_ENDING = re.compile(DURATION.pattern + "$", re.IGNORECASE)


def find(text: str) -> list[Duration]:
    """Every period in `text` (cleaned sentence), left to right."""
    out = []
    for u in _UNIT_WORD.finditer(text):
        lo = max(0, u.start() - 60)
        m = _ENDING.search(text, lo, u.end())
        if not m:
            continue
        n = _number(m.group("num"))
        if n is None or n == 0:
            continue
        out.append(Duration(to_iso(n, m.group("unit")), m.start(), m.end()))
    return out
