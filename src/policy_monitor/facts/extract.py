"""The extractor: page text -> facts with evidence -> summary."""

from __future__ import annotations

from . import retention, scope, training
from .model import Extraction, Fact
from .sentences import split
from .summary import summarize

# a sentence without any of these words states no retention, training or ZDR fact: skip it cheaply
_TOPIC = (
    "train", "retain", "retention", "kept", "keep", "stor", "delet", "remov", "purg", "destr", "eras", "log",
    "persist", "saved", "zero", "zdr", "model", "improv", "develop", "opt", "object", "day", "hour", "week",
    "month", "year",
)  # fmt: skip


def _facts(text: str) -> tuple[tuple[Fact, ...], dict[Fact, int]]:
    units = split(text)
    default = scope.document_scope([u.clean for u in units[:400] if "appl" in u.clean or "cover" in u.clean])
    facts: list[Fact] = []
    strengths: dict[Fact, int] = {}
    seen: set[Fact] = set()

    def add(kind: str, value: str, scopes: list[str], condition: str, evidence: str, strength: int) -> None:
        for s in scopes:
            cond = condition
            f = Fact(kind, value, s, cond, evidence)
            if f in seen:
                continue
            seen.add(f)
            facts.append(f)
            strengths[f] = strength

    previous = ""
    for u in units:
        if u.heading:
            continue
        before, previous = previous, u.clean
        low = u.raw.lower()
        if not any(w in low for w in _TOPIC):
            continue
        evidence = text[u.start : u.end]
        found_r = retention.read(u)
        found_t = training.read(u, before)
        if not found_r and not found_t:
            continue
        scopes = scope.sentence_scopes(u.clean, u.context, default)
        t = scope.tier(u.clean)
        if scopes == ["all"] and found_t and all(strength == 1 for _, _, strength in found_t):
            # a list of purposes that names no offering describes the vendor's own (consumer) services
            found_t_scopes = ["consumer"]
        else:
            found_t_scopes = scopes
        for kind, value, condition in found_r:
            add(kind, value, scopes, condition, evidence, 2)
        for value, condition, strength in found_t:
            for s in found_t_scopes:
                cond = condition
                if cond == "default" and t == "free" and s != "consumer":
                    cond = "free"
                add("training", value, [s], cond, evidence, strength)
    return tuple(facts), strengths


def extract(text: str) -> Extraction:
    """Read the retention and training statements of a page (canonical text or Markdown)."""
    facts, strengths = _facts(text)
    summary, evidence = summarize(facts, strengths, "api")
    return Extraction(summary=summary, facts=facts, evidence=evidence)


def extract_consumer(text: str) -> Extraction:
    """The same facts, summarised for the vendor's consumer apps instead of API/business use."""
    facts, strengths = _facts(text)
    summary, evidence = summarize(facts, strengths, "consumer")
    return Extraction(summary=summary, facts=facts, evidence=evidence)
