"""The fetcher against mocked HTTP (respx): outcomes, retries, limits, caps, charsets, robots.txt."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from policy_monitor import __version__
from policy_monitor.decoding import decode, header_charset
from policy_monitor.fetch import Fetcher, FetchRequest, FetchResult, FetchSettings
from policy_monitor.fetch_many import fetch_all, iter_fetch
from policy_monitor.robots import parse_robots

FAST = FetchSettings(backoff_base=0.01, backoff_max=0.05, timeout=5.0)
URL = "https://acme.example/privacy"
DISALLOWED = "disallowed by robots.txt (set robots: false on the source to override)"


class Sleeps:
    """Records the backoff waits the fetcher asks for instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def get(url: str = URL, **kwargs: object) -> FetchRequest:
    """A request that skips robots.txt, for tests about something else."""
    kwargs.setdefault("robots", False)
    return FetchRequest(url, **kwargs)  # type: ignore[arg-type]


def fetch(
    *requests: FetchRequest, settings: FetchSettings = FAST, sleep: Sleeps | None = None, rng=None
) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        async with Fetcher(settings, sleep=sleep or Sleeps(), rng=rng) as fetcher:
            return [await fetcher.fetch(r) for r in requests]

    return asyncio.run(go())


def fetch_one(request: FetchRequest | None = None, **kwargs: object) -> FetchResult:
    return fetch(request or get(), **kwargs)[0]  # type: ignore[arg-type]


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        yield router


# ------------------------------------------------------------------------------------------------------
# Outcomes


def test_ok_result_carries_body_text_validators_and_hash(mock):
    page = "<html><body><p>We keep prompts for 30 days.</p></body></html>"
    mock.get(URL).respond(
        200,
        text=page,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "ETag": '"v1"',
            "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
        },
    )
    result = fetch_one()
    assert result.outcome == "ok" and result.ok and not result.failed
    assert (result.status, result.reason, result.attempts) == (200, None, 1)
    assert result.body == page.encode()
    assert result.text == page
    assert result.content_type == "text/html"
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.final_url == URL and result.url == URL
    assert result.nbytes == len(page)
    assert result.body_hash == hashlib.sha256(page.encode()).hexdigest()
    assert result.duration >= 0


def test_conditional_get_sends_validators_and_304_is_not_modified(mock):
    route = mock.get(URL).respond(304)
    result = fetch_one(get(etag='"v1"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT"))
    sent = route.calls.last.request.headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert (result.outcome, result.status, result.body, result.text) == ("not_modified", 304, None, None)
    assert result.etag == '"v1"'  # kept when the 304 does not repeat it
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"


def test_no_validators_sent_without_previous_ones(mock):
    route = mock.get(URL).respond(200, text="x")
    fetch_one()
    assert "If-None-Match" not in route.calls.last.request.headers
    assert "If-Modified-Since" not in route.calls.last.request.headers


@pytest.mark.parametrize(("status", "reason"), [(404, "HTTP 404 Not Found"), (410, "HTTP 410 Gone")])
def test_404_and_410_are_gone_without_retry(mock, status, reason):
    route = mock.get(URL).respond(status, text="nothing here")
    result = fetch_one()
    assert (result.outcome, result.status, result.reason, result.body) == ("gone", status, reason, None)
    assert route.call_count == 1 and result.attempts == 1


@pytest.mark.parametrize(("status", "reason"), [(403, "HTTP 403 Forbidden"), (400, "HTTP 400 Bad Request")])
def test_other_4xx_fail_without_retry(mock, status, reason):
    route = mock.get(URL).respond(status)
    sleeps = Sleeps()
    result = fetch_one(sleep=sleeps)
    assert (result.outcome, result.status, result.reason) == ("failed", status, reason)
    assert route.call_count == 1 and sleeps.delays == []


def test_user_agent_names_the_project_and_its_version(mock):
    route = mock.get(URL).respond(200, text="x")
    fetch_one()
    agent = route.calls.last.request.headers["User-Agent"]
    assert agent.startswith(f"policy-monitor/{__version__} ")
    assert "https://" in agent


def test_invalid_url_fails_without_a_request(mock):
    result = fetch_one(get("ftp://acme.example/privacy"))
    assert result.outcome == "failed"
    assert "only http and https" in result.reason
    assert not mock.calls


def test_non_text_content_has_body_but_no_text(mock):
    mock.get(URL).respond(200, content=b"%PDF-1.7 ...", headers={"Content-Type": "application/pdf"})
    result = fetch_one()
    assert (result.outcome, result.body, result.text, result.content_type) == (
        "ok",
        b"%PDF-1.7 ...",
        None,
        "application/pdf",
    )


# ------------------------------------------------------------------------------------------------------
# Retries


def test_503_is_retried_then_ok(mock):
    route = mock.get(URL)
    route.side_effect = [httpx.Response(503), httpx.Response(200, text="fine")]
    sleeps = Sleeps()
    result = fetch_one(sleep=sleeps)
    assert (result.outcome, result.text, result.attempts, result.reason) == ("ok", "fine", 2, None)
    assert route.call_count == 2
    assert len(sleeps.delays) == 1 and 0 <= sleeps.delays[0] <= FAST.backoff_base


def test_503_exhausted_fails_with_status_and_attempts(mock):
    route = mock.get(URL).respond(503)
    sleeps = Sleeps()
    result = fetch_one(sleep=sleeps, rng=lambda: 1.0)
    assert result.outcome == "failed"
    assert result.reason == "HTTP 503 Service Unavailable after 4 attempts"
    assert (result.status, result.attempts, route.call_count) == (503, 4, 4)
    # exponential, capped at backoff_max (jitter drawn as its maximum here)
    assert sleeps.delays == [0.01, 0.02, 0.04]


def test_backoff_is_capped_and_jittered(mock):
    mock.get(URL).respond(500)
    settings = FetchSettings(retries=5, backoff_base=1.0, backoff_max=3.0)
    sleeps = Sleeps()
    fetch_one(sleep=sleeps, rng=lambda: 1.0, settings=settings)
    assert sleeps.delays == [1.0, 2.0, 3.0, 3.0, 3.0]
    sleeps = Sleeps()
    fetch_one(sleep=sleeps, rng=lambda: 0.25, settings=settings)
    assert sleeps.delays == [0.25, 0.5, 0.75, 0.75, 0.75]


def test_429_retry_after_seconds_is_honoured(mock):
    route = mock.get(URL)
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, text="ok")]
    sleeps = Sleeps()
    result = fetch_one(sleep=sleeps)
    assert result.outcome == "ok" and result.attempts == 2
    assert sleeps.delays == [7.0]


def test_retry_after_http_date_is_honoured(mock):
    when = datetime.now(UTC) + timedelta(seconds=20)
    route = mock.get(URL)
    route.side_effect = [
        httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        httpx.Response(200, text="ok"),
    ]
    sleeps = Sleeps()
    fetch_one(sleep=sleeps)
    assert len(sleeps.delays) == 1 and 15 < sleeps.delays[0] <= 20


def test_retry_after_is_capped(mock):
    mock.get(URL).respond(429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    result = fetch_one(sleep=sleeps, settings=FetchSettings(retries=1, retry_after_max=60.0))
    assert sleeps.delays == [60.0]
    assert result.reason == "HTTP 429 Too Many Requests after 2 attempts"


def test_timeout_is_retried_once_then_fails_with_reason(mock):
    route = mock.get(URL).mock(side_effect=httpx.ReadTimeout("read timed out"))
    result = fetch_one()
    assert result.outcome == "failed"
    assert result.reason == "timed out after 5 s (2 attempts)"  # a hung site costs 2 budgets, not 4
    assert result.status is None and route.call_count == 2


def test_a_timeout_after_other_failures_still_gets_its_one_retry(mock):
    route = mock.get(URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200, text="ok")]
    )
    result = fetch_one()
    assert (result.outcome, result.attempts, route.call_count) == ("ok", 3, 3)


def test_total_budget_stops_a_slow_answer(mock):
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, text="too late")

    mock.get(URL).mock(side_effect=slow)
    result = fetch_one(get(timeout=0.05), settings=FetchSettings(retries=0))
    assert (result.outcome, result.reason, result.attempts) == ("failed", "timed out after 0.05 s", 1)
    assert result.duration < 10


def test_connection_error_is_retried_then_fails(mock):
    route = mock.get(URL).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    result = fetch_one()
    assert (result.outcome, result.reason, result.attempts) == (
        "failed",
        "connection refused (4 attempts)",
        4,
    )
    assert route.call_count == 4


def test_connection_error_then_ok(mock):
    route = mock.get(URL)
    route.side_effect = [httpx.ConnectError("boom"), httpx.Response(200, text="ok")]
    result = fetch_one()
    assert (result.outcome, result.attempts) == ("ok", 2)


def test_certificate_error_is_not_retried(mock):
    error = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed")
    route = mock.get(URL).mock(side_effect=error)
    result = fetch_one()
    assert result.outcome == "failed" and result.attempts == 1 and route.call_count == 1
    assert result.reason.startswith("TLS error: [SSL: CERTIFICATE_VERIFY_FAILED]")


# ------------------------------------------------------------------------------------------------------
# Redirects


def test_redirects_are_followed_relative_and_absolute(mock):
    mock.get(URL).respond(301, headers={"Location": "/legal/privacy"})
    mock.get("https://acme.example/legal/privacy").respond(302, headers={"Location": "https://www.acme.example/p"})
    mock.get("https://www.acme.example/p").respond(200, text="the policy")
    result = fetch_one()
    assert (result.outcome, result.text, result.status) == ("ok", "the policy", 200)
    assert result.url == URL and result.final_url == "https://www.acme.example/p"


def test_redirect_loop_fails_with_clear_reason(mock):
    mock.get(URL).respond(302, headers={"Location": "https://acme.example/b"})
    mock.get("https://acme.example/b").respond(302, headers={"Location": URL})
    result = fetch_one()
    assert result.outcome == "failed"
    assert result.reason == (
        "redirect loop (https://acme.example/privacy -> https://acme.example/b -> ...), stopped after 10 redirects"
    )
    assert result.attempts == 1  # not retried


def test_too_many_redirects(mock):
    for i in range(5):
        mock.get(f"https://acme.example/{i}").respond(302, headers={"Location": f"/{i + 1}"})
    result = fetch_one(get("https://acme.example/0"), settings=FetchSettings(max_redirects=3))
    assert (result.outcome, result.reason) == ("failed", "too many redirects (3)")


def test_redirect_without_location_fails(mock):
    mock.get(URL).respond(302)
    result = fetch_one()
    assert (result.outcome, result.reason) == ("failed", "HTTP 302 Found without a Location header")


def test_redirect_to_unparseable_location_fails(mock):
    mock.get(URL).respond(302, headers={"Location": "https://acme.example:notaport/x"})
    result = fetch_one()
    assert (result.outcome, result.attempts) == ("failed", 1)
    assert result.reason == "redirected to an invalid URL (Invalid port: 'notaport')"


def test_redirect_to_other_scheme_fails(mock):
    mock.get(URL).respond(302, headers={"Location": "ftp://acme.example/x"})
    result = fetch_one()
    assert result.outcome == "failed"
    assert result.reason.startswith("redirected to an invalid URL 'ftp://acme.example/x'")


# ------------------------------------------------------------------------------------------------------
# Size caps and decompression


def test_content_length_over_cap_is_refused_before_reading(mock):
    mock.get(URL).respond(200, content=b"x" * 2049)
    result = fetch_one(settings=FetchSettings(max_bytes=2048))
    assert result.outcome == "failed"
    assert result.reason == "body larger than 2 KiB (Content-Length 2.0 KiB)"
    assert result.body is None and result.nbytes == 0


def test_body_at_the_cap_is_accepted(mock):
    mock.get(URL).respond(200, content=b"x" * 2048)
    assert fetch_one(settings=FetchSettings(max_bytes=2048)).nbytes == 2048


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """64 MiB of zeros, gzip-compressed to about 64 KiB."""
    return gzip.compress(b"\0" * (64 * 2**20), compresslevel=1)


def test_gzip_bomb_is_stopped_on_decompressed_size(mock, gzip_bomb):
    assert len(gzip_bomb) < 2**20  # the compressed size alone would pass the cap
    mock.get(URL).respond(200, content=gzip_bomb, headers={"Content-Encoding": "gzip"})
    result = fetch_one(settings=FetchSettings(max_bytes=2**20))
    assert result.outcome == "failed"
    assert result.reason == "body larger than 1 MiB (stopped at 1.1 MiB)"
    assert 2**20 < result.nbytes <= 2**20 + 64 * 1024
    assert result.body is None and result.attempts == 1


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda b: ("gzip", gzip.compress(b)), id="gzip"),
        pytest.param(lambda b: ("gzip", gzip.compress(b[:5000]) + gzip.compress(b[5000:])), id="gzip-members"),
        pytest.param(lambda b: ("deflate", zlib.compress(b)), id="deflate-zlib"),
        pytest.param(lambda b: ("deflate", zlib.compress(b)[2:-4]), id="deflate-raw"),
    ],
)
def test_compressed_bodies_are_decompressed(mock, encode):
    page = ("<p>We keep data for 30 days.</p>" * 2000).encode()
    encoding, content = encode(page)
    mock.get(URL).respond(200, content=content, headers={"Content-Encoding": encoding})
    result = fetch_one()
    assert (result.outcome, result.body, result.nbytes) == ("ok", page, len(page))


def test_truncated_gzip_body_fails(mock):
    content = gzip.compress(b"<p>policy</p>" * 5000)
    mock.get(URL).respond(200, content=content[: len(content) // 2], headers={"Content-Encoding": "gzip"})
    result = fetch_one()
    assert result.outcome == "failed"
    assert result.reason == "the gzip body ends before its stream does (truncated)"


def test_corrupt_gzip_body_fails():
    # respx decodes bodies itself when it records them, so this one goes through httpx's MockTransport
    def corrupt(request: httpx.Request) -> httpx.Response:
        stream = httpx.ByteStream(b"this is not gzip at all")
        return httpx.Response(200, stream=stream, headers={"Content-Encoding": "gzip"})

    async def go() -> FetchResult:
        async with Fetcher(FAST, transport=httpx.MockTransport(corrupt)) as fetcher:
            return await fetcher.fetch(get())

    result = asyncio.run(go())
    assert result.outcome == "failed"
    assert result.reason.startswith("could not decompress the gzip body")


# ------------------------------------------------------------------------------------------------------
# Text decoding

GERMAN = "Datenschutzerklärung: Wir speichern Ihre Eingaben höchstens dreißig Tage lang, außer bei Missbrauch. "


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        pytest.param("text/html; charset=utf-8", "Größe".encode(), "Größe", id="header-utf8"),
        pytest.param(
            "text/html; charset=iso-8859-1",
            '<meta charset="utf-8"><p>Größe</p>'.encode("latin-1"),
            '<meta charset="utf-8"><p>Größe</p>',
            id="header-wins-over-meta",
        ),
        pytest.param(
            "text/html",
            '<meta charset="windows-1252"><p>Größe €</p>'.encode("cp1252"),
            '<meta charset="windows-1252"><p>Größe €</p>',
            id="meta-charset",
        ),
        pytest.param(
            None,
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>“x”</p>'.encode("cp1252"),
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>“x”</p>',
            id="meta-http-equiv-latin1-read-as-windows-1252",
        ),
        pytest.param(
            "text/html; charset=utf-8", b"ok \xff\xfe bad", "ok \ufffd\ufffd bad", id="invalid-bytes-replaced"
        ),
        pytest.param("text/html; charset=latin-1", "\ufeffGröße".encode(), "Größe", id="bom-wins"),
        pytest.param("text/html; charset=no-such-charset", "Größe".encode(), "Größe", id="unknown-label"),
        pytest.param("text/html", "Größe".encode(), "Größe", id="undeclared-utf8"),
        pytest.param("text/plain", (GERMAN * 5).encode("cp1252"), GERMAN * 5, id="undeclared-detected"),
    ],
)
def test_charset(content_type, body, expected):
    assert decode(body, header_charset(content_type)) == expected


def test_charset_from_response_header(mock):
    mock.get(URL).respond(
        200,
        content='<meta charset="utf-8">Größe'.encode("latin-1"),
        headers={"Content-Type": "text/html; charset=latin-1"},
    )
    assert fetch_one().text == '<meta charset="utf-8">Größe'


def test_invalid_bytes_in_response_are_replaced(mock):
    mock.get(URL).respond(200, content=b"caf\xc3\xa9 \xff", headers={"Content-Type": "text/html; charset=utf-8"})
    assert fetch_one().text == "café \ufffd"


# ------------------------------------------------------------------------------------------------------
# robots.txt

ROBOTS = "https://acme.example/robots.txt"


def test_robots_disallow_is_honoured(mock):
    mock.get(ROBOTS).respond(200, text="User-agent: *\nDisallow: /privacy\n")
    page = mock.get(URL).respond(200, text="x")
    result = fetch_one(FetchRequest(URL))
    assert (result.outcome, result.reason, result.status) == ("failed", DISALLOWED, None)
    assert page.call_count == 0


def test_robots_can_be_overridden_per_request(mock):
    robots = mock.get(ROBOTS).respond(200, text="User-agent: *\nDisallow: /\n")
    mock.get(URL).respond(200, text="x")
    assert fetch_one(FetchRequest(URL, robots=False)).outcome == "ok"
    assert robots.call_count == 0


def test_robots_allow_and_cached_per_host(mock):
    robots = mock.get(ROBOTS).respond(200, text="User-agent: *\nDisallow: /private\n")
    mock.get(URL).respond(200, text="x")
    mock.get("https://acme.example/terms").respond(200, text="y")
    results = fetch(FetchRequest(URL), FetchRequest("https://acme.example/terms"), FetchRequest(URL))
    assert [r.outcome for r in results] == ["ok", "ok", "ok"]
    assert robots.call_count == 1
    assert robots.calls.last.request.headers["User-Agent"] == FAST.user_agent


@pytest.mark.parametrize("answer", [404, 410, 403, 500, 503])
def test_robots_missing_or_failing_allows(mock, answer):
    mock.get(ROBOTS).respond(answer, text="User-agent: *\nDisallow: /\n")
    mock.get(URL).respond(200, text="x")
    assert fetch_one(FetchRequest(URL)).outcome == "ok"


def test_robots_unreachable_allows(mock):
    mock.get(ROBOTS).mock(side_effect=httpx.ConnectError("refused"))
    mock.get(URL).respond(200, text="x")
    assert fetch_one(FetchRequest(URL)).outcome == "ok"


def test_robots_that_never_answers_allows_after_the_budget(mock):
    async def silent(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, text="User-agent: *\nDisallow: /\n")

    mock.get(ROBOTS).mock(side_effect=silent)
    mock.get(URL).respond(200, text="x")
    result = fetch_one(FetchRequest(URL, timeout=0.05))
    assert (result.outcome, result.text) == ("ok", "x")


def test_robots_redirect_is_followed(mock):
    mock.get(ROBOTS).respond(301, headers={"Location": "https://www.acme.example/robots.txt"})
    mock.get("https://www.acme.example/robots.txt").respond(200, text="User-agent: *\nDisallow: /\n")
    assert fetch_one(FetchRequest(URL)).reason == DISALLOWED


def test_robots_checked_on_each_redirect_hop(mock):
    mock.get(ROBOTS).respond(404)
    mock.get(URL).respond(302, headers={"Location": "https://other.example/p"})
    mock.get("https://other.example/robots.txt").respond(200, text="User-agent: *\nDisallow: /p\n")
    target = mock.get("https://other.example/p").respond(200, text="x")
    result = fetch_one(FetchRequest(URL))
    assert (result.outcome, result.reason, result.final_url) == (
        "failed",
        DISALLOWED,
        "https://other.example/p",
    )
    assert target.call_count == 0


ROBOTS_CASES = [
    # (robots.txt, path, allowed)
    ("", "/privacy", True),
    ("User-agent: *\nDisallow: /", "/privacy", False),
    ("User-agent: *\nDisallow: /", "/robots.txt", True),
    ("User-agent: *\nDisallow:", "/privacy", True),
    ("User-agent: *\nDisallow: /\nAllow: /legal/", "/legal/privacy", True),  # longest match wins
    ("User-agent: *\nAllow: /legal/\nDisallow: /legal/internal", "/legal/internal/x", False),
    ("User-agent: *\nDisallow: /page\nAllow: /page", "/page", True),  # a tie goes to Allow
    ("User-agent: *\nDisallow: /*.pdf$", "/policy.pdf", False),
    ("User-agent: *\nDisallow: /*.pdf$", "/policy.pdf?x=1", True),
    ("User-agent: *\nDisallow: /*?session=", "/privacy?session=1", False),
    ("User-agent: *\nDisallow: /private", "/privacy", True),
    ("User-agent: *\nDisallow: /Privacy", "/privacy", True),  # paths are case-sensitive
    ("User-agent: *\nDisallow: /datenschutz-ä", "/datenschutz-%C3%A4", False),
    ("User-agent: *\nDisallow: /\n\nUser-agent: policy-monitor\nAllow: /", "/privacy", True),
    ("User-agent: Policy-Monitor\nDisallow: /privacy\n\nUser-agent: *\nAllow: /", "/privacy", False),
    ("User-agent: policy-monitor\nDisallow:\n\nUser-agent: *\nDisallow: /", "/privacy", True),
    ("User-agent: otherbot\nDisallow: /", "/privacy", True),
    ("User-agent: otherbot\nUser-agent: policy-monitor\nDisallow: /privacy", "/privacy", False),
    ("# comment\nUser-agent: * # all\nDisallow: /privacy # no\nSitemap: https://x/s.xml", "/privacy", False),
    ("Disallow: /\nUser-agent: *\nAllow: /", "/privacy", True),  # rules before any group are ignored
]


@pytest.mark.parametrize(("robots", "path", "allowed"), ROBOTS_CASES)
def test_robots_rules(robots, path, allowed):
    rules = parse_robots(robots)
    assert rules.allowed("https://acme.example" + path, FAST.user_agent) is allowed


# ------------------------------------------------------------------------------------------------------
# Concurrency limits


class InFlight:
    """A side effect that counts requests in flight, overall and per host."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.total = 0
        self.most_total = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.now[host] += 1
        self.total += 1
        self.most[host] = max(self.most[host], self.now[host])
        self.most_total = max(self.most_total, self.total)
        await asyncio.sleep(0.01)
        self.now[host] -= 1
        self.total -= 1
        return httpx.Response(200, text="x")


def run_many(requests: list[FetchRequest], settings: FetchSettings) -> list[FetchResult]:
    results: list[FetchResult] = []

    async def go() -> None:
        async with Fetcher(settings) as fetcher:
            await fetch_all(fetcher, requests, results.append)

    asyncio.run(go())
    return results


def test_per_host_limit(mock):
    counter = InFlight()
    mock.route(method="GET").mock(side_effect=counter)
    requests = [get(f"https://{host}.example/{i}") for i in range(8) for host in ("a", "b", "c")]
    results = run_many(requests, FetchSettings(per_host=2, concurrency=32))
    assert len(results) == 24 and all(r.outcome == "ok" for r in results)
    assert counter.most == Counter({"a.example": 2, "b.example": 2, "c.example": 2})


def test_global_limit(mock):
    counter = InFlight()
    mock.route(method="GET").mock(side_effect=counter)
    requests = [get(f"https://h{i}.example/p") for i in range(20)]
    results = run_many(requests, FetchSettings(per_host=2, concurrency=3))
    assert len(results) == 20
    assert counter.most_total == 3


def test_robots_requests_obey_the_host_limit(mock):
    counter = InFlight()
    mock.route(method="GET").mock(side_effect=counter)
    requests = [FetchRequest(f"https://a.example/{i}") for i in range(6)]
    results = run_many(requests, FetchSettings(per_host=1))
    assert all(r.outcome == "ok" for r in results)
    assert counter.most["a.example"] == 1
    assert sum(1 for call in mock.calls if call.request.url.path == "/robots.txt") == 1


# ------------------------------------------------------------------------------------------------------
# Many requests


def test_iter_fetch_yields_in_completion_order(mock):
    async def delayed(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(float(request.url.params["d"]))
        return httpx.Response(200, text=request.url.params["d"])

    mock.route(method="GET").mock(side_effect=delayed)

    async def go() -> list[str | None]:
        async with Fetcher(FAST) as fetcher:
            requests = [get(f"https://h{i}.example/?d={d}") for i, d in enumerate(("0.3", "0.01", "0.1"))]
            return [r.text async for r in iter_fetch(fetcher, requests)]

    assert asyncio.run(go()) == ["0.01", "0.1", "0.3"]


def test_fetch_all_with_async_callback_and_a_long_list(mock):
    mock.route(method="GET").respond(200, text="x")
    seen: list[str] = []

    async def store(result: FetchResult) -> None:
        await asyncio.sleep(0)
        seen.append(result.url)

    async def go() -> None:
        async with Fetcher(FetchSettings(concurrency=4)) as fetcher:
            await fetch_all(fetcher, (get(f"https://h{i % 7}.example/{i}") for i in range(100)), store)

    asyncio.run(go())
    assert sorted(seen) == sorted(f"https://h{i % 7}.example/{i}" for i in range(100))


def test_fetch_all_callback_error_propagates_and_cancels_the_rest(mock):
    started: list[str] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        started.append(str(request.url))
        await asyncio.sleep(0 if request.url.path == "/fast" else 30)
        return httpx.Response(200, text="x")

    mock.route(method="GET").mock(side_effect=slow)

    def explode(result: FetchResult) -> None:
        raise RuntimeError("database is locked")

    async def go() -> None:
        async with Fetcher(FAST) as fetcher:
            requests = [get("https://a.example/fast")] + [get(f"https://s{i}.example/slow") for i in range(3)]
            await fetch_all(fetcher, requests, explode)

    with pytest.raises(RuntimeError, match="database is locked"):
        asyncio.run(go())  # returns at once: the slow fetches were cancelled, not awaited for 30 s
    assert len(started) == 4


def test_fetch_outside_context_is_a_usage_error():
    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(Fetcher(FAST).fetch(get()))
