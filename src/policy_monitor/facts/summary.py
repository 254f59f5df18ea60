"""Facts -> the summary for one audience (API/business, or consumer).

Which fact decides a field, for the API/business summary:
- scope: a sentence naming the API beats one naming business offerings, which beats one that names
  no offering ("all"); consumer facts never count;
- retention: the default period (not flagged, reviewed, legal, after-deletion, setting-dependent,
  third-party); `unknown` ("until you delete", "as long as necessary") is not a period and leaves the
  field null;
- flagged_retention: a period that applies to flagged / policy-violating content;
- training: a statement with a subject beats a line of a purpose list; a paid or untiered statement
  beats one about a free tier; a statement about training beats one that the content is used only
  for the service (service-only); then the first in the page. A "yes" next to an opt-out stated
  elsewhere for the same audience is an opt-out;
- zdr_available: true when any fact of the audience says zero data retention can be had.
"""

from __future__ import annotations

from .model import Fact, Summary

_API_SCOPES = {"api": 0, "business": 1, "all": 2}
_CONSUMER_SCOPES = {"consumer": 0, "all": 1}
_TRAINING_CONDITIONS = {"default", "opt-in", "paid", "free", "service-only"}


def summarize(
    facts: tuple[Fact, ...], strengths: dict[Fact, int], audience: str = "api"
) -> tuple[Summary, dict[str, str]]:
    scopes = _API_SCOPES if audience == "api" else _CONSUMER_SCOPES
    mine = [(i, f) for i, f in enumerate(facts) if f.scope in scopes]
    evidence: dict[str, str] = {}

    def best(cands: list[tuple[int, Fact]], extra: object = None) -> Fact | None:
        if not cands:
            return None
        return min(
            cands,
            key=lambda c: (
                scopes[c[1].scope],
                -strengths.get(c[1], 2),
                1 if c[1].condition == "free" else 0,
                1 if c[1].condition == "service-only" else 0,
                c[0],
            ),
        )[1]

    retention = best(
        [
            (i, f)
            for i, f in mine
            if f.kind == "retention" and f.condition in ("default", "paid") and f.value != "unknown"
        ]
    )
    flagged = best([(i, f) for i, f in mine if f.kind == "retention" and f.condition == "abuse"])
    training_cands = [(i, f) for i, f in mine if f.kind == "training" and f.condition in _TRAINING_CONDITIONS]
    training = best(training_cands)
    training_value = training.value if training else None
    if training and training.value == "yes":
        top = (scopes[training.scope], training.condition == "free")
        for _, f in training_cands:
            if f.value == "opt-out" and (scopes[f.scope], f.condition == "free") <= top:
                training, training_value = f, "opt-out"
                break
    zdr = next((f for _, f in mine if f.kind == "zdr"), None)
    if retention:
        evidence["retention"] = retention.evidence
    if flagged:
        evidence["flagged_retention"] = flagged.evidence
    if training:
        evidence["training"] = training.evidence
    if zdr:
        evidence["zdr_available"] = zdr.evidence
    summary = Summary(
        retention=retention.value if retention else None,
        flagged_retention=flagged.value if flagged else None,
        training=training_value,
        zdr_available=True if zdr else None,
    )
    return summary, evidence
