"""A fixed pool of :class:`~livematte.stills.StillJob` workers for the server.

Each worker is one job (its model loaded once, at start) on one thread; a request waits for a
free worker (at most ``queue_wait`` seconds, and at most ``max_waiting`` requests wait), runs on
it, and gives it back when the work ends, even if the request has timed out meanwhile.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional


class Busy(Exception):
    """No worker became free in time, or too many requests wait already (HTTP 503)."""


class TimedOut(Exception):
    """The work ran past the request timeout (HTTP 504); the worker is given back when it ends."""


def default_workers() -> int:
    """One worker per core this process may use."""
    from ..sinks.png import usable_cores

    return usable_cores()


class JobPool:
    """``workers`` jobs made by ``make_job()``; :meth:`run` calls ``fn(job)`` on a free one."""

    def __init__(self, make_job: Callable[[], object], workers: int, *, timeout: float = 30.0,
                 queue_wait: float = 30.0, max_waiting: Optional[int] = None):
        self.workers = int(workers)
        self.timeout, self.queue_wait = float(timeout), float(queue_wait)
        self.max_waiting = 4 * self.workers if max_waiting is None else int(max_waiting)
        self.jobs: List[object] = [make_job() for _ in range(self.workers)]
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="livematte-serve")
        self._free: Optional[asyncio.Queue] = None
        self.waiting = 0
        self.busy = 0

    def _queue(self) -> asyncio.Queue:
        if self._free is None:  # made on the server's event loop
            self._free = asyncio.Queue()
            for job in self.jobs:
                self._free.put_nowait(job)
        return self._free

    async def run(self, fn: Callable[[object], object]):
        """``fn(job)`` on a worker thread; raises :class:`Busy` or :class:`TimedOut`."""
        free = self._queue()
        if free.empty() and self.waiting >= self.max_waiting:
            raise Busy(f"{self.waiting} requests are waiting already")
        self.waiting += 1
        try:
            job = await asyncio.wait_for(free.get(), self.queue_wait)
        except asyncio.TimeoutError:
            raise Busy(f"no worker was free within {self.queue_wait:g} s") from None
        finally:
            self.waiting -= 1
        self.busy += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, fn, job)

        def give_back(_):
            self.busy -= 1
            free.put_nowait(job)

        future.add_done_callback(give_back)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except asyncio.TimeoutError:
            raise TimedOut(f"the image took longer than {self.timeout:g} s") from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
