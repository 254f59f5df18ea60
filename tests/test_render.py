"""Browser rendering (`render: browser`) against pages served on 127.0.0.1, in a real headless Chromium.

The browser tests skip, saying why, when Playwright or Chromium is missing; with MONITOR_REQUIRE_BROWSER=1
(as in CI) they fail instead. One browser serves the whole module.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from policy_monitor.fetch import ROBOTS_DISALLOWED, Fetcher, FetchRequest, FetchResult, FetchSettings
from policy_monitor.render import BrowserFetcher, BrowserUnavailable, check_available

from .conftest import Site

REQUIRED = os.environ.get("MONITOR_REQUIRE_BROWSER") == "1"
SENTENCE = "We keep API inputs and outputs for up to 30 days, then delete them."
CAP = 64 * 1024  # max_bytes of the module's browser: the rendered HTML is held to it

# The policy text is not in the HTML: a script fetches it and inserts it, so only a browser sees it.
SCRIPTED = """<!doctype html><html><head><meta charset="utf-8"><title>Privacy</title></head>
<body><main id="policy"></main><script>
fetch("/policy.json").then(r => r.json()).then(d => {
  setTimeout(() => {
    const p = document.createElement("p");
    p.textContent = d.sentence;
    document.getElementById("policy").appendChild(p);
  }, 100);
});
</script></body></html>"""

# A few hundred bytes over HTTP that grow to 200 KB of DOM once the script has run.
GROWING = """<!doctype html><html><body><main id="m"></main><script>
document.getElementById("m").textContent = "Retention. ".repeat(20000);
</script></body></html>"""


class Runner:
    """An event loop that lives as long as the module, with one BrowserFetcher entered in it."""

    def __init__(self, settings: FetchSettings) -> None:
        self.loop = asyncio.Runner()
        self.browser = BrowserFetcher(settings)
        self.loop.run(self.browser.__aenter__())

    def fetch(self, url: str, timeout: float = 10, robots: bool = True) -> FetchResult:
        return self.loop.run(self.browser.fetch(FetchRequest(url, timeout=timeout, robots=robots)))

    def close(self) -> None:
        self.loop.run(self.browser.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def hang() -> Iterator[threading.Event]:
    """Set when the module ends, releasing the handlers that keep a page loading."""
    released = threading.Event()
    yield released
    released.set()


@pytest.fixture(scope="module")
def site(hang: threading.Event) -> Iterator[Site]:
    s = Site()
    s.html("/robots.txt", "User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
    s.html("/policy", SCRIPTED)
    s.pages["/policy.json"] = (200, {"Content-Type": "application/json"}, b'{"sentence": "%s"}' % SENTENCE.encode())
    s.html("/growing", GROWING)
    s.html("/private/policy", SCRIPTED)
    s.html(
        "/js-redirect",
        "<html><body><script>setTimeout(() => { location.href = '/policy'; }, 50)</script></body></html>",
    )
    s.html("/broken", "<p>oops</p>", status=500)
    s.pages["/moved"] = (301, {"Location": "/policy"}, b"")

    def never_done(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b"<html><body><p>The first part of the page")
        h.wfile.flush()
        hang.wait(30)
        h.close_connection = True

    s.pages["/never-done"] = never_done

    active = {"now": 0, "max": 0}
    lock = threading.Lock()

    def slow(h: http.server.BaseHTTPRequestHandler) -> None:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        time.sleep(0.15)
        with lock:
            active["now"] -= 1
        body = b"<html><body><p>slow page</p></body></html>"
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    s.pages["/slow"] = slow
    s.active = active  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Runner]:
    try:
        check_available()
    except BrowserUnavailable as exc:
        if REQUIRED:
            pytest.fail(f"MONITOR_REQUIRE_BROWSER=1 but {exc}")
        pytest.skip(str(exc))
    runner = Runner(FetchSettings(max_bytes=CAP, per_host=1))
    yield runner
    runner.close()


# --- rendering ---------------------------------------------------------------------------------------------


def test_text_inserted_by_javascript_is_in_the_rendered_page(browser: Runner, site: Site) -> None:
    plain = asyncio.run(_http_fetch(site.url("/policy")))
    assert plain.ok and SENTENCE not in (plain.text or "")

    r = browser.fetch(site.url("/moved"))  # a redirect to /policy

    assert (r.outcome, r.status, r.reason, r.content_type) == ("ok", 200, None, "text/html")
    assert r.text is not None and f"<p>{SENTENCE}</p>" in r.text
    assert r.body == r.text.encode()
    assert r.body_hash == hashlib.sha256(r.body).hexdigest()
    assert r.nbytes == len(r.body)
    assert (r.url, r.final_url) == (site.url("/moved"), site.url("/policy"))

    again = browser.fetch(site.url("/policy"))
    assert again.body_hash == r.body_hash  # the same page renders to the same bytes


def test_page_that_moves_itself_by_script_is_read_where_it_lands(browser: Runner, site: Site) -> None:
    r = browser.fetch(site.url("/js-redirect"))
    assert (r.outcome, r.final_url) == ("ok", site.url("/policy"))
    assert SENTENCE in (r.text or "")


def test_404_is_gone(browser: Runner, site: Site) -> None:
    r = browser.fetch(site.url("/nothing-here"))
    assert (r.outcome, r.status, r.reason, r.body, r.body_hash) == ("gone", 404, "HTTP 404 Not Found", None, None)


def test_server_error_is_a_failed_check(browser: Runner, site: Site) -> None:
    r = browser.fetch(site.url("/broken"))
    assert (r.outcome, r.status, r.reason, r.body) == ("failed", 500, "HTTP 500 Internal Server Error", None)


def test_page_that_never_finishes_loading_times_out(browser: Runner, site: Site) -> None:
    started = time.monotonic()
    r = browser.fetch(site.url("/never-done"), timeout=1)
    assert (r.outcome, r.reason, r.body) == ("failed", "timed out after 1 s", None)
    assert r.duration >= 0.9 and time.monotonic() - started < 15  # gave up; the page never finishes


def test_rendered_html_over_the_cap_is_refused(browser: Runner, site: Site) -> None:
    small = site.pages["/growing"][2]
    assert len(small) < 1024  # the cap applies to what the script makes of it

    r = browser.fetch(site.url("/growing"))

    assert (r.outcome, r.status, r.body, r.text) == ("failed", 200, None, None)
    assert r.reason is not None and r.reason.startswith("rendered page larger than 64 KiB (")
    assert r.nbytes > CAP


def test_robots_txt_is_honoured(browser: Runner, site: Site) -> None:
    r = browser.fetch(site.url("/private/policy"))
    assert (r.outcome, r.reason) == ("failed", ROBOTS_DISALLOWED)
    assert "/private/policy" not in site.hits

    r = browser.fetch(site.url("/private/policy"), robots=False)
    assert r.ok and SENTENCE in (r.text or "")


def test_one_page_per_host_at_a_time_when_per_host_is_1(browser: Runner, site: Site) -> None:
    async def two() -> list[FetchResult]:
        req = FetchRequest(site.url("/slow"), timeout=10)
        return await asyncio.gather(*(browser.browser.fetch(req) for _ in range(2)))

    results = browser.loop.run(two())
    assert [r.outcome for r in results] == ["ok", "ok"]
    assert site.active["max"] == 1  # type: ignore[attr-defined]


def test_connection_refused_is_a_failed_check(browser: Runner) -> None:
    port = _free_port()
    r = browser.fetch(f"http://127.0.0.1:{port}/policy", robots=False)
    assert (r.outcome, r.status, r.reason) == ("failed", None, "connection refused")


# --- without the browser ---------------------------------------------------------------------------------


def test_browser_that_cannot_start_is_a_failed_check(tmp_path: Any) -> None:
    missing = str(tmp_path / "no-chromium")

    async def go() -> FetchResult:
        async with BrowserFetcher(executable=missing) as b:
            return await b.fetch(FetchRequest("http://127.0.0.1:9/", robots=False))

    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("Playwright is not installed")
    r = asyncio.run(go())
    assert r.outcome == "failed"
    assert r.reason is not None
    assert r.reason.startswith("the browser could not be started (")
    assert "pip install 'policy-monitor[browser]'" in r.reason


def test_fetch_outside_the_context_manager_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="async with BrowserFetcher"):
        asyncio.run(BrowserFetcher().fetch(FetchRequest("http://127.0.0.1:9/")))


def test_missing_playwright_names_the_extra_and_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "playwright", None)
    with pytest.raises(BrowserUnavailable) as info:
        check_available()
    assert str(info.value) == (
        "render: browser needs Playwright, which is not installed. Install the extra with "
        "pip install 'policy-monitor[browser]'. Install Chromium (Debian/Ubuntu: apt-get install chromium) "
        "or set MONITOR_CHROMIUM to its executable."
    )
    assert info.value.exit_code == 2


def test_chromium_path_that_is_not_there(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    pytest.importorskip("playwright")
    monkeypatch.setenv("MONITOR_CHROMIUM", str(tmp_path / "chromium"))
    with pytest.raises(BrowserUnavailable) as info:
        check_available()
    assert str(info.value) == (
        f"render: browser: MONITOR_CHROMIUM is '{tmp_path / 'chromium'}', which is not an executable file. "
        "Point it at a Chromium executable (Debian/Ubuntu: apt-get install chromium, then /usr/bin/chromium)."
    )


def test_no_chromium_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    pytest.importorskip("playwright")
    for var in ("MONITOR_CHROMIUM", "PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setattr("policy_monitor.render._SYSTEM_CHROMIUM", ("chromium", "chromium-browser"))
    with pytest.raises(
        BrowserUnavailable, match=r"^render: browser needs Chromium, which was not found\. Install Chromium \(Debian"
    ):
        check_available()


# --------------------------------------------------------------------------------------------------------


async def _http_fetch(url: str) -> FetchResult:
    async with Fetcher(FetchSettings(retries=0)) as f:
        return await f.fetch(FetchRequest(url, timeout=5))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
