"""`monitor daemon` as users run it: a real process, pages on 127.0.0.1, a real database file, signals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa

from policy_monitor.daemon import Daemon
from policy_monitor.registry import load_registry
from policy_monitor.run import is_due
from policy_monitor.store import Database
from policy_monitor.store.db import open_engine
from policy_monitor.store.schema import SourceRow

from .conftest import FILLER, Monitor, Site, policy_html, write_sources

MONITOR = [sys.executable, "-m", "policy_monitor"]
START_TIMEOUT = 30.0  # a loaded 2-core machine takes a few seconds to import and migrate
YEARLY = {"schedule": "0 0 1 1 *", "jitter": 0, "retries": 0, "timeout": 10}  # due only when never checked


def page(extra: str = "") -> str:
    return policy_html(
        "Examplar Privacy Policy",
        [FILLER[0], "We retain API inputs and outputs for 30 days, after which they are deleted.", FILLER[1], extra],
    )


def vendor(vid: str, url: str) -> dict[str, Any]:
    return {"id": vid, "name": vid.title(), "sources": [{"url": url}]}


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def slow_page(seconds: float, body: str) -> Callable[[Any], None]:
    """A page that answers after `seconds`: its check is in flight meanwhile."""

    def handler(h: Any) -> None:
        time.sleep(seconds)
        h.send(200, {"Content-Type": "text/html; charset=utf-8"}, body.encode())

    return handler


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


class Proc:
    """A `monitor ...` process; stderr goes to a file so that it can be read while the process runs."""

    def __init__(
        self,
        sources: Path,
        db: str,
        *args: str,
        log_format: str = "json",
        name: str = "monitor",
        env: dict[str, str] | None = None,
    ):
        n = len(list(sources.parent.glob(f"{name}-*.err")))
        self.err_path = sources.parent / f"{name}-{n}.err"
        self.out_path = sources.parent / f"{name}-{n}.out"
        self._err: IO[bytes] = self.err_path.open("wb")
        self._out: IO[bytes] = self.out_path.open("wb")
        cmd = [*MONITOR, "--sources", str(sources), "--db", db, "--log-format", log_format, *args]
        self.proc = subprocess.Popen(
            cmd, stdout=self._out, stderr=self._err, cwd=sources.parent, env=clean_env() | (env or {})
        )

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log lines so far (every complete line must be one)."""
        text = self.stderr
        complete = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def logged(self, fragment: str) -> dict[str, Any] | None:
        return next((r for r in self.logs() if fragment in r["message"]), None)

    def wait_logged(self, fragment: str, timeout: float = 15.0) -> dict[str, Any]:
        def seen() -> dict[str, Any] | None:
            assert self.proc.poll() is None or self.logged(fragment), f"exited {self.proc.returncode}:\n{self.stderr}"
            return self.logged(fragment)

        return wait_for(f"{fragment!r} in the log", seen, timeout)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._err.close()
            self._out.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._err.close()
        self._out.close()


@contextlib.contextmanager
def processes() -> Iterator[list[Proc]]:
    """Processes started inside; any still running at the end are killed."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for p in started:
            p.kill()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    with processes() as started:
        yield started


def start_daemon(procs: list[Proc], sources: Path, db: str, env: dict[str, str] | None = None) -> Proc:
    d = Proc(sources, db, "daemon", name="daemon", env=env)
    procs.append(d)
    d.wait_logged("started", timeout=START_TIMEOUT)
    return d


def checks(db: str) -> list[tuple[str, str, str | None]]:
    """Every check recorded in the database: (url, outcome, reason), oldest first."""
    engine = open_engine(db)
    try:
        with engine.connect() as c:
            rows = c.execute(
                sa.text(
                    "SELECT s.url, c.outcome, c.reason FROM checks c JOIN sources s ON s.id = c.source_id ORDER BY c.id"
                )
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def checks_of(db: str, url: str) -> list[str]:
    return [outcome for u, outcome, _ in checks(db) if u == url]


def integrity(db_url: str) -> str:
    engine = open_engine(db_url)
    try:
        with engine.connect() as c:
            return str(c.execute(sa.text("PRAGMA integrity_check")).scalar())
    finally:
        engine.dispose()


def leases(db: str) -> list[Any]:
    engine = open_engine(db)
    try:
        with engine.connect() as c:
            return [r[0] for r in c.execute(sa.text("SELECT lease_owner FROM sources")).all() if r[0] is not None]
    finally:
        engine.dispose()


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as s:
        yield s


@contextlib.contextmanager
def notify_socket() -> Iterator[socket.socket]:
    """What systemd listens on for a Type=notify service (a short path: AF_UNIX paths are limited)."""
    with tempfile.TemporaryDirectory(prefix="pm") as d, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(os.path.join(d, "notify"))
        sock.settimeout(START_TIMEOUT)
        yield sock


# --- the service ----------------------------------------------------------------------------------------


def test_checks_on_start_reloads_on_sighup_and_stops_on_sigterm(
    site: Site, tmp_path: Path, sqlite_url: str, procs: list[Proc], stack: contextlib.ExitStack
) -> None:
    site.html("/a", page())
    site.html("/b", page())
    sources = write_sources(tmp_path / "sources.yaml", [vendor("a", site.url("/a"))], defaults=YEARLY)
    systemd = stack.enter_context(notify_socket())
    d = start_daemon(procs, sources, sqlite_url, env={"NOTIFY_SOCKET": systemd.getsockname()})
    assert systemd.recv(100) == b"READY=1"  # for a unit with Type=notify
    wait_for("the start-up check of /a", lambda: checks_of(sqlite_url, site.url("/a")) == ["new"])

    # SIGHUP: a new vendor is checked (and one whose site is down fails without harming the service);
    # /a is not due again
    down = f"http://127.0.0.1:{closed_port()}/privacy"
    write_sources(
        sources, [vendor("a", site.url("/a")), vendor("b", site.url("/b")), vendor("down", down)], defaults=YEARLY
    )
    d.send(signal.SIGHUP)
    assert d.wait_logged("reloaded")["message"].endswith("3 vendors, 3 sources")
    wait_for("the check of the new vendors", lambda: len(checks(sqlite_url)) == 3)
    assert checks_of(sqlite_url, site.url("/b")) == ["new"]
    assert checks_of(sqlite_url, down) == ["failed"]
    assert site.hits["/a"] == 1
    assert d.proc.poll() is None

    # an invalid file is refused with its reason; the service keeps running and keeps reloading
    sources.write_text(sources.read_text() + "  - id: [oops\n")
    d.send(signal.SIGHUP)
    refused = d.wait_logged("reload refused")
    assert refused["level"] == "error" and "sources.yaml:" in refused["message"] and "YAML" in refused["message"]
    site.html("/c", page())
    write_sources(sources, [vendor("a", site.url("/a")), vendor("c", site.url("/c"))], defaults=YEARLY)
    d.send(signal.SIGHUP)
    wait_for("the check of /c", lambda: checks_of(sqlite_url, site.url("/c")) == ["new"])

    d.send(signal.SIGTERM)
    assert d.wait(10) == 0, d.stderr
    assert d.logged("daemon stopped")
    assert systemd.recv(100) == b"STOPPING=1"
    assert integrity(sqlite_url) == "ok"
    assert leases(sqlite_url) == []
    assert [r["level"] for r in d.logs() if r["level"] not in ("info", "warning")] == ["error"]  # the refusal


def test_outage_is_survived_and_a_missed_run_caught_up_once(
    site: Site, tmp_path: Path, sqlite_url: str, procs: list[Proc]
) -> None:
    site.html("/p", page())
    site.html("/q", page())
    sources = write_sources(
        tmp_path / "sources.yaml", [vendor("p", site.url("/p")), vendor("q", site.url("/q"))], defaults=YEARLY
    )
    first = start_daemon(procs, sources, sqlite_url)
    wait_for("the start-up checks", lambda: len(checks(sqlite_url)) == 2)
    first.send(signal.SIGTERM)
    assert first.wait(10) == 0

    # while the daemon is down, /p's yearly schedule fires twice (its last check is two years old) and
    # the site has an outage
    engine = open_engine(sqlite_url)
    with engine.begin() as c:
        c.execute(
            sa.update(SourceRow)
            .where(SourceRow.url == site.url("/p"))
            .values(last_checked_at=datetime.now(UTC) - timedelta(days=800))
        )
    engine.dispose()
    site.html("/p", "<html><body><h1>Service Unavailable</h1></body></html>", status=503)

    second = start_daemon(procs, sources, sqlite_url)
    wait_for("the catch-up check of /p", lambda: checks_of(sqlite_url, site.url("/p")) == ["new", "failed"])
    time.sleep(1.0)  # nothing more is checked: one catch-up, and /q is not due
    assert checks_of(sqlite_url, site.url("/p")) == ["new", "failed"]
    assert checks_of(sqlite_url, site.url("/q")) == ["new"]
    assert site.hits["/q"] == 1
    assert second.proc.poll() is None  # the outage is survived

    status = {v["vendor"]: v["sources"][0] for v in Monitor(sources, sqlite_url)("status", "--json").json()}
    assert status["p"]["last_outcome"] == "failed" and "503" in status["p"]["last_error"]
    assert status["q"]["last_outcome"] == "new"
    passes = [r for r in second.logs() if r["message"].startswith("pass:")]
    assert passes and passes[-1]["summary"]["failed"] == 1

    second.send(signal.SIGTERM)
    assert second.wait(10) == 0
    assert integrity(sqlite_url) == "ok"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_lets_the_check_in_flight_finish(
    sig: int, site: Site, tmp_path: Path, sqlite_url: str, procs: list[Proc]
) -> None:
    site.pages["/slow"] = slow_page(2.0, page())
    sources = write_sources(tmp_path / "sources.yaml", [vendor("slow", site.url("/slow"))], defaults=YEARLY)
    d = start_daemon(procs, sources, sqlite_url)
    wait_for("the check to be in flight", lambda: site.hits.get("/slow") == 1)
    sent = time.monotonic()
    d.send(sig)
    assert d.wait(10) == 0, d.stderr
    assert time.monotonic() - sent < 9.0  # the 2 s check finished, then it stopped
    assert checks_of(sqlite_url, site.url("/slow")) == ["new"]  # finished and recorded, not cut short
    assert leases(sqlite_url) == []
    assert integrity(sqlite_url) == "ok"
    messages = [r["message"] for r in d.logs()]
    assert messages.index(next(m for m in messages if m.startswith("stopping"))) < messages.index(
        next(m for m in messages if m.startswith("pass:"))
    )


def test_second_signal_stops_at_once_and_releases_the_source(
    site: Site, tmp_path: Path, sqlite_url: str, procs: list[Proc]
) -> None:
    site.pages["/stuck"] = slow_page(20.0, page())
    sources = write_sources(
        tmp_path / "sources.yaml", [vendor("stuck", site.url("/stuck"))], defaults=YEARLY | {"timeout": 60}
    )
    d = start_daemon(procs, sources, sqlite_url)
    wait_for("the check to be in flight", lambda: site.hits.get("/stuck") == 1)
    assert leases(sqlite_url) != []
    sent = time.monotonic()
    d.send(signal.SIGTERM)
    d.wait_logged("stopping")
    d.send(signal.SIGTERM)
    assert d.wait(10) == 0, d.stderr
    assert time.monotonic() - sent < 15.0  # long before the 20 s page would have answered
    assert checks(sqlite_url) == []  # cut short: nothing half-recorded, checked again next time
    assert leases(sqlite_url) == []
    assert integrity(sqlite_url) == "ok"


# --- scheduling, without a process ----------------------------------------------------------------------


def test_is_due_after_a_missed_fire_time(tmp_path: Path) -> None:
    reg = load_registry(
        write_sources(
            tmp_path / "sources.yaml",
            [{"id": "a", "name": "A", "sources": [{"url": "https://a.example/p", "schedule": "0 * * * *"}]}],
        )
    )
    src = reg.vendors[0].sources[0]
    now = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)  # the schedule last fired at 12:00
    assert is_due(reg, src, None, now)
    assert is_due(reg, src, datetime(2026, 3, 4, 11, 59, tzinfo=UTC), now)
    assert is_due(reg, src, now - timedelta(days=30), now)  # many fire times missed: due (once)
    assert not is_due(reg, src, datetime(2026, 3, 4, 12, 1, tzinfo=UTC), now)


def test_daemon_queues_missed_sources_once_at_start(tmp_path: Path, sqlite_url: str) -> None:
    urls = {n: f"https://{n}.example/p" for n in ("missed", "fresh", "never")}
    sources = write_sources(
        tmp_path / "sources.yaml", [vendor(n, u) for n, u in urls.items()], defaults={"schedule": "0 */6 * * *"}
    )
    db = Database(sqlite_url)
    try:
        registry = load_registry(sources)
        from policy_monitor.run import sync_sources

        ids = sync_sources(db, registry)
        now = datetime.now(UTC)
        with db.session() as s, s.begin():
            s.get(SourceRow, ids[("missed", urls["missed"])]).last_checked_at = now - timedelta(days=3)  # type: ignore[union-attr]
            s.get(SourceRow, ids[("fresh", urls["fresh"])]).last_checked_at = now  # type: ignore[union-attr]

        daemon = Daemon(str(sources), db)

        async def start() -> tuple[set[tuple[str, str]], int]:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            daemon.scheduler = AsyncIOScheduler(timezone="UTC")
            daemon.schedule()
            queued = set(daemon.queue)
            # a fire while the source is being checked is coalesced into that check
            daemon.queue.clear()
            daemon.in_flight = {("missed", urls["missed"])}
            daemon.enqueue(("missed", urls["missed"]))
            daemon.enqueue(("fresh", urls["fresh"]))
            return queued, len(daemon.scheduler.get_jobs())

        queued, jobs = asyncio.run(start())
        assert queued == {("missed", urls["missed"]), ("never", urls["never"])}
        assert jobs == 3  # one cron job per source
        assert daemon.queue == {("fresh", urls["fresh"])}
    finally:
        db.close()


def test_a_pass_that_fails_as_a_whole_is_tried_again(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from policy_monitor.errors import DatabaseError

    key = ("a", "https://a.example/p")
    sources = write_sources(tmp_path / "sources.yaml", [vendor(*key)])
    db = Database(sqlite_url)
    daemon = Daemon(str(sources), db)

    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("database postgresql://db/monitor: connection refused")

    monkeypatch.setattr("policy_monitor.daemon.run_pass", unreachable)

    async def one_pass() -> list[Any]:
        daemon.scheduler = AsyncIOScheduler(timezone="UTC")
        daemon.schedule()
        assert daemon.queue == {key}
        worker = asyncio.create_task(daemon.work())
        await wait_async(lambda: not daemon.queue and not daemon.in_flight)
        daemon.stopping = True
        daemon.wake.set()
        await worker
        return [j for j in daemon.scheduler.get_jobs() if not j.id.startswith("source:")]

    try:
        retries = asyncio.run(one_pass())
    finally:
        db.close()
    assert len(retries) == 1
    assert 50 < (retries[0].trigger.run_date - datetime.now(UTC)).total_seconds() <= 60
    retries[0].func(*retries[0].args)
    assert daemon.queue == {key}


async def wait_async(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
