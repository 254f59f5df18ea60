"""Retention statements: how long prompts, inputs, outputs and conversations are kept.

A sentence counts when it names user content (in its own words, in the label of its list item, or
in the list item it hangs under) and keeps/stores/deletes it. Account, billing, contact, cookie and
security-log periods are about something else and are left out. Each period is read in its own
clause, so "deleted within 30 days, unless flagged for abuse or legally required" is a default period
with exceptions, while "flagged content is kept for two years" is the flagged-content period and
"chats read by human reviewers are kept for three years" is no default period either.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import durations
from .sentences import Gated, Unit, could_hold

_CONTENT_NEEDS = (
    "input", "output", "prompt", "completion", "conversation", "chat", "message", "content", "user data",
    "customer data", "material", "queries", "response", "api data", "request",
)  # fmt: skip
CONTENT = Gated(
    re.compile(
        r"\b(?:inputs?|outputs?|prompts?|completions?|conversations?|chats?|chat history|messages?|"
        r"(?:user|customer) (?:content|data)|content (?:you|submitted|provided|flagged|sent|uploaded|that|which)|"
        r"content (?:is|was|has been|gets) (?:flagged|reported)|"
        r"(?:flagged|violating|reported|harmful) (?:content|material)|"
        r"(?:your|API|submitted) content|queries|API data|your (?:API )?requests|"
        r"generated content|responses?)\b",
        re.IGNORECASE,
    ),
    _CONTENT_NEEDS,
)
RETAIN = re.compile(
    r"\b(?:retain\w*|retention|kept|keep\w*|stor(?:e|es|ed|ing|age)|log(?:s|ged|ging)?|delet\w+|"
    r"remov\w+|purg\w+|destroy\w*|eras\w+|hold|held|persist\w*|saved?|how long)\b",
    re.IGNORECASE,
)
_OTHER_DATA_NEEDS = (
    "account", "billing", "invoice", "payment", "contact", "cookie", "security log", "support", "marketing",
    "lead", "identity", "contract", "technical", "device", "usage data", "log data", "metadata", "legal data",
    "registration", "subscription data", "guest", "recruit", "candidate", "employ", "confidential information",
)  # fmt: skip
OTHER_DATA = Gated(
    re.compile(
        r"\b(?:account|billing|invoices?|payments?|contact|cookies?|security logs?|support|marketing|leads?|"
        r"identity|contracts?|technical|devices?|usage data|log data|metadata|legal data|registration|"
        r"subscription data|guests?|recruit\w*|candidates?|employ\w*|confidential information)\b",
        re.IGNORECASE,
    ),
    _OTHER_DATA_NEEDS,
)
_ZERO_NEEDS = ("not", "never", "n't", "zero", "retention", "deleted", "discarded", "only")
ZERO = Gated(
    re.compile(
        r"\b(?:(?:not|never|n't)\s+(?:be\s+)?(?:stored|retained|logged|kept|saved|persisted)|"
        r"(?:do|does|will|shall)\s*(?:not|n't)\s+(?:store|retain|log|keep|save|persist)|"
        r"doesn't\s+(?:store|retain|log|keep)|don't\s+(?:store|retain|log|keep)|"
        r"zero[- ]data[- ]retention\s+by\s+default|no\s+(?:data\s+)?retention|"
        r"(?:deleted|discarded)\s+(?:immediately\s+)?(?:after|once)\s+(?:the\s+)?(?:request|response|processing)|"
        r"only\s+(?:(?:in memory|temporarily|transiently)\s+)?(?:for|during)\s+(?:the\s+)?(?:duration|time|period)\s+"
        r"(?:of|needed|necessary)\s+(?:to\s+)?(?:process|generat|the request|fulfil))",
        re.IGNORECASE,
    ),
    _ZERO_NEEDS,
)
UNKNOWN = re.compile(
    r"\b(?:until (?:you|the user|customer|they) (?:delete|remove|close)|for as long as|as long as (?:is )?"
    r"(?:reasonably )?necessary|duration of (?:your|the) (?:account|registration|subscription|contract))",
    re.IGNORECASE,
)
AFTER_DELETION = re.compile(
    r"\b(?:deleted (?:or unsaved )?(?:conversations?|chats?|content|data)|"
    r"(?:after|once|when|if) (?:you|the user|a user|users|customer) (?:choose to )?delet\w*|"
    # "you can delete a conversation, which is then erased within 30 days": the period follows a deletion
    r"(?:you|users|customers) (?:also )?(?:can|may|are able to|have the (?:ability|option) to) \[?delete\b|"
    r"(?:after|upon|following|of|on) (?:the )?(?:termination|"
    r"expiration|deletion|closure|cancellation)|account (?:deletion|closure)|(?:agreement|contract) "
    r"(?:terminates|ends|expires)|request (?:for )?deletion|delete your account|deletion request)",
    re.IGNORECASE,
)
ACCOUNT_LIFETIME = re.compile(
    r"\b(?:duration of (?:your|the) (?:registration|account|subscription|contract)|until (?:you|the user) "
    r"delete)",
    re.IGNORECASE,
)
SETTING = re.compile(
    r"\b(?:temporary chats?|private chats?|incognito|turned on|turned off|depends on your settings|"
    r"(?:if|when) you (?:enable|turn|choose|select|opt))",
    re.IGNORECASE,
)
ABUSE = re.compile(
    r"\b(?:flagged|flag|violat\w+|trust (?:and|&) safety|under investigation|investigat\w+|"
    r"classified as|banned|harmful content|policy violations?)\b",
    re.IGNORECASE,
)
# content picked for human review is kept apart from the rest (often disconnected from the account)
REVIEWED = re.compile(r"\b(?:reviewed|human review\w*|(?:human )?reviewers)\b", re.IGNORECASE)
LEGAL = re.compile(
    r"\b(?:legal(?:ly)?|law|laws|regulat\w+|litigation|court|legal hold|subpoena|statute)\b", re.IGNORECASE
)
THIRD_PARTY = re.compile(r"\b(?:providers?|sub-?processors?|third[- ]part(?:y|ies)|partners?)\b", re.IGNORECASE)
_ZDR_WORDS_NEEDS = ("zero", "zdr")
ZDR_WORDS = Gated(
    re.compile(r"\bzero[- ]data[- ]retention\b|\bZDR\b", re.IGNORECASE),
    _ZDR_WORDS_NEEDS,
)
ZDR_NEGATED = re.compile(
    r"\b(?:not|no longer) (?:available|offered|supported)\b|\bunavailable\b|"
    r"\b(?:do|does|will|can)\s*(?:not|n't) (?:offer|provide|support)\b",  # also "cannot offer"
    re.IGNORECASE,
)
OPT_OUT_OF_RETENTION = re.compile(r"\bunless (?:you )?(?:validly )?opt(?:s|ed)?[- ]out\b", re.IGNORECASE)
CHOICE = re.compile(
    r"\b(?:settings?|request|approved|enable\w*|activat\w*|opt(?:s|ed)?[- ]out|turn(?:ed)? off|configur\w+|"
    r"choose|elect)\b",
    re.IGNORECASE,
)
_NO_STORAGE_NEEDS = ("not", "n't", "no longer")
NO_STORAGE = Gated(
    re.compile(
        r"\b(?:(?:do|does|will)\s*(?:not|n't)\s+(?:retain|store|log|keep)|not (?:be )?(?:retained|stored|logged|"
        r"performed)|no longer (?:retained|stored))\b",
        re.IGNORECASE,
    ),
    _NO_STORAGE_NEEDS,
)
_CLAUSE = re.compile(
    r",?\s+\bunless\b|,?\s+\bexcept\b|;\s+|,?\s+\bprovided that\b|\(\s*[a-h]\s*\)|\(\s*[ivx]+\s*\)|"
    r",\s+or\s+(?=(?:for|up to|within)\b)",  # "kept for 30 days, or up to 2 years if flagged": another period
    re.IGNORECASE,
)
_LABEL = re.compile(r"^([^:]{2,80}):\s+\S")
_IN_MODEL = re.compile(r"\bin (?:the |our )?(?:\w+ ){0,2}models?\b", re.IGNORECASE)
_LEADING_FOR = re.compile(r"^(?:For|During|In)\s+[^,]{3,60},\s")
_EXCEPTION_START = re.compile(r",?\s*(?:unless|except)", re.IGNORECASE)
_AFTER = re.compile(r"\bafter\b")
_BY_DEFAULT = re.compile(r"\bby default\b", re.IGNORECASE)
_CONDITIONAL = re.compile(r"\b(?:if|when|unless|so that|once)\b", re.IGNORECASE)
_IF_WHEN = re.compile(r"\b(?:if|when|so that|once)\b", re.IGNORECASE)
_UNTIL = re.compile(r"\buntil\b")


# words (lower case) one of which each match of a pattern holds: a text holding none of them is not
# searched (`could_hold`), as the pattern would find nothing in it
_CLAUSE_NEEDS = ("unless", "except", ";", "provided that", "(", ", or")


def _clauses(text: str) -> list[tuple[int, int]]:
    """Clause spans of a sentence: split where exceptions and enumerations begin."""
    if not could_hold(text, _CLAUSE_NEEDS):
        return [(0, len(text))] if text else []  # no cut: the one clause
    cuts = [0] + [m.start() for m in _CLAUSE.finditer(text)] + [len(text)]
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _subject(text: str, context: tuple[str, ...]) -> str:
    """What the sentence is about: its item label, else the words before its verb, else the parent item."""
    m = _LABEL.match(text)
    if m:
        return m.group(1)
    v = RETAIN.search(text)
    head = text[: v.start()] if v else text
    if CONTENT.search(head) or OTHER_DATA.search(head):
        return head
    return context[-1] if context else head


def about_content(text: str, context: tuple[str, ...]) -> bool:
    """Whether a sentence is about user content (prompts, outputs...) rather than other data."""
    subject = _subject(text, context)
    if OTHER_DATA.search(subject) and not CONTENT.search(subject):
        return False
    if CONTENT.search(text):
        return True
    return any(CONTENT.search(c) and not OTHER_DATA.search(c) for c in context[-2:])


# a word each pattern needs (lower case): without one of them in a sentence, the pattern is not tried
_RETAIN_NEEDS = (
    "retain", "retention", "kept", "keep", "stor", "log", "delet", "remov", "purg", "destroy", "eras", "hold",
    "held", "persist", "save", "how long",
)  # fmt: skip
_ZDR_NEEDS = ("zero", "zdr")
# what any fact of `read` needs: a unit of a period (durations), a word ZERO needs, one UNKNOWN needs
# ("as long as", "duration of"), one NO_STORAGE needs ("no longer", for `_storage_can_be_turned_off`) or
# one ZDR_WORDS needs; none holds whitespace, so that the extractor can look for them word by word
NEEDS = (
    "second", "minute", "hour", "day", "week", "month", "year",
    "not", "never", "n't", "zero", "retention", "deleted", "discarded", "only",
    "until", "long", "duration",
    "zdr",
)  # fmt: skip


@lru_cache(maxsize=4096)
def _retains(context: str) -> bool:
    return RETAIN.search(context) is not None


def read(unit: Unit) -> list[tuple[str, str, str]]:
    """(kind, value, condition) triples of one sentence: retention periods and zero-retention offers."""
    text = unit.clean
    out: list[tuple[str, str, str]] = []
    if not unit.could_contain(*NEEDS):
        return out  # no period, negation, "until"... and no zero data retention: nothing below can be found
    retain = RETAIN.search(text) if unit.could_contain(*_RETAIN_NEEDS) else None
    if retain is None and not unit.could_contain(*_ZDR_NEEDS) and not _retains(" ".join(unit.context[-3:])):
        return out  # neither a retention verb (in the sentence or its context) nor zero data retention
    retains = retain is not None or _retains(" ".join(unit.context[-3:]))
    if not retains or not about_content(text, unit.context):
        if retain is not None and _storage_can_be_turned_off(text):
            out.append(("zdr", "available", "zdr"))
        return _zdr(text, out)
    third_party = bool(THIRD_PARTY.search(unit.context[-1])) if unit.context else False
    spans = _clauses(text)
    periods = durations.find(text)
    for d in periods:
        if retain is None and not _LABEL.match(text) and not unit.context:
            continue
        a, b = next((s for s in spans if s[0] <= d.start < s[1]), (0, len(text)))
        clause = text[a:b]
        before = text[: d.end]
        if third_party:
            condition = "third-party"
        elif AFTER_DELETION.search(before) or AFTER_DELETION.search(clause):
            condition = "after-deletion"
        elif ACCOUNT_LIFETIME.search(text):
            condition = "account-lifetime"
        elif SETTING.search(clause) or SETTING.search(text[:a]):
            condition = "setting"
        elif REVIEWED.search(clause) or REVIEWED.search(text[:a]):
            condition = "reviewed"
        elif ABUSE.search(clause):  # also "..., unless flagged for abuse, in which case up to 2 years"
            condition = "abuse"
        elif LEGAL.search(clause) and not _AFTER.search(text[a : d.start]):
            condition = "legal"
        elif a > 0 and _EXCEPTION_START.match(text[a:b]):
            condition = "exception"
        else:
            condition = "default"
        out.append(("retention", d.iso, condition))
    zero = ZERO.search(text)
    if zero and not _IN_MODEL.search(text[zero.end() :][:40]):
        if ZDR_WORDS.search(text) and not _BY_DEFAULT.search(text):
            out.append(("retention", "zero", "zdr"))
        elif CHOICE.search(text) and _CONDITIONAL.search(text):
            out.append(("retention", "zero", "zdr"))
            out.append(("zdr", "available", "zdr"))
        elif _LEADING_FOR.match(text) or SETTING.search(text):
            out.append(("retention", "zero", "setting"))
        elif not periods:
            out.append(("retention", "zero", "default"))
    elif not periods and retain is not None:
        unknown = UNKNOWN.search(text)
        if unknown:
            out.append(("retention", "unknown", "until-deleted" if _UNTIL.search(unknown.group(0)) else "as-needed"))
    if OPT_OUT_OF_RETENTION.search(text) and any(k == "retention" for k, _, _ in out):
        out.append(("zdr", "available", "zdr"))
    elif _storage_can_be_turned_off(text) and ("zdr", "available", "zdr") not in out:
        out.append(("zdr", "available", "zdr"))
    return _zdr(text, out)


def _storage_can_be_turned_off(text: str) -> bool:
    """ "If the customer is approved for ..., the data storage ... is not performed": storage is optional."""
    return bool(NO_STORAGE.search(text) and CHOICE.search(text) and _IF_WHEN.search(text))


def _zdr(text: str, out: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    if ZDR_WORDS.search(text) and not ZDR_NEGATED.search(text) and ("zdr", "available", "zdr") not in out:
        out.append(("zdr", "available", "zdr"))
    return out
