"""`render: browser` through `monitor run`: a page whose policy text only JavaScript writes is read, and
reads the same on the next run."""

from __future__ import annotations

import os
from typing import Any

import pytest

from policy_monitor.render import BrowserUnavailable, check_available

from .conftest import Site

SCRIPTED = """<!doctype html><html><head><title>Examplar privacy</title></head><body><main id="app"></main>
<script>
document.getElementById("app").innerHTML = "<h1>Privacy</h1>" +
  "<p>This policy explains how Examplar handles information sent to its application programming interface.</p>" +
  "<p>We retain API inputs and outputs for 30 days, after which they are deleted.</p>" +
  "<p>We do not train our models on your API inputs or outputs.</p>";
</script></body></html>"""


@pytest.fixture
def chromium() -> None:
    try:
        check_available()
    except BrowserUnavailable as exc:
        if os.environ.get("MONITOR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MONITOR_REQUIRE_BROWSER=1 but {exc}")
        pytest.skip(str(exc))


def test_a_page_written_by_javascript_is_read_in_the_browser(chromium: None, site: Site, make_monitor: Any) -> None:
    site.html("/app", SCRIPTED)
    both = [
        {
            "id": "rendered",
            "name": "Rendered",
            "sources": [{"url": site.url("/app"), "render": "browser"}],
            "expected": {"retention": "P30D", "training": "no"},
        },
        {"id": "plain", "name": "Plain", "sources": [{"url": site.url("/app")}]},
    ]
    m = make_monitor(both)
    first = m("run")
    status = {v["vendor"]: v for v in m("status", "--json").json()}
    assert status["rendered"]["sources"][0]["last_outcome"] == "new", first.err
    states = {f["field"]: f["state"] for f in status["rendered"]["facts"]}
    assert (states["retention"], states["training"]) == ("ok", "ok")
    assert status["plain"]["sources"][0]["last_outcome"] == "failed"  # over plain HTTP the page is empty
    assert first.code == 3
    m("run")
    again = {v["vendor"]: v for v in m("status", "--json").json()}
    assert again["rendered"]["sources"][0]["last_outcome"] == "unchanged"
    assert [a["kind"] for a in m.alerts()] == []
