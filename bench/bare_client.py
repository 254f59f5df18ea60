#!/usr/bin/env python3
"""The floor of bench/perf.py: a bare `httpx.AsyncClient` fetching pages one at a time per host, all hosts
at once, with no parsing and no storage.

perf.py calls `fetch_all()` in its own, already started process (the floor the targets are set against),
and also runs this file as a program, timed from outside like `monitor run` is (interpreter start-up and
importing httpx count):

    python bench/bare_client.py URLS_FILE        # one URL per line; pages of a host are fetched in order
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from urllib.parse import urlsplit

import httpx


async def _fetch_all(urls_by_host: dict[str, list[str]]) -> tuple[float, int]:
    hosts = len(urls_by_host)
    limits = httpx.Limits(max_connections=hosts, max_keepalive_connections=hosts)
    total = 0
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def host(urls: list[str]) -> None:
            nonlocal total
            for u in urls:
                r = await client.get(u)
                r.raise_for_status()
                total += len(r.content)

        start = time.perf_counter()
        await asyncio.gather(*(host(u) for u in urls_by_host.values()))
        return time.perf_counter() - start, total


def fetch_all(urls: list[str]) -> tuple[float, int]:
    """Wall seconds and bytes of fetching `urls`, one request at a time per host, all hosts at once."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for u in urls:
        by_host[urlsplit(u).netloc].append(u)
    return asyncio.run(_fetch_all(by_host))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        fetch_all([line.strip() for line in f if line.strip()])
