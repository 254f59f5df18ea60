"""Is a fetched page the policy, or something served in its place?

`judge()` tells a real policy page from what a server answers instead of it, often with status 200: an
empty or near-empty body, an error or placeholder page ("Page not found", "This page isn't available"),
a bot check ("Just a moment...", "Checking your browser", a captcha, "enable JavaScript"), an access or
login wall, or a page whose text shrank to a small part of the last good snapshot. Such a load is a
fetch failure recorded with the reason `judge()` returns; it never becomes a policy change.

The phrases are judged on what dominates the page, not on mere mentions: a long policy that says
"if you disable JavaScript" or "cookies" or "404" is still a policy. A phrase counts when it is the
page title, when the page is short, or when it stands as a block of its own (an error widget in place
of a section).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policy_monitor.normalize import Page

__all__ = ["judge", "is_shrink", "MIN_CHARS", "MIN_SHARE", "SHORT_PAGE"]

MIN_CHARS = 80  # a page with less text than this is no policy
SHORT_PAGE = 1500  # characters: below this, a bot/error phrase anywhere on the page decides
MIN_SHARE = 0.30  # a page whose text is below this share of the last good snapshot is truncated
_SHRINK_FLOOR = 500  # the last good snapshot must have had this many characters for the share to count

_BOT = re.compile(
    r"(?i)\b(?:just a moment\b|checking (?:if the site connection is secure|your browser)"
    r"|verify(?:ing)? (?:that )?you are (?:a )?human|are you a robot|i'?m not a robot"
    r"|(?:re)?captcha|hcaptcha|cf-chl|attention required!?\s*\|?\s*cloudflare|ddos protection by"
    r"|(?:please )?(?:enable|turn on) (?:javascript|js|cookies)|javascript is (?:disabled|required)"
    r"|(?:you need to|must) enable javascript|requires javascript|unusual traffic from your"
    r"|pardon our interruption|press (?:&|and) hold|request unsuccessful\. incapsula"
    r"|access (?:to this page has been )?denied|you don'?t have permission to access"
    r"|403 forbidden|too many requests)"
)
_ERROR = re.compile(
    r"(?i)\b(?:page not found|404\b|not found\b|this page (?:isn'?t|is not|is no longer) available"
    r"|(?:an )?unexpected error (?:has )?occurred|something went wrong|(?:internal )?server error"
    r"|service (?:temporarily )?unavailable|bad gateway|gateway time-?out|50[0234]\b"
    r"|page (?:you requested |you are looking for )?(?:could not be found|does not exist|doesn'?t exist)"
    r"|(?:we )?(?:can'?t|cannot|couldn'?t) find (?:that|this|the) page|(?:content|page) unavailable"
    r"|under maintenance|temporarily down for maintenance|oops\b|error occurred"
    r"|(?:error|http)\s*(?:40[034]|410|50[0234])\b)"
)
_LOGIN = re.compile(
    r"(?i)\b(?:(?:sign|log) ?in to (?:continue|view|access)|you must be (?:signed|logged) in"
    r"|please (?:sign|log) ?in\b|(?:sign|log) ?in required|session (?:has )?expired)"
)
_KINDS = (("bot check page", _BOT), ("error page", _ERROR), ("login page", _LOGIN))
_STANDALONE = 90  # characters: a block opening with a phrase decides on any page up to this length
_SHORT_BLOCK = 240  # ... and on a short page up to this length


def judge(page: Page, *, status: int, previous_chars: int | None) -> str | None:
    """None when `page` is a real policy page; else a one-line reason it is not.

    `status` is the HTTP status it was served with; `previous_chars` the length of the text of the last
    good snapshot of the same source (None when there is none).
    """
    if not (200 <= status < 300):
        return f"status {status}"
    text = page.text.strip()
    suffix = f" served with status {status}"
    title = (page.title or "").strip()
    # The title decides on a short page, or when it opens with the phrase ("Page not found | Acme"); a
    # long policy whose title merely contains a number like 404 ("Privacy | Vendor 404") is not an error.
    short = len(text) < SHORT_PAGE
    for name, pattern in _KINDS:
        m = pattern.search(title) if short else pattern.match(title.lstrip(" -|:"))
        if m and len(title) <= 120:
            return f'{name}{suffix} ("{_quote(title)}")'
    if not text:
        return "empty page"
    if len(text) < MIN_CHARS:
        for name, pattern in _KINDS:
            m = pattern.search(text)
            if m:
                return f'{name}{suffix} ("{_quote(_line_of(text, m.start()))}")'
        return f"near-empty page ({len(text)} characters)"

    # A phrase counts where it opens a block of its own: a heading or a short notice. On a short page
    # the block may be longer (the notice is the page), on a long one it must be short (a placeholder
    # in place of a section); a sentence that merely mentions the words does not count.
    longest = _SHORT_BLOCK if len(text) < SHORT_PAGE else _STANDALONE
    for line in text.split("\n"):
        if len(line) > longest:
            continue
        block = line.lstrip(" -#*>\"'(").rstrip()
        for name, pattern in _KINDS:
            m = pattern.match(block)
            if m is not None:
                return f'{name}{suffix} ("{_quote(line)}")'
    if previous_chars and previous_chars >= _SHRINK_FLOOR and len(text) < MIN_SHARE * previous_chars:
        share = len(text) / previous_chars
        return f"text shrank to {share:.0%} of the last good snapshot ({len(text):,} of {previous_chars:,} characters)"
    return None


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)]


def _quote(s: str) -> str:
    s = " ".join(s.split())
    return s if len(s) <= 80 else s[:77] + "..."


def is_shrink(reason: str) -> bool:
    """True for the reason `judge` gives a page whose text shrank (the only refusal a stable page can lift)."""
    return reason.startswith("text shrank to ")
