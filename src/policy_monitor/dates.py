"""Dates written in prose, rewritten to ISO 8601 so that one date in two formats compares equal.

    >>> dates_to_iso("Effective 8 July 2026; updated July 8th, 2026 and 2026/7/8.")
    'Effective 2026-07-08; updated 2026-07-08 and 2026-07-08.'

Numeric day/month dates are rewritten only when they cannot be misread: with a format note
("08/07/2026 (DD/MM/YYYY)", the note is dropped) or a part above 12 ("31/12/2026"). "08/07/2026" alone
stays as written. English month names and their abbreviations are recognised; a weekday before a date
("Tuesday, 8 July 2026") is dropped with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

__all__ = ["dates_to_iso", "finditer_at"]

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?[^\S\n]+)?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"

# Every pattern is anchored at a year of the text: found by a cheap scan, then the few characters
# before it (day and month names, numeric day/month) or after it (ISO month and day) are examined.
_DMY = re.compile(rf"(?i)\b{_WEEKDAY}{_DAY}(?:[^\S\n]+of)?[^\S\n]+{_MONTH},?[^\S\n]+\Z")
_MDY = re.compile(rf"(?i)\b{_WEEKDAY}{_MONTH}[^\S\n]+{_DAY},?[^\S\n]+\Z")
_DM_NUMERIC = re.compile(r"\b(?P<a>[0-3]?\d)(?P<sep>[-/.])(?P<b>[0-3]?\d)[-/.]\Z")
_HINT = re.compile(r"(?i)[^\S\n]*\(?[^\S\n]*(?P<hint>dd[-/.]mm|mm[-/.]dd)[-/.]yyyy\b[^\S\n]*\)?")
_MD_ISO = re.compile(r"(?P<sep>[-/.])(?P<month>[01]?\d)(?P=sep)(?P<day>[0-3]?\d)(?!\d)")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_YEAR_ANCHORS = ("19", "20")
_WINDOW = 40


def _iso(year: str, month: int | str, day: int | str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _numeric(a: int, b: int, year: str, hint: str) -> str | None:
    if hint.startswith("dd") or (not hint and a > 12 >= b):
        return _iso(year, b, a)
    if hint.startswith("mm") or (not hint and b > 12 >= a):
        return _iso(year, a, b)
    return None


_MISSES = 4


def _find(s: str, anchor: str, start: int) -> int:
    """`s.find(anchor, start)`, fast when the anchor's first character is rare in `s` (a year's digit).

    str.find of two or more characters steps through the text a few characters at a time (30 us on a
    40 KB page); of one character it is a memchr (0.3 us). So the first character is looked for alone,
    as long as it was found followed by something else fewer than _MISSES times, then the whole anchor.
    The first occurrence of the anchor starts at an occurrence of its first character, so none is missed.
    """
    first = anchor[0]
    for _ in range(_MISSES):
        i = s.find(first, start)
        if i < 0 or s.startswith(anchor, i):
            return i
        start = i + 1
    return s.find(anchor, start)


def finditer_at(pattern: re.Pattern[str], s: str, anchors: tuple[str, ...], offset: int = 0) -> Iterator[re.Match[str]]:
    """`pattern.finditer(s)`, for a pattern every match of which has one of `anchors` `offset`
    characters after its start.

    The regex engine looking for where a match can start tests every character of the text in turn;
    str.find jumps to the next anchor several times faster, and in prose anchors are rare. The
    matches are the same: each is tried at the leftmost anchor not before the end of the last one.
    """
    nexts = [_find(s, anchor, offset) for anchor in anchors]
    while True:
        found = [i for i in nexts if i >= 0]
        if not found:
            return
        start = min(found) - offset
        m = pattern.match(s, start)
        if m is not None:
            yield m
            resume = m.end()
        else:
            resume = start + 1
        nexts = [
            i if i < 0 or i >= resume + offset else _find(s, anchor, resume + offset)
            for anchor, i in zip(anchors, nexts, strict=True)
        ]


def dates_to_iso(s: str) -> str:
    """Rewrite every unambiguous date of `s` as YYYY-MM-DD."""
    out: list[str] = []
    done = 0
    for y in finditer_at(_YEAR_RE, s, _YEAR_ANCHORS):
        start, end = y.span()
        if start < done or (start and s[start - 1].isdigit()) or (end < len(s) and s[end].isdigit()):
            continue
        year = y.group(0)
        # year first: 2026-07-08, 2026/7/8
        m = _MD_ISO.match(s, end)
        if m is not None and (start == 0 or not s[start - 1].isalnum()):
            iso = _iso(year, m["month"], m["day"])
            if iso:
                out.append(s[done:start])
                out.append(iso)
                done = m.end()
                continue
        window_start = max(done, start - _WINDOW)
        window = s[window_start:start]
        new_end, iso = end, None
        m = _DMY.search(window) or _MDY.search(window)
        if m is not None:
            iso = _iso(year, _MONTHS[m["month"].lower()], m["day"])
        else:
            m = _DM_NUMERIC.search(window)
            if m is not None:
                hint = _HINT.match(s, end)
                iso = _numeric(int(m["a"]), int(m["b"]), year, (hint["hint"] if hint else "").lower())
                if hint is not None and iso:
                    new_end = hint.end()
        if m is None or iso is None:
            continue
        out.append(s[done : window_start + m.start()])
        out.append(iso)
        done = new_end
    if not out:
        return s
    out.append(s[done:])
    return "".join(out)
