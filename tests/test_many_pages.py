"""Runs with many pages to read, where pages are read in worker processes: forked from `monitor run` started as
users start it (a process of its own, one thread), and started from a fork server when the process already
runs threads (here: the test's own web server). Either way, what is stored and alerted must be what reading
each page in turn would give, including pages in a legacy charset and pages whose bytes change on every
load without their policy changing."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import zlib
from typing import Any

import pytest
import sqlalchemy

from policy_monitor.facts import EXTRACTOR_VERSION

from .conftest import FILLER, Monitor, Site, policy_html, write_sources

PAGES = 24  # more than a run reads in its own process before it starts worker processes
TRAIN_NO = "We do not use data submitted through the API to train our models."
_loads = itertools.count()

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="worker processes are used with 2 cores or more")


def retention(days: int, i: int) -> str:
    # page 0 says it in French, in windows-1252: its bytes are not UTF-8
    if i == 0:
        return f"We retain API inputs and outputs for {days} days (données conservées {days} jours)."
    return f"We retain API inputs and outputs for {days} days, after which they are deleted."


def serve(site: Site, i: int, days: int) -> None:
    """Page i, with a fresh token on every load (its bytes never repeat; its policy does)."""
    path = f"/p{i}"

    def handler(h: Any) -> None:
        token = f'<meta name="csrf-token" content="{next(_loads):08x}{i}">'
        html = policy_html(f"Vendor {i} Privacy", [FILLER[0], retention(days, i), TRAIN_NO, FILLER[1]], head=token)
        if i == 0:
            h.send(200, {"Content-Type": "text/html; charset=windows-1252"}, html.encode("cp1252"))
        else:
            h.send(200, {"Content-Type": "text/html; charset=utf-8"}, html.encode())

    site.pages[path] = handler


def vendors(site: Site) -> list[dict[str, Any]]:
    return [
        {
            "id": f"v{i}",
            "name": f"Vendor {i}",
            "sources": [{"url": site.url(f"/p{i}")}],
            "expected": {"retention": "P30D"},
        }
        for i in range(PAGES)
    ]


def command_line(m: Monitor, *args: str) -> subprocess.CompletedProcess[str]:
    """`monitor` as users start it: a process of its own."""
    cmd = [sys.executable, "-m", "policy_monitor", "--sources", str(m.sources), "--db", m.db, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def check_three_runs(site: Site, m: Monitor, run: Any) -> None:
    for i in range(PAGES):
        serve(site, i, 30)
    cold = run()
    assert cold[0] == 0, cold[1]
    assert f"checked {PAGES}, new {PAGES}, unchanged 0, changed 0, failed 0, alerts 0" in cold[1]
    observed = {
        row["vendor"]: {f["field"]: f["observed"] for f in row["facts"]}["retention"]
        for row in m("status", "--json").json()
    }
    assert observed == {f"v{i}": "P30D" for i in range(PAGES)}  # every page read, by a worker

    again = run()  # every page's bytes changed (a new token), no policy did
    assert again[0] == 0, again[1]
    assert f"new 0, unchanged {PAGES}, changed 0, failed 0, alerts 0" in again[1]
    assert m.alerts() == []
    history = m("history", "v3", "--json").json()
    assert len(history[0]["snapshots"]) == 1  # no new version stored for a new token

    for i in (0, 5, 17):
        serve(site, i, 60)
    changed = run()
    assert changed[0] == 0, changed[1]
    assert f"unchanged {PAGES - 3}, changed 3, failed 0" in changed[1]
    facts = [a for a in m.alerts() if a["kind"] == "fact_changed"]
    assert sorted((a["vendor"], a["old"], a["new"]) for a in facts) == [
        ("v0", "P30D", "P60D"),
        ("v17", "P30D", "P60D"),
        ("v5", "P30D", "P60D"),
    ]
    french = next(a for a in facts if a["vendor"] == "v0")
    assert "données conservées 60 jours" in french["evidence"]  # decoded from windows-1252 by the worker
    # each version keeps the body as it was served, compressed
    assert [retention(60, 0).encode("cp1252") in body for body in stored_bodies(m, "v0")] == [False, True]
    assert [retention(60, 17).encode() in body for body in stored_bodies(m, "v17")] == [False, True]
    # and each version's facts name the extractor that read them
    with sqlalchemy.create_engine(m.db).connect() as c:
        versions = c.execute(sqlalchemy.text("SELECT version, count(*) FROM extractions GROUP BY version")).all()
    assert versions == [(EXTRACTOR_VERSION, PAGES + 3)]


def stored_bodies(m: Monitor, vendor: str) -> list[bytes]:
    """The raw bodies of a vendor's snapshots, oldest first."""
    query = (
        "SELECT snapshots.raw FROM snapshots JOIN sources ON sources.id = snapshots.source_id "
        "WHERE sources.vendor_id = :v ORDER BY snapshots.id"
    )
    with sqlalchemy.create_engine(m.db).connect() as c:
        return [zlib.decompress(raw) for (raw,) in c.execute(sqlalchemy.text(query), {"v": vendor})]


def test_worker_processes_of_a_run_started_as_users_start_it(site: Site, tmp_path: Any, sqlite_url: str) -> None:
    m = Monitor(write_sources(tmp_path / "sources.yaml", vendors(site)), sqlite_url)

    def run() -> tuple[int, str]:
        p = command_line(m, "run")
        return p.returncode, p.stdout + p.stderr

    check_three_runs(site, m, run)


def test_worker_processes_of_a_run_in_a_process_with_threads(site: Site, tmp_path: Any, sqlite_url: str) -> None:
    m = Monitor(write_sources(tmp_path / "sources.yaml", vendors(site)), sqlite_url)

    def run() -> tuple[int, str]:
        r = m("run")
        return r.code, r.out + r.err

    check_three_runs(site, m, run)
