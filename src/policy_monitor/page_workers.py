"""Reading fetched pages (normalise + extract facts) off the fetching process's back.

A few pages are read in a thread. A pass with many pages to read (a cold run, or pages whose bytes change on
every load) reads them in worker processes, one per core but the fetching process's own, so reading uses every
core while the fetches go on. The workers are forked from this process when it has a single thread: they then
share its memory (the interpreter and, with several workers, the reading code, imported once) and start in
milliseconds; a single worker imports the reading code itself while the first pages are fetched. A process
that already runs threads (the daemon, a test runner) starts them from a fork server instead, because forking
a process with threads can deadlock the child.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from .analyse import Analysis, FetchedPage, PageRules

log = logging.getLogger(__name__)


class Analyser:
    """Reads fetched pages: in a thread for a few pages, in worker processes once a pass has many."""

    POOL_AFTER = 16

    def __init__(self, expected: int = 0, checks: int = 0) -> None:
        """`expected`: pages likely to need reading (never read, or bytes that vary from load to load); many
        of them start the worker processes at once, so they are ready when the first pages arrive.
        `checks`: pages to fetch in the pass; many of them start forked workers at once too, as they cost
        next to nothing until a page arrives whose bytes changed."""
        self.workers = worker_count()
        self.pool: ProcessPoolExecutor | None = None
        self.count = 0
        self.expected = expected
        self.checks = checks

    async def __aenter__(self) -> Analyser:
        many = self.expected > self.POOL_AFTER
        if many or (self.checks > self.POOL_AFTER and can_fork()):
            try:
                pool = self._start(share=many and self.workers > 1)
                if pool is not None:
                    # start the worker processes now, and have them import the reading code while the first
                    # pages are fetched
                    pool.submit(_import_readers)
            except Exception as e:  # noqa: BLE001 - without workers, pages are read in this process
                log.warning("worker processes unavailable (%s); reading pages in this process", type(e).__name__)
                self.pool, self.workers = None, 0
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def analyse(self, page: FetchedPage, rules: PageRules, current_key: str | None = None) -> Analysis | str:
        """The analysis, or a one-line reason why the page could not be read."""
        from .analyse import analyse_fetched

        self.count += 1
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor(), analyse_fetched, page, rules, current_key)
        except Exception as e:  # noqa: BLE001 - no worker processes here: read pages in this process
            log.warning("worker processes unavailable (%s); reading pages in this process", type(e).__name__)
            self.pool, self.workers = None, 0
            future = loop.run_in_executor(None, analyse_fetched, page, rules, current_key)
        try:
            return await future
        except BrokenProcessPool:
            self.pool, self.workers = None, 0
            return await self.analyse(page, rules, current_key)
        except Exception as e:  # noqa: BLE001 - a page we cannot read is a failed check, not a failed run
            log.exception("could not read a page")
            return f"could not read the page ({type(e).__name__}: {e})"

    def _executor(self) -> ProcessPoolExecutor | None:
        if self.pool is None and self.count > self.POOL_AFTER:
            self._start()
        return self.pool

    def _start(self, share: bool = True) -> ProcessPoolExecutor | None:
        if self.workers:
            context = worker_context(share)
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_worker_start)
        return self.pool


def worker_count() -> int:
    """One worker process per core but one, at most 4: the fetching process (the event loop, the writer
    thread) keeps a core of its own busy, and a worker competing with it for that core delays its fetches
    and costs memory (on 2 cores, one worker instead of two: 8-12 MB less for the whole run). On one
    core there are none: pages are read in a thread."""
    cores = os.cpu_count() or 1
    return min(4, cores - 1)


def can_fork() -> bool:
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def worker_context(share: bool = True) -> BaseContext:
    """`fork` from a single-threaded process, `forkserver` (preloading the reading code once) otherwise.
    `share`: import the reading code before forking, so every worker shares it; without, a worker imports
    it when its first page arrives (a pass that may read no page at all pays nothing for it)."""
    if can_fork():
        if share:
            _import_readers()
        gc.freeze()  # the children's collections then leave what they share with us untouched (and shared)
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_reading_modules())
    return ctx


def _reading_modules() -> list[str]:
    from .analyse import READERS

    return ["policy_monitor.analyse", *READERS]


def _import_readers() -> None:
    """Import the reading code: before forking workers that share it, or in a worker of its own."""
    for name in _reading_modules():
        importlib.import_module(name)


def _worker_start() -> None:
    """A worker reads pages and nothing else: signals are the parent's business (a forked child would
    otherwise report them through the parent's event loop), and Ctrl-C stops the parent, which stops us."""
    if threading.current_thread() is threading.main_thread():
        signal.set_wakeup_fd(-1)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN if sig == signal.SIGINT else signal.SIG_DFL)
