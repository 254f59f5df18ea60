"""Fetch policy pages politely and defensively.

One `Fetcher` holds an `httpx.AsyncClient` per site and answers `fetch(FetchRequest) -> FetchResult`.
It never raises for network or HTTP trouble: every problem becomes ``outcome="failed"`` (or ``"gone"``
for 404/410) with a one-line `reason` meant for people.

Politeness and limits:

* at most `FetchSettings.concurrency` requests in flight, and at most `per_host` to any one host;
  robots.txt requests count against the same limits;
* robots.txt is read once per origin and per Fetcher (or taken from `robots_known`, what the caller
  remembered from an earlier run), and honoured unless the request says ``robots=False`` (see
  `policy_monitor.robots` for the matching rules);
* every attempt has a total time budget (connect, headers and body together), so a server that trickles
  bytes cannot hold a check for ever;
* connection errors, timeouts, 429 and 5xx are retried with exponential backoff and full jitter, and a
  Retry-After header is honoured up to `retry_after_max`; other 4xx are not retried;
* the body is decompressed while it streams (`policy_monitor.bodies`), and reading stops as soon as the
  decompressed size passes `max_bytes`, so a huge body or a gzip bomb costs little memory and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hashlib
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from policy_monitor import __version__
from policy_monitor.bodies import drain, read_body
from policy_monitor.decoding import BodyError, header_charset, media_type, text_of
from policy_monitor.reasons import describe_error, redirect_reason, seconds
from policy_monitor.robots import RobotsRules, parse_robots

__all__ = ["FetchRequest", "FetchResult", "FetchSettings", "Fetcher"]

logger = logging.getLogger(__name__)

Outcome = Literal["ok", "not_modified", "failed", "gone"]
Sleep = Callable[[float], Awaitable[None]]

ROBOTS_DISALLOWED = "disallowed by robots.txt (set robots: false on the source to override)"
ROBOTS_MAX_BYTES = 512 * 1024  # as much of a robots.txt as is read; the RFC asks for at least 500 KiB
ROBOTS_MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class FetchSettings:
    concurrency: int = 64  # global limit of requests in flight
    per_host: int = 1  # connections per host at once (one at a time: polite, and measured fastest overall)
    timeout: float = 30.0  # default total time budget of one attempt, body included
    max_bytes: int = 10 * 2**20  # cap on decompressed bytes, enforced while streaming
    retries: int = 3  # extra attempts for connection errors, timeouts, 429, 5xx
    backoff_base: float = 0.5  # exponential backoff with full jitter
    backoff_max: float = 30.0
    retry_after_max: float = 60.0  # honour Retry-After (seconds or HTTP date) up to this
    max_redirects: int = 10
    user_agent: str = f"policy-monitor/{__version__} (+https://github.com/policy-monitor/policy-monitor)"


@dataclass(frozen=True)
class FetchRequest:
    url: str
    timeout: float | None = None  # per-source override of FetchSettings.timeout
    etag: str | None = None  # sent as If-None-Match
    last_modified: str | None = None  # sent as If-Modified-Since
    robots: bool = True  # honour robots.txt


@dataclass(frozen=True)
class FetchResult:
    url: str
    outcome: Outcome  # gone = 404/410
    status: int | None  # last HTTP status seen, None when no response arrived
    reason: str | None  # one line for people when the outcome is not "ok"
    body: bytes | None  # decompressed bytes ("ok" only)
    content_type: str | None  # media type without parameters, lower case: "text/html"
    etag: str | None
    last_modified: str | None
    final_url: str  # after redirects
    duration: float  # seconds, all attempts and waits
    nbytes: int  # decompressed bytes received (also when the body was refused as too large)
    attempts: int
    body_hash: str | None  # sha256 hex of body
    charset: str | None = None  # the declared charset `text` decodes with (None: detected from the bytes)
    raw: bytes | None = None  # the body zlib-compressed, as stored (set by a run for a new version)

    @property
    def text(self) -> str | None:
        """The body decoded, for textual content types ("ok" only). Decoded when asked: a run hands pages to
        its readers compressed, and they decode them."""
        return None if self.body is None else text_of(self.body, self.content_type, self.charset)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


# --------------------------------------------------------------------------------------------------------
# One attempt's answer, before it becomes a FetchResult


@dataclass
class _Answer:
    outcome: Outcome
    final_url: str
    status: int | None = None
    reason: str | None = None
    retryable: bool = False
    timed_out: bool = False
    retry_after: float | None = None
    http_error: bool = False  # reason is an HTTP status line ("after N attempts" reads well after it)
    body: bytes | None = None
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    nbytes: int = 0


class Fetcher:
    """Fetches pages, with one HTTP client per site. Use as ``async with Fetcher(settings) as f:``.

    `sleep` and `rng` exist for tests: the backoff waits go through `sleep(seconds)`, and the jitter
    draws from `rng()` (a float in [0, 1)).
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        sleep: Sleep | None = None,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings or FetchSettings()
        self._transport = transport
        self._sleep: Sleep = sleep or asyncio.sleep
        self._rng = rng or random.random
        self._open = False
        self._client: httpx.AsyncClient | None = None
        self._clients: dict[str, httpx.AsyncClient] = {}  # per site (scheme, host and port)
        self._global = asyncio.Semaphore(self.settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, RobotsRules] = {}
        self.robots_known: dict[str, str] = {}  # origin -> robots.txt text ("" = all allowed) read recently
        self.robots_read: dict[str, str] = {}  # what this fetcher read itself, to be remembered
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        self._open = True
        if self._transport is not None:  # a test's own transport: one client for every site
            self._client = self._new_client(self.settings.concurrency)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._open = False
        clients, self._clients = [*self._clients.values()], {}
        if self._client is not None:
            clients.append(self._client)
            self._client = None
        for client in clients:
            await client.aclose()

    def _new_client(self, connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport,
            verify=_ssl_context(),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            follow_redirects=False,  # followed here, so every hop obeys robots.txt and the host limit
            timeout=self.settings.timeout,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-US,en;q=0.9",
                "Accept-Encoding": "gzip, deflate",
            },
        )

    def _client_for(self, url: str) -> httpx.AsyncClient:
        """The client of the URL's site: one per site, holding that site's few connections. One client for
        every site would do, but its connection pool looks through all its connections for each request
        (a third of the CPU of fetching from 40 sites at once)."""
        if self._client is not None:
            return self._client
        origin = _origin(url)
        client = self._clients.get(origin)
        if client is None:
            client = self._clients[origin] = self._new_client(self.settings.per_host)
        return client

    # ----------------------------------------------------------------------------------------------------

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one page. Network and HTTP problems come back as a result, never as an exception."""
        if not self._open:
            raise RuntimeError("use the Fetcher inside 'async with Fetcher(...) as fetcher:'")
        started = time.monotonic()
        attempts = 0
        try:
            invalid = _check_url(request.url)
            if invalid:
                answer = _Answer("failed", request.url, reason=invalid)
            else:
                timeouts = 0
                while True:
                    attempts += 1
                    answer = await self._attempt(request)
                    timeouts += answer.timed_out
                    # a server that let a whole attempt run out is seldom quicker the third time: a timeout
                    # is tried again once, so a hung site holds a run for 2 budgets, not 4
                    if not answer.retryable or attempts > self.settings.retries or timeouts > 1:
                        break
                    delay = self._delay(attempts, answer.retry_after)
                    logger.debug("%s: %s; retrying in %.2f s", request.url, answer.reason, delay)
                    await self._sleep(delay)
        except Exception as exc:  # a bug here must not end the whole run; it is logged in full
            logger.exception("unexpected error fetching %s", request.url)
            answer = _Answer("failed", request.url, reason=f"unexpected error: {type(exc).__name__}: {exc}")
        return _result(request, answer, attempts, time.monotonic() - started)

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        s = self.settings
        if retry_after is not None:
            return min(retry_after, s.retry_after_max)
        return self._rng() * min(s.backoff_max, s.backoff_base * 2.0 ** (attempts - 1))

    async def _attempt(self, request: FetchRequest) -> _Answer:
        """One attempt: the request and its redirects, within one time budget."""
        budget = request.timeout if request.timeout is not None else self.settings.timeout
        headers = {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        url = request.url
        chain = [url]
        used = 0.0
        while True:
            if request.robots and not await self.robots_allow(url, budget):
                return _Answer("failed", url, reason=ROBOTS_DISALLOWED)
            async with self.host_slot(url):
                began = time.monotonic()
                try:
                    async with asyncio.timeout(max(budget - used, 0.0)):
                        async with self._client_for(url).stream(
                            "GET", url, headers=headers, timeout=httpx.Timeout(budget)
                        ) as response:
                            answer_or_next = await self._answer(response)
                except (TimeoutError, httpx.TimeoutException):
                    return _Answer(
                        "failed", url, reason=f"timed out after {seconds(budget)} s", retryable=True, timed_out=True
                    )
                except httpx.TransportError as exc:
                    return _Answer("failed", url, reason=describe_error(exc), retryable=_retryable(exc))
                finally:
                    used += time.monotonic() - began
            if isinstance(answer_or_next, _Answer):
                return answer_or_next
            url = answer_or_next
            chain.append(url)
            if len(chain) - 1 > self.settings.max_redirects:
                return _Answer("failed", url, reason=redirect_reason(chain, self.settings.max_redirects))
            invalid = _check_url(url)
            if invalid:
                return _Answer("failed", url, reason=f"redirected to an {invalid}")

    async def _answer(self, response: httpx.Response) -> _Answer | str:
        """What a response means: an answer, or the URL it redirects to."""
        answer = self._meaning(response)
        if answer is not None:
            await drain(response)
            return answer
        return await self._page(response)

    def _meaning(self, response: httpx.Response) -> _Answer | str | None:
        """The answer or redirect of a response whose body we do not use; None for a page to read."""
        status = response.status_code
        url = str(response.url)
        headers = response.headers
        status_line = f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip()
        common = _fields(response)
        if status in _REDIRECTS and headers.get("location"):
            return str(response.url.join(headers["location"]))
        if status == 304:
            return _Answer("not_modified", url, **common)
        if status in (404, 410):
            return _Answer("gone", url, reason=status_line, http_error=True, **common)
        if status == 429 or status >= 500:
            return _Answer(
                "failed",
                url,
                reason=status_line,
                http_error=True,
                retryable=True,
                retry_after=_retry_after(headers.get("retry-after")),
                **common,
            )
        if not 200 <= status < 300:
            if status in _REDIRECTS:
                status_line += " without a Location header"
            return _Answer("failed", url, reason=status_line, http_error=True, **common)
        return None

    async def _page(self, response: httpx.Response) -> _Answer:
        url = str(response.url)
        headers = response.headers
        common = _fields(response)
        try:
            body = await read_body(response, self.settings.max_bytes)
        except BodyError as exc:
            return _Answer("failed", url, reason=str(exc), nbytes=exc.nbytes, **common)
        return _Answer(
            "ok",
            url,
            body=body,
            nbytes=len(body),
            charset=header_charset(headers.get("content-type")),
            **common,
        )

    # ----------------------------------------------------------------------------------------------------
    # Politeness

    @contextlib.asynccontextmanager
    async def host_slot(self, url: str) -> AsyncIterator[None]:
        """Hold a place in the global limit and in the host's limit."""
        host = site_of(url)
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self.settings.per_host)
        async with semaphore, self._global:
            yield

    async def robots_allow(self, url: str, budget: float) -> bool:
        """Whether robots.txt lets us fetch `url` (read once per origin, or taken from `robots_known`)."""
        origin = _origin(url)
        rules = self._robots.get(origin)
        if rules is None:
            lock = self._robots_locks.setdefault(origin, asyncio.Lock())
            async with lock:
                rules = self._robots.get(origin)
                if rules is None:
                    known = self.robots_known.get(origin)
                    if known is not None:
                        rules = parse_robots(known) if known else RobotsRules.allow_all()
                    else:
                        rules = await self._load_robots(origin, budget)
                    self._robots[origin] = rules
        return rules.allowed(url, self.settings.user_agent)

    async def _load_robots(self, origin: str, budget: float) -> RobotsRules:
        """Read an origin's robots.txt. Missing, failing or unreachable means everything is allowed.
        What was read (the text, or "" for "everything allowed") is kept in `robots_read`, so a caller can
        remember it across runs (RFC 9309 allows caching for up to 24 hours) and pass it back as
        `robots_known`. An unreachable robots.txt is not remembered: the next run asks again."""
        rules, text = await self._read_robots(origin, budget)
        if text is not None:
            self.robots_read[origin] = text
        return rules

    async def _read_robots(self, origin: str, budget: float) -> tuple[RobotsRules, str | None]:
        url = origin + "/robots.txt"
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            async with self.host_slot(url):
                try:
                    async with asyncio.timeout(budget):
                        client = self._client_for(url)
                        async with client.stream("GET", url, timeout=httpx.Timeout(budget)) as response:
                            location = response.headers.get("location")
                            if response.status_code in _REDIRECTS and location:
                                url = str(response.url.join(location))
                                if _check_url(url):
                                    break
                                continue
                            if response.status_code != 200:
                                logger.debug("%s: HTTP %s, everything allowed", url, response.status_code)
                                known = "" if 400 <= response.status_code < 500 else None
                                return RobotsRules.allow_all(), known
                            body = await read_body(response, ROBOTS_MAX_BYTES, truncate=True)
                except (TimeoutError, httpx.HTTPError, BodyError) as exc:
                    logger.debug("%s: %s, everything allowed", url, exc)
                    break
            text = body.decode("utf-8", errors="replace")
            return parse_robots(text), text
        return RobotsRules.allow_all(), None


# --------------------------------------------------------------------------------------------------------
# Small helpers


def _result(request: FetchRequest, answer: _Answer, attempts: int, duration: float) -> FetchResult:
    reason = answer.reason
    if reason and attempts > 1:
        reason += f" after {attempts} attempts" if answer.http_error else f" ({attempts} attempts)"
    ok = answer.outcome == "ok"
    body = answer.body if ok else None
    etag, last_modified = answer.etag, answer.last_modified
    if answer.outcome == "not_modified":  # a 304 need not repeat the validators
        etag = etag or request.etag
        last_modified = last_modified or request.last_modified
    return FetchResult(
        url=request.url,
        outcome=answer.outcome,
        status=answer.status,
        reason=None if ok else reason,
        body=body,
        content_type=answer.content_type,
        etag=etag,
        last_modified=last_modified,
        final_url=answer.final_url,
        duration=duration,
        nbytes=answer.nbytes,
        attempts=attempts,
        body_hash=hashlib.sha256(body).hexdigest() if body is not None else None,
        charset=answer.charset,
    )


def _fields(response: httpx.Response) -> dict[str, Any]:
    """What every answer keeps of a response: its status, validators and media type."""
    headers = response.headers
    return {
        "status": response.status_code,
        "etag": headers.get("etag"),
        "last_modified": headers.get("last-modified"),
        "content_type": media_type(headers.get("content-type")),
    }


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle, which takes tens of milliseconds."""
    return httpx.create_ssl_context()


def _check_url(url: str) -> str | None:
    """None if `url` can be fetched, else why not ("invalid URL ...")."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        return f"invalid URL {url!r}: {exc}"
    if parsed.scheme not in ("http", "https"):
        return f"invalid URL {url!r}: only http and https can be fetched"
    if not parsed.host:
        return f"invalid URL {url!r}: no host"
    return None


@functools.lru_cache(maxsize=16_384)
def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


@functools.lru_cache(maxsize=16_384)
def site_of(url: str) -> str:
    """The site of a URL (host and port), as the per-site limit counts it. Cached: a URL is looked at several
    times per request, and parsing one is not cheap."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    return f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _retryable(exc: httpx.TransportError) -> bool:
    """Worth another attempt: not a bad URL, proxy or certificate, which will not mend in seconds."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.ProxyError):
        return False
    text = str(exc).lower()
    return "certificate" not in text and "location header" not in text
