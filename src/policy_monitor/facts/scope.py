"""Which offering a sentence talks about: the API / business offerings, the consumer apps, or both.

A sentence's own words decide first, then the headings and list items it sits under, then the
document: a policy that says it "does not apply to" data processed for business customers or the
API is a consumer document, and its unqualified sentences are about consumers. In such a document
a word that may name customers but no offering ("organizations", "developers", "businesses", "Team")
does not make a sentence about business use: only the API or a named business offering does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .sentences import Gated

BUSINESS = re.compile(
    r"\b(?:APIs?|API[- ]?Platform|businesses|business (?:users?|customers?|offerings?|accounts?|plans?|data|"
    r"services?|tiers?|use|products?)|for business|enterprise (?:customers?|accounts?|plans?|offerings?|"
    r"services?|users?|tier)|Enterprise|commercial (?:customers?|services?|offerings?|terms|use|users?)|"
    r"organi[sz]ations?|workspaces?|developers?|Customer (?:Content|Data)|"
    r"paid (?:version|services?|plans?|tiers?|subscriptions?)|[Pp]lateforme|endpoints?|Team)\b"
)
API = re.compile(r"\b(?:APIs?|API[- ]?Platform|[Pp]lateforme|endpoints?)\b")
_CONSUMER_NEEDS = ("consumer", "individual", "free", "app", "personal", "chat", "mobile")
CONSUMER = Gated(
    re.compile(
        r"\b(?:consumers?|individuals?|free(?: version| plan| tier| services?| subscription)?|"
        r"apps?|applications? for individuals|personal (?:use|accounts?)|Chat|chats|mobile|"
        r"Temporary Chats?|Private Chat)\b",
        re.IGNORECASE,
    ),
    _CONSUMER_NEEDS,
)
# business cues that name who someone is rather than an offering of the vendor
_WEAK_BUSINESS = frozenset(
    {
        "businesses",
        "organization",
        "organizations",
        "organisation",
        "organisations",
        "workspace",
        "workspaces",
        "developer",
        "developers",
        "Team",
    }
)
_FREE = re.compile(r"\bfree\b|\bfor free\b", re.IGNORECASE)
_PAID = re.compile(r"\bpaid\b|\bPro\b|\bsubscri", re.IGNORECASE)
_EXCLUSION = re.compile(
    r"\b(?:this|the|our) (?:\w+ ){0,2}(?:policy|notice|statement|agreement|terms)\b[^.]{0,40}?\b(?:does not|"
    r"doesn't|do not|shall not|will not) (?:apply|cover|govern)",
    re.IGNORECASE,
)
_PASSIVE_EXCLUSION = re.compile(
    r"\b(?:is|are) not (?:covered|governed) by (?:this|the|our) (?:\w+ ){0,2}(?:policy|notice|statement)",
    re.IGNORECASE,
)
# what _EXCLUSION ("... does not apply", "doesn't cover") and _PASSIVE_EXCLUSION ("are not covered by")
# need (lower case): one of these verbs after "not" or "n't"; a sentence without any excludes nothing, and
# `document_scope` skips it
EXCLUSION_VERBS = ("apply", "cover", "govern")
EXCLUSION_NEEDS = tuple("t " + verb for verb in EXCLUSION_VERBS)
_BUSINESS_WORD = re.compile(r"\b(?:business|enterprise|commercial|employer)\b", re.IGNORECASE)
_PROCESSOR = re.compile(r"\bon (?:your |their )?behalf\b|\bprocessor\b|\bservice provider\b", re.IGNORECASE)


def cues(text: str) -> tuple[bool, bool]:
    """(business, consumer) cues in one piece of text."""
    business = bool(BUSINESS.search(text))
    consumer = CONSUMER.search(text) is not None
    return business, consumer


def tier(text: str) -> str | None:
    text = re.split(r"\b(?:unless|except)\b", text, maxsplit=1, flags=re.IGNORECASE)[0]
    if _FREE.search(text):
        return "free"
    if _PAID.search(text):
        return "paid"
    return None


def document_scope(sentences: Iterable[str]) -> str:
    """The scope of a sentence that names no offering: "consumer", "business" or "all".

    Decided by the first sentence that excludes an offering: `sentences` is read no further.
    """
    for s in sentences:
        m = _EXCLUSION.search(s)
        if m:
            excluded = s[m.end() :]
        else:
            m = _PASSIVE_EXCLUSION.search(s)
            if not m:
                continue
            excluded = s[: m.start()]
        b, c = cues(excluded)
        if b or _PROCESSOR.search(excluded) or _BUSINESS_WORD.search(excluded):
            return "consumer"
        if c:
            return "business"
    return "all"


def _offering_cue(text: str) -> bool:
    """Whether `text` names a business offering, not only a kind of customer (see `_WEAK_BUSINESS`)."""
    return any(m.group() not in _WEAK_BUSINESS for m in BUSINESS.finditer(text))


def sentence_scopes(text: str, context: tuple[str, ...], default: str) -> list[str]:
    """The scopes one sentence speaks for."""
    for piece in (text, *reversed(context)):
        b, c = cues(piece)
        if b and default == "consumer":
            b = _offering_cue(piece)
        if b and c:
            # "Le Chat Enterprise or the paid version of our APIs": the business words name the offering
            if API.search(piece) and _FREE.search(piece):
                return ["api", "consumer"]
            return ["api" if API.search(piece) else "business"] + (["consumer"] if _FREE.search(piece) else [])
        if b:
            return ["api" if API.search(piece) else "business"]
        if c:
            return ["consumer"]
    return [default]
