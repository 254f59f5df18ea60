"""The extractor's results: facts with evidence, and the summary they add up to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Fact:
    """One statement of the page.

    kind: "retention", "training" or "zdr".
    value: retention: ISO-8601 duration, "zero" or "unknown" (kept, no fixed period); training: "no",
      "yes", "opt-out", "opt-in"; zdr: "available".
    scope: "api", "business", "consumer" or "all" (the page does not say which offering).
    condition: "default", "abuse", "legal", "zdr", "opt-in", "after-deletion", "setting", "free",
      "paid", "feedback", ... (what the statement depends on).
    evidence: the sentence, verbatim: an exact substring of the text given to `extract()`.
    """

    kind: str
    value: str
    scope: str
    condition: str
    evidence: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """What the page says about API/business use; None where the page does not say."""

    retention: str | None = None
    flagged_retention: str | None = None
    training: str | None = None
    zdr_available: bool | None = None

    def to_dict(self) -> dict[str, str | bool | None]:
        return asdict(self)


@dataclass(frozen=True)
class Extraction:
    """The summary, every fact found, and for each summary field the sentence that decided it."""

    summary: Summary
    facts: tuple[Fact, ...]
    evidence: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "summary": self.summary.to_dict(),
            "facts": [f.to_dict() for f in self.facts],
            "evidence": dict(self.evidence),
        }
