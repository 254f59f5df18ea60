"""A cron run beside the daemon, or two cron runs at once, never check the same source twice: the second
skips what the first has in flight and says so; a lease left by a killed process does not block the next run.
Real processes, pages on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Site, write_sources
from .test_daemon import Proc, checks_of, leases, page, processes, start_daemon, vendor, wait_for

RUN_TIMEOUT = 40.0  # seconds for one `monitor run` to start, migrate and finish on a loaded machine


@pytest.fixture
def gate(site: Site) -> Iterator[threading.Event]:
    """/gated answers only once the gate opens: a check of it stays in flight until the test says so."""
    opened = threading.Event()

    def gated(h: Any) -> None:
        opened.wait(60)
        h.send(200, {"Content-Type": "text/html; charset=utf-8"}, page().encode())

    site.pages["/gated"] = gated
    site.html("/other", page())
    yield opened
    opened.set()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    with processes() as started:
        yield started


def sources_file(tmp_path: Path, site: Site, **defaults: Any) -> Path:
    vendors = [vendor("gated", site.url("/gated")), vendor("other", site.url("/other"))]
    # both pages are on one test host: two connections to it, so /other is not queued behind /gated
    defaults = {"retries": 0, "jitter": 0, "per_host": 2, **defaults}
    return write_sources(tmp_path / "sources.yaml", vendors, defaults=defaults)


def run(procs: list[Proc], sources: Path, db: str, *args: str) -> Proc:
    p = Proc(sources, db, "run", *args, name="run")
    procs.append(p)
    return p


def in_flight(site: Site) -> Callable[[], bool]:
    return lambda: site.hits.get("/gated") == 1


def test_cron_run_beside_the_daemon_skips_the_source_in_flight(
    site: Site, gate: threading.Event, tmp_path: Path, db_url: str, procs: list[Proc]
) -> None:
    sources = sources_file(tmp_path, site, schedule="0 0 1 1 *")
    daemon = start_daemon(procs, sources, db_url)
    wait_for("the daemon's check of /gated to be in flight", in_flight(site))
    wait_for("the daemon's check of /other", lambda: checks_of(db_url, site.url("/other")) == ["new"])

    cron = run(procs, sources, db_url, "--force")
    assert cron.wait(RUN_TIMEOUT) == 0, cron.stderr
    summary = cron.stdout.strip()
    assert summary.startswith("checked 1, new 0, unchanged 1,"), summary
    assert summary.endswith("skipped 1 being checked by another process"), summary
    assert site.hits["/gated"] == 1 and site.hits["/other"] == 2

    gate.set()
    wait_for("the daemon's check of /gated", lambda: checks_of(db_url, site.url("/gated")) == ["new"])
    assert site.hits["/gated"] == 1
    daemon.send(signal.SIGTERM)
    assert daemon.wait(10) == 0, daemon.stderr
    assert leases(db_url) == []


def test_two_cron_runs_at_once_check_each_source_once(
    site: Site, gate: threading.Event, tmp_path: Path, db_url: str, procs: list[Proc]
) -> None:
    sources = sources_file(tmp_path, site)  # no schedule: every run checks everything
    first = run(procs, sources, db_url)
    wait_for("the first run's check of /gated to be in flight", in_flight(site), timeout=RUN_TIMEOUT)

    second = run(procs, sources, db_url)
    assert second.wait(RUN_TIMEOUT) == 0, second.stderr
    assert second.stdout.strip().endswith("skipped 1 being checked by another process"), second.stdout
    assert site.hits["/gated"] == 1

    gate.set()
    assert first.wait(RUN_TIMEOUT) == 0, first.stderr
    assert "skipped" not in first.stdout
    assert site.hits["/gated"] == 1
    assert checks_of(db_url, site.url("/gated")) == ["new"]
    assert len(checks_of(db_url, site.url("/other"))) == 2  # not in flight at the same time: both checked it
    assert leases(db_url) == []


def test_lease_of_a_killed_run_does_not_block_the_next(
    site: Site, gate: threading.Event, tmp_path: Path, db_url: str, procs: list[Proc]
) -> None:
    sources = sources_file(tmp_path, site)
    killed = run(procs, sources, db_url)
    wait_for("the check of /gated to be in flight", in_flight(site), timeout=RUN_TIMEOUT)
    killed.kill()  # SIGKILL: no clean-up, the lease stays in the database
    assert leases(db_url) != []
    assert checks_of(db_url, site.url("/gated")) == []

    gate.set()
    nxt = run(procs, sources, db_url)
    assert nxt.wait(RUN_TIMEOUT) == 0, nxt.stderr
    assert "skipped" not in nxt.stdout
    assert checks_of(db_url, site.url("/gated")) == ["new"]
    assert site.hits["/gated"] == 2
    assert leases(db_url) == []
