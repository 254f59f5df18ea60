"""The writer of a pass: results are handed in faster than a database can take them (fast sites), so the
queue in front of it is bounded; a writer that dies must then fail the pass, not leave it waiting."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from policy_monitor.fetch import FetchResult
from policy_monitor.registry import Registry
from policy_monitor.run import Job, RunSummary, Writer
from policy_monitor.store import Database

from .conftest import write_sources


def result(url: str) -> FetchResult:
    return FetchResult(url, "not_modified", 304, None, None, None, None, None, url, 0.01, 0, 1, None)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    from policy_monitor.registry import load_registry

    vendors = [{"id": f"v{i}", "name": f"V{i}", "sources": [{"url": f"http://127.0.0.1:9/{i}"}]} for i in range(3)]
    return load_registry(write_sources(tmp_path / "sources.yaml", vendors))


def jobs(registry: Registry, n: int) -> list[Job]:
    v = registry.vendors[0]
    return [Job(v, v.sources[0], row_id=i + 1) for i in range(n)]


def test_results_wait_for_a_slow_database_instead_of_piling_up(registry: Registry, sqlite_url: str) -> None:
    seen: list[int] = []
    release = threading.Event()

    class SlowWriter(Writer):
        def _write(self, batch: list[Any]) -> list[Any]:
            release.wait(5)
            seen.append(len(batch))
            return []

    async def go() -> int:
        writer = SlowWriter(Database(sqlite_url), registry, RunSummary(), None)
        puts = [asyncio.ensure_future(writer.put(j, result("u"), None)) for j in jobs(registry, 3 * Writer.WAITING)]
        await asyncio.sleep(0.2)  # the writer holds its first batch; the rest wait at the bounded queue
        waiting = sum(not p.done() for p in puts)
        assert writer.queue.qsize() <= Writer.WAITING
        release.set()
        await asyncio.gather(*puts)
        await writer.close()
        return waiting

    assert asyncio.run(go()) > 0  # some checks had to wait to hand in their result
    assert sum(seen) == 3 * Writer.WAITING  # and every result was written


def test_a_writer_that_dies_fails_the_pass_instead_of_blocking_it(registry: Registry, sqlite_url: str) -> None:
    class BrokenWriter(Writer):
        def _write(self, batch: list[Any]) -> list[Any]:
            raise OSError("disk full")

    async def go() -> None:
        writer = BrokenWriter(Database(sqlite_url), registry, RunSummary(), None)
        puts = [writer.put(j, result("u"), None) for j in jobs(registry, 3 * Writer.WAITING)]
        await asyncio.wait_for(asyncio.gather(*puts), timeout=30)  # a hang here is the bug

    with pytest.raises(OSError, match="disk full"):
        asyncio.run(go())


def test_checks_take_turns_between_sites(tmp_path: Path) -> None:
    """The checks under way at once are bounded, so they are started one site after another: a registry
    listing 100 pages of one site first must not keep every other site waiting behind it."""
    from policy_monitor.registry import load_registry
    from policy_monitor.run import by_site

    urls = [f"http://a.example/{i}" for i in range(3)] + ["http://b.example/0", "http://b.example/1"]
    urls += ["https://c.example/0", "http://a.example:8080/0"]
    vendors = [{"id": f"v{i}", "name": f"V{i}", "sources": [{"url": u}]} for i, u in enumerate(urls)]
    reg = load_registry(write_sources(tmp_path / "sources.yaml", vendors))
    order = [j.source.url for j in by_site([Job(v, v.sources[0], row_id=i) for i, v in enumerate(reg.vendors)])]
    assert order == [
        "http://a.example/0",
        "http://b.example/0",
        "https://c.example/0",
        "http://a.example:8080/0",
        "http://a.example/1",
        "http://b.example/1",
        "http://a.example/2",
    ]
