"""The fetcher against a real HTTP server on 127.0.0.1, for what mocked HTTP cannot show: bodies that
arrive over time, connections that are reset or never answered, and the memory a gzip bomb costs."""

from __future__ import annotations

import asyncio
import functools
import gzip
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from policy_monitor.fetch import Fetcher, FetchRequest, FetchResult, FetchSettings

HUGE = 300 * 10**6  # bytes the /huge page would send if nobody stopped reading
PAGE = b"<html><body><p>We keep API inputs and outputs for up to 30 days.</p></body></html>"


@functools.cache
def bomb_member() -> bytes:
    """One gzip member of 64 MiB of zeros: about 64 KiB, so a single network read of it expands 1000-fold.
    Members one after another form a valid gzip stream of any length."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    return b"".join([deflate.compress(zeros) for _ in range(64)] + [deflate.flush()])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stop = threading.Event()
        self.sent: dict[str, int] = {}
        self.requests: list[str] = []
        self.connections = 0

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up are part of these tests

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        self.server.connections += 1
        super().setup()

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        try:
            getattr(self, "page_" + self.path.strip("/").replace(".", "_"), self.page_missing)()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        """A whole response: status, headers (underscores written as dashes), Content-Length and body."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def page_missing(self) -> None:
        self.reply(404)

    def page_static(self) -> None:
        if self.headers.get("If-None-Match") == '"v1"':
            self.reply(304, ETag='"v1"')
        else:
            self.reply(200, PAGE, Content_Type="text/html; charset=utf-8", ETag='"v1"')

    def page_moved(self) -> None:
        self.reply(301, b"<html><body>Moved to <a href='/static'>here</a></body></html>", Location="/static")

    def page_ok(self) -> None:
        self.reply(200, gzip.compress(PAGE), Content_Type="text/html; charset=utf-8", Content_Encoding="gzip")

    def _chunked(self, chunks: Iterator[bytes], encoding: str | None = None) -> None:
        """Send chunks until they run out, the client hangs up, or the test ends; count what was sent."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.server.sent[self.path] = 0
        for chunk in chunks:
            if self.server.stop.is_set():
                break
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.server.sent[self.path] += len(chunk)
        self.wfile.write(b"0\r\n\r\n")

    def page_huge(self) -> None:
        def chunks() -> Iterator[bytes]:
            block = b"a" * 65536
            for _ in range(HUGE // len(block)):
                time.sleep(0.001)
                yield block

        self._chunked(chunks())

    def page_bomb(self) -> None:
        member = bomb_member()
        self._chunked((member for _ in range(16 * 1024)), encoding="gzip")  # 1 TiB, never reached

    def page_reset(self) -> None:
        # close with SO_LINGER 0: the kernel answers with RST instead of FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def page_silent(self) -> None:
        self.server.stop.wait(10)
        self.close_connection = True

    def page_trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        while not self.server.stop.wait(0.02):
            self.wfile.write(b"x")
            self.wfile.flush()

    def page_short(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"only ten b")
        self.close_connection = True


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


async def _noop_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def fetch(request: FetchRequest, settings: FetchSettings) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings, sleep=_noop_sleep) as fetcher:
            return await fetcher.fetch(request)

    return asyncio.run(go())


def test_gzip_page_with_robots_404(server):
    result = fetch(FetchRequest(server.url("/ok")), FetchSettings())
    assert (result.outcome, result.body, result.content_type) == ("ok", PAGE, "text/html")
    assert server.requests == ["/robots.txt", "/ok"]


def test_300_mb_body_is_stopped_early(server):
    result = fetch(FetchRequest(server.url("/huge"), robots=False), FetchSettings())
    assert result.outcome == "failed"
    assert result.reason.startswith("body larger than 10 MiB (stopped at 10.")
    assert result.attempts == 1
    # the server noticed the hang-up long before the end (socket buffers hold a few MB at most)
    deadline = time.monotonic() + 5
    while server.sent.get("/huge", 0) < 10 * 2**20 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert 10 * 2**20 <= server.sent["/huge"] < HUGE // 10


def test_gzip_bomb_stream_is_stopped_with_little_memory(server):
    settings = FetchSettings(max_bytes=4 * 2**20)
    bomb_member()  # built before measuring
    tracemalloc.start()
    try:
        result = fetch(FetchRequest(server.url("/bomb"), robots=False), settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome == "failed"
    assert result.reason.startswith("body larger than 4 MiB (stopped at 4.")
    assert peak < 16 * 2**20


def test_connection_reset_is_retried_then_fails(server):
    result = fetch(FetchRequest(server.url("/reset"), robots=False), FetchSettings(retries=1))
    assert (result.outcome, result.reason, result.attempts, result.status) == (
        "failed",
        "connection reset (2 attempts)",
        2,
        None,
    )
    assert server.requests == ["/reset", "/reset"]


def test_server_that_never_answers_times_out(server):
    result = fetch(FetchRequest(server.url("/silent"), robots=False, timeout=0.3), FetchSettings(retries=0))
    assert (result.outcome, result.reason, result.status) == ("failed", "timed out after 0.3 s", None)


def test_trickling_body_is_stopped_by_the_total_budget(server):
    # a byte every 20 ms never trips a read timeout; the budget of the whole attempt stops it
    result = fetch(FetchRequest(server.url("/trickle"), robots=False, timeout=0.5), FetchSettings(retries=0))
    assert (result.outcome, result.reason) == ("failed", "timed out after 0.5 s")
    assert result.duration < 5


def test_body_cut_short_is_a_failure(server):
    result = fetch(FetchRequest(server.url("/short"), robots=False), FetchSettings(retries=1))
    assert result.outcome == "failed"
    assert result.reason == "connection closed before the body was complete (2 attempts)"


def test_answers_without_a_page_keep_the_connection_for_the_next_request(server):
    """A 304, a redirect and a 404 are read to their end, so one connection serves a host's requests one
    after another (no new connection, and over HTTPS no new handshake, for each unchanged page)."""

    async def go() -> list[str]:
        async with Fetcher(FetchSettings(), sleep=_noop_sleep) as fetcher:
            outcomes = []
            for path in ("/static", "/static", "/static", "/moved", "/missing", "/static"):
                r = await fetcher.fetch(FetchRequest(server.url(path), etag='"v1"', robots=False))
                outcomes.append(r.outcome)
            return outcomes

    assert asyncio.run(go()) == ["not_modified", "not_modified", "not_modified", "not_modified", "gone", "not_modified"]
    assert server.connections == 1
