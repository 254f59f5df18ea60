"""Comparing: text diffs between snapshots, summary changes between extractions, and a vendor's observed
facts (merged over its sources) against what the registry expects."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .vocabulary import SUMMARY_FIELDS, same_value


def unified_diff(old: str, new: str, old_label: str = "before", new_label: str = "after", context: int = 2) -> str:
    """A unified diff of two texts, line by line (one line per block of the page)."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, lineterm="", n=context
    )
    return "\n".join(lines)


def show(value: Any) -> str | None:
    """A summary value as alerts and tables show it."""
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str | None
    new: str | None
    old_evidence: str | None
    new_evidence: str | None


def summary_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], old_evidence: Mapping[str, str], new_evidence: Mapping[str, str]
) -> list[FieldChange]:
    """The summary fields whose value differs between two extractions (a statement added or removed counts;
    a period said in other units, "14 days" for "two weeks", does not)."""
    out = []
    for f in SUMMARY_FIELDS:
        a, b = show(old.get(f)), show(new.get(f))
        if not same_value(a, b):
            out.append(FieldChange(f, a, b, old_evidence.get(f), new_evidence.get(f)))
    return out


@dataclass(frozen=True)
class SourceSummary:
    """The summary of one source's current snapshot."""

    url: str
    summary: Mapping[str, Any]
    evidence: Mapping[str, str]


@dataclass(frozen=True)
class ObservedField:
    field: str
    values: dict[str, list[str]]  # value -> urls stating it
    evidence: dict[str, str] = field(default_factory=dict)  # value -> one sentence stating it

    @property
    def value(self) -> str | None:
        """The observed value, or the contradicting values joined with ' | '."""
        return " | ".join(sorted(self.values)) if self.values else None

    @property
    def conflicting(self) -> bool:
        return len(self.values) > 1


def merge_observed(sources: Iterable[SourceSummary]) -> dict[str, ObservedField]:
    """A vendor's observed summary: each field as stated by any of its sources (contradictions kept; a value
    said in other units by another source counts as the same, written as the first source wrote it)."""
    merged: dict[str, ObservedField] = {f: ObservedField(f, {}) for f in SUMMARY_FIELDS}
    for s in sources:
        for f in SUMMARY_FIELDS:
            v = show(s.summary.get(f))
            if v is None:
                continue
            v = next((known for known in merged[f].values if same_value(known, v)), v)
            merged[f].values.setdefault(v, []).append(s.url)
            if f in s.evidence:
                merged[f].evidence.setdefault(v, s.evidence[f])
    return merged


@dataclass(frozen=True)
class Verdict:
    """One expected field checked against observation: ok, mismatch or unverified (no source states it)."""

    field: str
    expected: str | None
    observed: str | None
    state: str  # ok | mismatch | unverified | not-expected
    evidence: str | None
    urls: tuple[str, ...]


def check_expected(expected: Mapping[str, Any], observed: Mapping[str, ObservedField]) -> list[Verdict]:
    """Compare the registry's expected facts with the observed summary, field by field."""
    out = []
    for f in SUMMARY_FIELDS:
        exp = show(expected.get(f))
        obs = observed.get(f) or ObservedField(f, {})
        urls = tuple(u for us in obs.values.values() for u in us)
        evidence = next(iter(obs.evidence.values()), None)
        if not obs.values:
            state = "unverified" if exp is not None else "not-expected"
        elif exp is None:
            state = "not-expected"
        elif all(same_value(v, exp) for v in obs.values):
            state = "ok"
        else:
            state = "mismatch"
            evidence = next((e for v, e in obs.evidence.items() if not same_value(v, exp)), evidence)
        out.append(Verdict(f, exp, obs.value, state, evidence, urls))
    return out
