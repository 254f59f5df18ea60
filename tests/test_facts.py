"""The facts extractor: data-driven cases (tests/cases/facts.yaml) and the labelled corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from policy_monitor.facts import EXTRACTOR_VERSION, Extraction, extract, extract_consumer

ROOT = Path(__file__).resolve().parent.parent
CASES = yaml.safe_load((ROOT / "tests" / "cases" / "facts.yaml").read_text(encoding="utf-8"))
CORPUS = ROOT.parent / "shared" / "corpus"
# measured on the corpus with extractor version 2: 172/172 API fields; a drop below this is a regression
API_ACCURACY_FLOOR = 0.99
# consumer fields: 63/86 with version 2
CONSUMER_ACCURACY_FLOOR = 0.73


def _training_yaml(value: object) -> object:
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict) -> None:
    result = extract(case["text"])
    summary = result.summary.to_dict()
    for field, expected in case.get("expect", {}).items():
        if field == "training":
            expected = _training_yaml(expected)
        assert summary[field] == expected, f"{field}: {summary[field]!r} != {expected!r}\n{result.to_dict()}"
    if "consumer" in case:
        consumer = extract_consumer(case["text"]).summary.to_dict()
        for field, expected in case["consumer"].items():
            if field == "training":
                expected = _training_yaml(expected)
            assert consumer[field] == expected, f"consumer {field}: {consumer[field]!r} != {expected!r}"
    for wanted in case.get("facts", []):
        wanted = {k: _training_yaml(v) if k == "value" else v for k, v in wanted.items()}
        assert any(all(f.to_dict()[k] == v for k, v in wanted.items()) for f in result.facts), (
            f"no fact {wanted} in {result.to_dict()['facts']}"
        )
    for fact in result.facts:
        assert fact.evidence in case["text"]
    for sentence in result.evidence.values():
        assert sentence in case["text"]


def test_json_shape() -> None:
    result = extract("We retain API inputs for 30 days.")
    assert isinstance(result, Extraction)
    assert EXTRACTOR_VERSION
    assert result.to_dict() == {
        "summary": {"retention": "P30D", "flagged_retention": None, "training": None, "zdr_available": None},
        "facts": [
            {
                "kind": "retention",
                "value": "P30D",
                "scope": "api",
                "condition": "default",
                "evidence": "We retain API inputs for 30 days.",
            }
        ],
        "evidence": {"retention": "We retain API inputs for 30 days."},
    }


def test_large_page() -> None:
    """A 100 KB policy page, mostly about other topics (bench/extract_speed.py measures how fast)."""
    prose = (
        "We collect the information you provide when you create an account, such as your name and email "
        "address, and we share it with service providers who help us run our business.\n"
    )
    facts = (
        "We retain API inputs and outputs for up to 30 days, unless we are legally required to keep them. "
        "You may not use Outputs to develop competing models. Account data is kept for 5 years.\n"
        "| Purpose | Data |\n|---|---|\n| To provide the service | Inputs<br>Outputs |\n"
    )
    block = prose * 8 + facts
    text = block * (100_000 // len(block))
    result = extract(text)
    assert result.summary.retention == "P30D"
    assert result.summary.training is None
    assert {(f.kind, f.value, f.condition) for f in result.facts} == {("retention", "P30D", "default")}


# two sentences a line, with an abbreviation, and no word any rule looks for
PROSE_LINE = "We answer questions by email. Our office is in Paris, e.g. near the river.\n"


@pytest.mark.parametrize(
    ("before", "retention", "scope"),
    [(398, None, "consumer"), (400, "P30D", "all")],
    ids=["exclusion is sentence 399", "exclusion is sentence 401"],
)
def test_exclusion_is_read_among_the_first_400_sentences(before: int, retention: str | None, scope: str) -> None:
    text = (
        PROSE_LINE * (before // 2)
        + "This Privacy Policy does not apply to data we process for our API customers.\n"
        + "We keep your inputs for 30 days.\n"
    )
    result = extract(text)
    assert result.summary.retention == retention
    assert [(f.value, f.scope) for f in result.facts] == [("P30D", scope)]


@pytest.mark.skipif(not (CORPUS / "labels.jsonl").exists(), reason="labelled corpus not present at ../shared/corpus")
def test_corpus_accuracy() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import eval_extraction
    finally:
        sys.path.remove(str(ROOT / "bench"))
    result = eval_extraction.evaluate(CORPUS)
    assert result.docs >= 40
    assert result.not_verbatim == []
    right, total = result.accuracy("api.")
    assert right / total >= API_ACCURACY_FLOOR, [m for m in result.misses if m.field.startswith("api.")]
    right, total = result.accuracy("consumer.")
    assert right / total >= CONSUMER_ACCURACY_FLOOR, [m for m in result.misses if m.field.startswith("consumer.")]


@pytest.mark.skipif(not (CORPUS / "histories").is_dir(), reason="archived histories not present at ../shared/corpus")
def test_archived_versions_keep_their_api_facts() -> None:
    """Real pages archived version after version: no API field changes within these runs (their README)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import eval_extraction
    finally:
        sys.path.remove(str(ROOT / "bench"))
    runs = {run.slug: run for run in eval_extraction.replay_runs(CORPUS)}
    assert len(runs) >= 3
    for run in runs.values():
        assert [c for c in run.changes if ": api." in c] == [], run.slug
    # a consumer policy that excludes business data says nothing about the API
    claude = runs["claude-ai-privacy-policy"]
    assert all(claude.first[f"api.{k}"] is None for k in ("retention", "flagged_retention", "training"))
    assert claude.first["consumer.training"] == "opt-out"
    assert [c for c in claude.changes if "training" in c] == []
    # nor does a consumer policy that names no API or business offering (its reviewed chats: no default)
    assert all(v is None for k, v in runs["google-genai-privacy-policy"].first.items() if k.startswith("api."))


def test_both_summaries_of_one_page_share_its_facts() -> None:
    api_page = "We retain API inputs for 30 days."
    consumer_page = "If you use our free app, we keep your chats for 90 days."
    first = extract(api_page)
    assert extract_consumer(api_page).facts == first.facts
    assert extract_consumer(consumer_page).summary.retention == "P90D"
    assert extract(consumer_page).summary.retention is None
    assert extract(api_page).to_dict() == first.to_dict()
