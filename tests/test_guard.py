"""The guard: pages served in place of the policy are told apart from policy pages.

Cases live in tests/cases/guard.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_monitor.guard import judge
from policy_monitor.normalize import normalize

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "guard.yaml").read_text(encoding="utf-8"))
FILLER = (
    "<p>We process account information, such as your name and email address, to provide the service, "
    "to communicate with you about it, and to meet our legal obligations in each country we serve.</p>"
)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_judge(case: dict[str, Any]) -> None:
    body = case.get("html", case.get("body"))
    content_type = "text/html" if "html" in case else case.get("content_type")
    if case.get("filler"):
        body = body.replace("</main>", FILLER * case["filler"] + "</main>")
    page = normalize(body, content_type)
    verdict = judge(page, status=case.get("status", 200), previous_chars=case.get("previous_chars"))
    if case.get("real"):
        assert verdict is None
    else:
        assert verdict is not None and verdict.startswith(case["reason"]), verdict
        assert "\n" not in verdict
