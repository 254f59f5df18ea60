"""Many requests at once: `iter_fetch` and `fetch_all` hand back each result as soon as it arrives, with a
bounded number of fetches started ahead."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable

from .fetch import Fetcher, FetchRequest, FetchResult


async def iter_fetch(
    fetcher: Fetcher, requests: Iterable[FetchRequest], *, pending: int | None = None
) -> AsyncGenerator[FetchResult, None]:
    """Fetch `requests` concurrently and yield each result as soon as it is ready (completion order).

    At most `pending` fetches are started ahead (default: twice the fetcher's concurrency), so a long
    list does not become thousands of waiting tasks. Leaving the loop early cancels what is still
    running; wrap the iterator in `contextlib.aclosing` to make that happen at once.
    """
    limit = pending or 2 * fetcher.settings.concurrency
    todo = iter(requests)
    running: set[asyncio.Task[FetchResult]] = set()

    def refill() -> None:
        while len(running) < limit:
            request = next(todo, None)
            if request is None:
                return
            running.add(asyncio.create_task(fetcher.fetch(request)))

    try:
        refill()
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.difference_update(done)
            refill()
            for task in done:
                yield task.result()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def fetch_all(
    fetcher: Fetcher,
    requests: Iterable[FetchRequest],
    on_result: Callable[[FetchResult], Awaitable[None] | None],
) -> None:
    """Fetch `requests` concurrently and call `on_result(result)` for each as soon as it arrives.

    `on_result` may be a plain or an async function; it is called one result at a time, so it can write
    to a database session without locking. If it raises, the fetches still running are cancelled and
    the exception propagates.
    """
    async with contextlib.aclosing(iter_fetch(fetcher, requests)) as results:
        async for result in results:
            outcome = on_result(result)
            if inspect.isawaitable(outcome):
                await outcome
