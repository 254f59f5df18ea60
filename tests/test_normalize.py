"""Normalisation: the text read from pages, and which loads count as the same policy.

Cases live in tests/cases/normalize.yaml: adding a hard case is adding a few lines there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_monitor.normalize import normalize

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "normalize.yaml").read_text(encoding="utf-8"))
_TYPES = {"html": "text/html; charset=utf-8", "markdown": "text/markdown", "plain": "text/plain"}


def _options(case: dict[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in ("select", "remove", "ignore") if k in case}


def _body(case: dict[str, Any]) -> tuple[str, str | None]:
    for key, content_type in _TYPES.items():
        if key in case:
            return case[key], content_type
    return case["body"], case.get("content_type")


@pytest.mark.parametrize("case", CASES["text"], ids=[c["name"] for c in CASES["text"]])
def test_text(case: dict[str, Any]) -> None:
    body, content_type = _body(case)
    page = normalize(body, content_type, **_options(case))
    assert page.text == case["expected"].strip("\n")
    if "title" in case:
        assert page.title == case["title"]
    for fragment in case.get("markdown_has", []):
        assert fragment in page.markdown


@pytest.mark.parametrize("case", CASES["pairs"], ids=[c["name"] for c in CASES["pairs"]])
def test_same_policy_or_not(case: dict[str, Any]) -> None:
    content_type = case.get("content_type", "text/html")
    before = normalize(case["before"], content_type, **_options(case))
    after = normalize(case["after"], content_type, **_options(case))
    assert before.text, "the case's page has no policy text"
    changed = before.key != after.key
    assert changed is case["changed"], f"\nbefore: {before.canonical!r}\nafter:  {after.canonical!r}"
    assert (before.canonical != after.canonical) is changed


def test_key_is_sha256_of_canonical() -> None:
    import hashlib

    page = normalize("<main><p>We keep data for 30 days.</p></main>", "text/html")
    assert page.key == hashlib.sha256(page.canonical.encode()).hexdigest()
    assert page.canonical == "We keep data for 30 days."


def _large_page() -> str:
    paragraph = (
        "<p>We retain inputs and outputs submitted through the <a href='/api?ref=1'>API</a> for "
        "<strong>30 days</strong>, after which they are deleted, unless we are required by law to keep "
        "them longer. Updated 3 days ago. Effective 8 July 2026.</p>"
    )
    rows = "".join(f"<tr><td>Category {i}</td><td>{i} days</td></tr>" for i in range(20))
    sections = "".join(
        f"<h2>Section {i}</h2>{paragraph}<ul><li>one</li><li>two</li></ul>" for i in range(130)
    )
    return (
        "<html><head><title>Policy</title><script>var a=1;</script></head><body><header><nav>"
        + "".join(f"<a href='/p{i}'>Link {i}</a>" for i in range(40))
        + f"</nav></header><main>{sections}<table>{rows}</table></main><footer>Build 1</footer></body></html>"
    )


def test_a_40_kb_page_is_read_whole() -> None:
    # how fast this is, is measured in bench/ (no timing assertions in tests)
    body = _large_page()
    assert len(body.encode()) >= 40_000
    page = normalize(body, "text/html")
    assert page.text and page.key and "Build 1" not in page.text
    assert normalize(body, "text/html").key == page.key
