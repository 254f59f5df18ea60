"""Fetch pages that need JavaScript: render them in headless Chromium and keep the resulting DOM.

`BrowserFetcher` answers the same `fetch(FetchRequest) -> FetchResult` as `fetch.Fetcher`, so the pipeline
treats a rendered page like any other: the body is the rendered HTML (``page.content()``), the content
type ``text/html``, `body_hash` the SHA-256 of that HTML. Like `Fetcher`, it never raises for network or
HTTP trouble: 404/410 is ``outcome="gone"``, every other problem ``outcome="failed"`` with a one-line
reason.

How a page is loaded, within the request's time budget (`FetchRequest.timeout`, else
`FetchSettings.timeout`): navigate and wait for the ``load`` event (a page that does not get there in time
is "timed out after N s"), then let it settle until the network is idle for half a second, for at most
`SETTLE_MAX` seconds (pages that poll for ever are taken as they are then).

Politeness: one Chromium for the whole pass, started on first use; at most ``min(concurrency, 4)`` pages
at once and at most `per_host` pages of one host at once; robots.txt is honoured as by `Fetcher` (read
with a `Fetcher`, matched with `policy_monitor.robots`), unless the request says ``robots=False``.
What is not done: conditional GET (a rendered page has no validators of its own) and retries.

Chromium is the system's (Debian: ``apt-get install chromium``), driven by Playwright (the ``browser``
extra). `check_available()` says, as a `BrowserUnavailable` error, what is missing and how to install it.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MonitorError
from .fetch import (
    ROBOTS_DISALLOWED,
    Fetcher,
    FetchRequest,
    FetchResult,
    FetchSettings,
    _check_url,
)
from .reasons import seconds, size

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Playwright

__all__ = ["BrowserFetcher", "BrowserUnavailable", "check_available", "chromium_executable"]

logger = logging.getLogger(__name__)

MAX_PAGES = 4  # pages rendered at once, whatever FetchSettings.concurrency says: each costs a renderer
SETTLE_MAX = 5.0  # seconds to wait for the network to go idle after the load event
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_ENV_VARS = ("MONITOR_CHROMIUM", "PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH")
_SYSTEM_CHROMIUM = ("chromium", "chromium-browser", "/usr/bin/chromium")
_CHROMIUM_HINT = "Install Chromium (Debian/Ubuntu: apt-get install chromium) or set MONITOR_CHROMIUM to its executable."
_INSTALL_HINT = f"Install the extra with pip install 'policy-monitor[browser]'. {_CHROMIUM_HINT}"
_NET_ERROR = re.compile(r"net::(ERR_[A-Z0-9_]+)")
_NET_REASONS = {
    "ERR_CONNECTION_REFUSED": "connection refused",
    "ERR_CONNECTION_RESET": "connection reset",
    "ERR_CONNECTION_CLOSED": "connection closed by the server without a response",
    "ERR_EMPTY_RESPONSE": "connection closed by the server without a response",
    "ERR_NAME_NOT_RESOLVED": "could not resolve the host name",
    "ERR_NAME_RESOLUTION_FAILED": "could not resolve the host name",
    "ERR_TOO_MANY_REDIRECTS": "too many redirects",
    "ERR_TIMED_OUT": None,  # becomes "timed out after N s"
    "ERR_CONNECTION_TIMED_OUT": None,
    "ERR_ABORTED": "the page was not loaded (a download, or navigation cancelled)",
    "ERR_INVALID_RESPONSE": "invalid HTTP response",
    "ERR_CONTENT_LENGTH_MISMATCH": "connection closed before the body was complete",
    "ERR_INCOMPLETE_CHUNKED_ENCODING": "connection closed before the body was complete",
    "ERR_UNSAFE_PORT": "the browser refuses to connect to this port (an unsafe port)",
}


class BrowserUnavailable(MonitorError):
    """A source asks for `render: browser`, but Playwright or Chromium is not installed here."""

    exit_code = 2


def chromium_executable() -> str | None:
    """The Chromium to drive: $MONITOR_CHROMIUM, $PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH, else the system's
    `chromium`. None: no system Chromium (Playwright's own download is used if there is one)."""
    for var in _ENV_VARS:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    for name in _SYSTEM_CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    return None


def _playwright_download() -> bool:
    """Whether `playwright install chromium` has put a browser where Playwright looks for it."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache" / "ms-playwright")
    return bool(glob.glob(os.path.join(root, "chromium*")))


def check_available() -> None:
    """Raise `BrowserUnavailable` (one sentence: what is missing, then how to install it) unless pages can
    be rendered here. Cheap: nothing is started."""
    if importlib.util.find_spec("playwright") is None:  # not imported here: that takes half a second
        raise BrowserUnavailable(f"render: browser needs Playwright, which is not installed. {_INSTALL_HINT}")
    executable = chromium_executable()
    if executable is None:
        if _playwright_download():
            return
        raise BrowserUnavailable(f"render: browser needs Chromium, which was not found. {_CHROMIUM_HINT}")
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        var = next((v for v in _ENV_VARS if os.environ.get(v, "").strip()), "the Chromium path")
        raise BrowserUnavailable(
            f"render: browser: {var} is {executable!r}, which is not an executable file. "
            "Point it at a Chromium executable (Debian/Ubuntu: apt-get install chromium, then /usr/bin/chromium)."
        )


class BrowserFetcher:
    """Renders pages in one headless Chromium. Use as ``async with BrowserFetcher(settings) as b:``; the
    browser starts on the first `fetch` and stops when the block ends."""

    def __init__(
        self, settings: FetchSettings | None = None, *, executable: str | None = None, http: Fetcher | None = None
    ) -> None:
        self.settings = settings or FetchSettings()
        self._executable = executable
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._start_error: str | None = None
        self._start_lock = asyncio.Lock()
        # robots.txt and the per-host limit are the HTTP fetcher's, shared with the pages fetched over HTTP
        # in the same run (`http`), so a site is never asked more often for having both kinds of page
        self._http = http
        self._own_http: Fetcher | None = None
        self._global = asyncio.Semaphore(min(self.settings.concurrency, MAX_PAGES))
        self._entered = False

    async def __aenter__(self) -> BrowserFetcher:
        self._entered = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._entered = False
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None
        if self._own_http is not None:
            await self._own_http.__aexit__(None, None, None)
            self._own_http = None

    # ----------------------------------------------------------------------------------------------------

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Render one page. Network, HTTP and browser problems come back as a result, never as an exception."""
        if not self._entered:
            raise RuntimeError("use the BrowserFetcher inside 'async with BrowserFetcher(...) as browser:'")
        started = time.monotonic()
        budget = request.timeout if request.timeout is not None else self.settings.timeout
        try:
            invalid = _check_url(request.url)
            if invalid:
                return _failed(request, invalid, started, attempts=0)
            if request.robots and not await self._robots_allow(request.url, budget):
                return _failed(request, ROBOTS_DISALLOWED, started)
            browser = await self._start()
            if browser is None:
                return _failed(request, self._start_error or "the browser could not be started", started)
            async with self._slot(request.url):
                return await self._render(browser, request, budget, started)
        except Exception as exc:  # a bug here must not end the whole run; it is logged in full
            logger.exception("unexpected error rendering %s", request.url)
            return _failed(request, f"unexpected error: {type(exc).__name__}: {_first_line(exc)}", started)

    async def _render(self, browser: Browser, request: FetchRequest, budget: float, started: float) -> FetchResult:
        from playwright.async_api import Error as PlaywrightError

        deadline = time.monotonic() + budget  # from now: waiting for a slot does not count
        timed_out = f"timed out after {seconds(budget)} s"
        status: int | None = None
        final_url = request.url
        context = None
        try:
            try:
                context = await browser.new_context(
                    user_agent=self._user_agent(browser),
                    locale="en-US",
                    service_workers="block",
                    accept_downloads=False,
                )
                page = await context.new_page()
                # The whole render stays within the budget, even if a script keeps the page busy.
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.0) + 1.0):
                    response = await page.goto(request.url, wait_until="load", timeout=_ms(deadline))
                    if response is not None:
                        status = response.status
                        final_url = response.url
                    if status in (404, 410):
                        return _done(request, "gone", status, final_url, started, reason=_status_line(response))
                    if status is not None and not 200 <= status < 300:
                        return _done(request, "failed", status, final_url, started, reason=_status_line(response))
                    await _settle(page, deadline)
                    html = await _content(page, deadline)
                    final_url = page.url
            except TimeoutError:
                return _done(request, "failed", status, final_url, started, reason=timed_out)
            except PlaywrightError as exc:
                reason = _describe(exc)
                return _done(request, "failed", status, final_url, started, reason=reason or timed_out)
        finally:
            if context is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5.0):
                        await context.close()
        body = html.encode("utf-8")
        if len(body) > self.settings.max_bytes:
            return _done(
                request,
                "failed",
                status,
                final_url,
                started,
                reason=f"rendered page larger than {size(self.settings.max_bytes)} ({size(len(body), exact=False)})",
                nbytes=len(body),
            )
        return _done(request, "ok", status, final_url, started, body=body)

    async def _start(self) -> Browser | None:
        """The browser, launched on first use (and again if it died); None if it cannot start."""
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._start_error is not None:
                return None
            try:
                from playwright.async_api import async_playwright
            except ImportError:
                self._start_error = f"Playwright is not installed. {_INSTALL_HINT}"
                return None
            executable = self._executable or chromium_executable()
            try:
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                if self._browser is not None:
                    with contextlib.suppress(Exception):
                        await self._browser.close()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=executable, headless=True, args=CHROMIUM_ARGS
                )
            except Exception as exc:
                self._browser = None
                self._start_error = f"the browser could not be started ({_first_line(exc)}). {_INSTALL_HINT}"
                logger.error("%s", self._start_error)
                return None
            logger.debug("started %s %s", executable or "Playwright's Chromium", self._browser.version)
            return self._browser

    def _user_agent(self, browser: Browser) -> str:
        """Chromium's own User-Agent (without "Headless"), followed by the project's, which robots.txt and
        site owners see."""
        major = browser.version.split(".", 1)[0]
        return (
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 "
            f"Safari/537.36 {self.settings.user_agent}"
        )

    # ----------------------------------------------------------------------------------------------------
    # Politeness

    async def _http_fetcher(self) -> Fetcher:
        if self._http is None:
            if self._own_http is None:
                settings = replace(self.settings, retries=0, max_bytes=512 * 1024)
                self._own_http = await Fetcher(settings).__aenter__()
            return self._own_http
        return self._http

    @contextlib.asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[None]:
        """Hold a place among the pages rendered at once, and in the host's limit."""
        http = await self._http_fetcher()
        async with self._global, http.host_slot(url):
            yield

    async def _robots_allow(self, url: str, budget: float) -> bool:
        return await (await self._http_fetcher()).robots_allow(url, budget)


# --------------------------------------------------------------------------------------------------------
# Small helpers


async def _settle(page: Page, deadline: float) -> None:
    """Wait until the network is idle, for at most SETTLE_MAX seconds and never past the deadline."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    wait = min(SETTLE_MAX, deadline - time.monotonic())
    if wait <= 0:
        return
    with contextlib.suppress(PlaywrightTimeout):
        await page.wait_for_load_state("networkidle", timeout=wait * 1000)


async def _content(page: Page, deadline: float) -> str:
    """The rendered HTML; if a script navigates away just then, that of the page it lands on."""
    from playwright.async_api import Error as PlaywrightError

    for _ in range(3):
        try:
            return await page.content()
        except PlaywrightError as exc:
            if "navigat" not in str(exc) and "context was destroyed" not in str(exc):
                raise
            await page.wait_for_load_state("load", timeout=_ms(deadline))
    return await page.content()


def _ms(deadline: float) -> float:
    """Milliseconds left until `deadline`; at least 1 (Playwright reads 0 as "no timeout")."""
    return max((deadline - time.monotonic()) * 1000, 1.0)


def _status_line(response: Any) -> str:
    text = (response.status_text or "").strip()
    if not text:
        import http

        with contextlib.suppress(ValueError):
            text = http.HTTPStatus(response.status).phrase
    return f"HTTP {response.status} {text}".rstrip()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _describe(exc: BaseException) -> str | None:
    """One line for people from a Playwright error; None for a timeout."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    if isinstance(exc, PlaywrightTimeout):
        return None
    text = str(exc)
    match = _NET_ERROR.search(text)
    if match:
        code = match.group(1)
        if code in _NET_REASONS:
            return _NET_REASONS[code]
        if code.startswith(("ERR_CERT_", "ERR_SSL_")):
            return f"TLS error: {code}"
        return f"network error: {code}"
    line = _first_line(exc)
    if "Download is starting" in text:
        return "the page is a download, not something to render"
    if "closed" in line.lower() or "crashed" in line.lower():
        return f"the browser stopped: {line}"
    return f"browser error: {line}"


def _failed(request: FetchRequest, reason: str, started: float, attempts: int = 1) -> FetchResult:
    return _done(request, "failed", None, request.url, started, reason=reason, attempts=attempts)


def _done(
    request: FetchRequest,
    outcome: Any,
    status: int | None,
    final_url: str,
    started: float,
    *,
    reason: str | None = None,
    body: bytes | None = None,
    nbytes: int | None = None,
    attempts: int = 1,
) -> FetchResult:
    return FetchResult(
        url=request.url,
        outcome=outcome,
        status=status,
        reason=reason,
        body=body,
        content_type="text/html" if body is not None else None,
        etag=None,
        last_modified=None,
        final_url=final_url,
        duration=time.monotonic() - started,
        nbytes=nbytes if nbytes is not None else len(body or b""),
        attempts=attempts,
        body_hash=hashlib.sha256(body).hexdigest() if body is not None else None,
        charset="utf-8",  # the rendered document, encoded as UTF-8
    )
