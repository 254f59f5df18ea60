"""Shared fixtures: pages served from a real HTTP server on 127.0.0.1, databases (a SQLite file, and
PostgreSQL when one answers), and the `monitor` command run in-process."""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from policy_monitor.cli import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POLICY_MONITOR_SHARED", REPO.parent / "shared"))
POSTGRES_URL = os.environ.get("MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


# --- a web site on loopback ------------------------------------------------------------------------------

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class Site:
    """Pages on 127.0.0.1: path -> (status, headers, body) or a callable(handler) for faults."""

    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.latency = 0.0
        self.on_post: Callable[[str, dict[str, str], bytes], int] | None = None
        site = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                site.requests.append((self.path, dict(self.headers)))
                if site.latency:
                    time.sleep(site.latency)
                page = site.pages.get(self.path)
                if page is None:
                    self.send(404, {"Content-Type": "text/plain"}, b"not found")
                elif callable(page):
                    page(self)
                else:
                    self.send(*page)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = site.on_post(self.path, dict(self.headers), body) if site.on_post else 404
                self.send(status, {"Content-Type": "text/plain"}, b"ok" if status < 300 else b"no")

            def send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def html(self, path: str, body: str | bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        h = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        self.pages[path] = (status, h, body.encode() if isinstance(body, str) else body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    s.html("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    yield s
    s.close()


def policy_html(title: str, paragraphs: list[str], *, chrome: str = "", head: str = "") -> str:
    """A policy page of our own: navigation and footer around a main article holding `paragraphs`."""
    nav = "".join(f'<li><a href="/s{i}">Section {i}</a></li>' for i in range(12))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{head}</head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>{chrome}<main><article><h1>{title}</h1>{body}</article></main>"
        f"<footer><p>&copy; 2026 {title}</p></footer></body></html>"
    )


FILLER = [
    "This policy explains how Examplar Labs handles information when you use our application programming "
    "interface and related developer services.",
    "We process account details such as your name, email address and billing information to run your account.",
    "Our subprocessors help us host the service and are bound by written agreements.",
    "You can contact our privacy team at any time with questions about this policy.",
]


# --- alerts as channels receive them ----------------------------------------------------------------------


def notify_alert(id: int = 1, **changes: Any) -> Any:
    """An AlertMessage for channel tests: a retention change at Anthropic, with `changes` applied."""
    from datetime import UTC, datetime

    from policy_monitor.notify import AlertMessage

    values: dict[str, Any] = {
        "id": id,
        "kind": "fact_changed",
        "vendor": "anthropic",
        "vendor_name": "Anthropic",
        "url": "https://www.anthropic.com/legal/privacy",
        "field": "retention",
        "old": "P30D",
        "new": "P5Y",
        "evidence": "We retain your data for up to 5 years.",
        "old_evidence": "We retain your data for 30 days.",
        "diff": None,
        "created_at": datetime(2026, 11, 20, 8, 30, 5, 123456, tzinfo=UTC),
    }
    values.update(changes)
    return AlertMessage(**values)


# --- databases -------------------------------------------------------------------------------------------


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def db_params() -> list[Any]:
    required = os.environ.get("MONITOR_REQUIRE_POSTGRES") == "1"
    pg = pytest.param(
        "postgresql",
        marks=[] if required or _postgres_answers() else [pytest.mark.skip(reason="no PostgreSQL on 127.0.0.1:5432")],
    )
    return ["sqlite", pg]


@pytest.fixture(params=db_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a schema of its own in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.db'}"


# --- the command line ------------------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


class Monitor:
    """Runs `monitor --sources FILE --db URL ...` in-process."""

    def __init__(self, sources: Path, db: str):
        self.sources = sources
        self.db = db

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        r = CliRunner().invoke(
            cli, ["--sources", str(self.sources), "--db", self.db, *args], env=env, catch_exceptions=False
        )
        return Result(r.exit_code, r.stdout, r.stderr)

    def alerts(self) -> list[dict[str, Any]]:
        r = self("alerts", "--json", "--all")
        assert r.code == 0, r.err
        return r.json()


def write_sources(path: Path, vendors: list[dict[str, Any]], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({"vendors": vendors, **top}, sort_keys=False))
    return path


@pytest.fixture
def make_monitor(tmp_path: Path, sqlite_url: str) -> Callable[..., Monitor]:
    def make(vendors: list[dict[str, Any]], db: str | None = None, **top: Any) -> Monitor:
        return Monitor(write_sources(tmp_path / "sources.yaml", vendors, **top), db or sqlite_url)

    return make
