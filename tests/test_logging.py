"""What `monitor run` writes where: one summary line on stdout, log lines on stderr (readable text, or JSON
lines with `--log-format json`), nothing but errors with `--quiet`."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest

from policy_monitor import logs

from .conftest import FILLER, Monitor, Site, policy_html

SUMMARY = re.compile(r"^checked \d+, new \d+, unchanged \d+, changed \d+, failed \d+, alerts \d+(, .+)?$")


def page(retention: str = "30 days") -> str:
    return policy_html(
        "Examplar Privacy Policy",
        [FILLER[0], f"We retain API inputs and outputs for {retention}, after which they are deleted.", FILLER[1]],
    )


@pytest.fixture
def monitor(site: Site, make_monitor: Any) -> Monitor:
    """Two vendors: `ok` serves a policy page, `down` answers 503."""
    site.html("/ok", page())
    site.html("/down", "<h1>Service Unavailable</h1>", status=503)
    return make_monitor(
        [
            {"id": "ok", "name": "Ok", "sources": [{"url": site.url("/ok")}]},
            {"id": "down", "name": "Down", "sources": [{"url": site.url("/down")}]},
        ],
        defaults={"retries": 0},
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in text.splitlines()]
    for r in records:
        assert {"time", "level", "logger", "message"} <= set(r), r
    return records


def test_plain_run_prints_exactly_one_summary_line(monitor: Monitor) -> None:
    r = monitor("run")
    assert r.code == 3
    lines = r.out.splitlines()
    assert len(lines) == 1 and SUMMARY.match(lines[0]), r.out
    assert lines[0].startswith("checked 2, new 1, unchanged 0, changed 0, failed 1")
    assert "503" in r.err and "checked 2" not in r.err  # what failed and why, on stderr
    for line in r.err.splitlines():
        assert not line.startswith("{"), line


def test_text_log_lines_are_dated_when_not_on_a_terminal(monitor: Monitor) -> None:
    r = monitor("run")
    logged = [line for line in r.err.splitlines() if "WARNING" in line]
    assert logged and re.match(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING down http://127\.0\.0\.1:\d+/down: .*503", logged[0]
    )


def test_text_log_lines_are_short_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    record = logging.LogRecord("policy_monitor.run", logging.INFO, __file__, 1, "checked %s", ("a",), None)
    assert re.match(r"^\d\d:\d\d:\d\d INFO checked a$", logs.text_formatter(Tty()).format(record))


def test_quiet_prints_no_summary(monitor: Monitor, site: Site) -> None:
    site.html("/down", page())
    ok = monitor("--quiet", "run")
    assert (ok.code, ok.out, ok.err) == (0, "", "")
    site.html("/down", "<h1>Service Unavailable</h1>", status=503)
    failed = monitor("--quiet", "run")
    assert (failed.code, failed.out) == (3, "")  # cron sees the exit code; the reason is in `monitor status`
    assert "checked" not in failed.err


def test_json_log_format_writes_json_lines_on_stderr(monitor: Monitor, site: Site) -> None:
    site.html("/down", page())
    assert monitor("run").code == 0
    site.html("/ok", page("5 years"))
    r = monitor("--log-format", "json", "run")
    assert r.code == 0, r.err
    assert SUMMARY.match(r.out.strip()) and len(r.out.splitlines()) == 1
    records = json_lines(r.err)
    changed = [x for x in records if "policy text changed" in x["message"]]
    assert changed and changed[0]["level"] == "info" and site.url("/ok") in changed[0]["message"]


def test_json_log_format_reports_failures_as_json_lines(monitor: Monitor) -> None:
    r = monitor("--log-format", "json", "run")
    assert r.code == 3
    records = json_lines(r.err)
    warned = [x for x in records if x["level"] == "warning"]
    assert len(warned) == 1 and "503" in warned[0]["message"]


def test_json_formatter_carries_extra_fields_and_errors() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc = sys.exc_info()
    record = logging.LogRecord("policy_monitor.daemon", logging.ERROR, __file__, 1, "pass failed", None, exc)
    record.summary = {"checked": 2, "failures": [("a", "https://a.example/p", "timed out")]}
    out = json.loads(logs.JsonFormatter().format(record))
    assert out["level"] == "error" and out["message"] == "pass failed"
    assert out["summary"]["failures"] == [["a", "https://a.example/p", "timed out"]]
    assert "ValueError: boom" in out["error"]
