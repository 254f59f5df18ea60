"""Policy text -> its canonical form: what two loads of a page are compared on (`Page.key` is its SHA-256).

Folds what varies between loads of an unchanged policy: Unicode compatibility forms, typographic quotes
and dashes, relative times ("Updated 3 days ago"), the same date written another way, list markers,
interface labels ("Expand all"), and the source's `ignore` patterns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from policy_monitor.characters import collapse, fold
from policy_monitor.dates import dates_to_iso, finditer_at

__all__ = ["canonical_form", "canonicalize"]

# "[Updated:] 3 days ago": tried only on the characters before each "ago" of the text.
_RELATIVE_TIME = re.compile(
    r"(?ix)"
    r"(?:\b(?:last[^\S\n]+)?(?:updated|edited|modified|posted|published|reviewed|changed|refreshed)"
    r"[^\S\n]*:?[^\S\n]*)?"
    r"\b(?:\d+|an?|one|a[^\S\n]+few|several)[^\S\n]+"
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)[^\S\n]+ago\Z"
)
_AGO = re.compile(r"\bago\b\.?")
_RELATIVE_UPDATED = re.compile(r"[Uu]pdated[^\S\n]*:?[^\S\n]*(?:just[^\S\n]+now|yesterday|today)\b\.?")
_UI_LABELS = re.compile(
    r"(?i)^(?:\s*(?:close|expand all|collapse all|expand|collapse|back to top|skip to (?:main )?content|"
    r"print(?: this page)?|copy link|show more|show less|menu|toggle navigation|open menu|close menu)"
    r"\s*[.!]?)+\s*$"
)


def canonicalize(text: str, *, ignore: Sequence[str] = ()) -> str:
    """The comparison form of a page's text (see the module docstring)."""
    return canonical_form(text, ignore, None)


def canonical_form(text: str, ignore: Sequence[str], lines: list[str] | None) -> str:
    """`canonicalize`; `lines`, when known: the lines of `text`, every one collapsed already (`collapse`).

    Collapsing every line again is a fifth of the time of normalising an HTML page, and it is needed
    only where a step below may have changed the whitespace. The ignore patterns leave the lines
    collapsed (the text is unchanged, or each line is collapsed again); a date becomes its ISO form
    (no space in it, the characters around it unchanged, no line break in a date). NFKC (a
    compatibility space), folding (an invisible character dropped) and relative times (replaced by a
    space) can break it: if they change the text, the lines are collapsed as before.

    When, besides, no line is a list item or an interface label, the lines are kept as they are and the
    text is not split into lines and joined again.
    """
    patterns = [re.compile(p, re.MULTILINE) for p in ignore]
    text = before = _apply_ignore(text, patterns)
    text = unicodedata.normalize("NFKC", text)
    text = fold(text)
    if "ago" in text:
        text = _drop_relative_times(text)
    if "pdated" in text:
        text = _drop_relative_updated(text)
    collapsed = lines is not None and text == before
    text = dates_to_iso(text)
    if collapsed and not patterns and _kept_as_they_are(lines or []):
        return text
    lines = []
    for line in text.split("\n"):
        if not collapsed:
            line = collapse(line)
        if line.startswith("- "):
            line = line[2:]
        if line and not (_may_be_ui_label(line) and _UI_LABELS.match(line)):
            lines.append(line)
    return _apply_ignore("\n".join(lines), patterns)


def _kept_as_they_are(lines: list[str]) -> bool:
    """Whether the canonical form keeps every one of these collapsed lines as it is (no line empty, a
    list item or an interface label). Rewriting dates keeps that so: a date becomes digits, which no
    label has, and a line starting with a date starts with a digit, not with "- "."""
    for line in lines:
        if not line or line.startswith("- ") or (_may_be_ui_label(line) and _UI_LABELS.match(line)):
            return False
    return True


# The first letters of the labels of _UI_LABELS, either case; "s" also matches the long s under IGNORECASE.
_UI_LABEL_FIRST = frozenset("cebspmtoCEBSPMTO\u017f")


def _may_be_ui_label(line: str) -> bool:
    """False for a line _UI_LABELS cannot match: a collapsed line starts with the first letter of a label.

    Trying the regex costs 0.2 us a line even where its first letter already rules it out.
    """
    return line[0] in _UI_LABEL_FIRST or not line[0].isascii()


def _drop_relative_times(text: str) -> str:
    """Relative times replaced by a space; `text` itself when there is none."""
    spans: list[tuple[int, int]] = []
    done = 0
    for ago in finditer_at(_AGO, text, ("ago",)):
        start = max(done, ago.start() - 60)
        m = _RELATIVE_TIME.search(text, start, ago.start() + 3)
        if m is not None:
            spans.append((m.start(), ago.end()))
            done = ago.end()
    return _spaced_out(text, spans)


def _drop_relative_updated(text: str) -> str:
    """`_RELATIVE_UPDATED.sub(" ", text)`, the matches found from their "pdated"."""
    return _spaced_out(text, [m.span() for m in finditer_at(_RELATIVE_UPDATED, text, ("pdated",), 1)])


def _spaced_out(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each of `spans` (in order, not overlapping) replaced by a space."""
    if not spans:
        return text
    out: list[str] = []
    done = 0
    for start, end in spans:
        out.append(text[done:start])
        out.append(" ")
        done = end
    out.append(text[done:])
    return "".join(out)


def _apply_ignore(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    changed = False
    for pattern in patterns:
        text, n = pattern.subn("", text)
        changed = changed or n > 0
    if not changed:
        return text
    return "\n".join(c for c in (collapse(line) for line in text.split("\n")) if c)
