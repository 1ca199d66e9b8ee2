"""A thread that handles queued items in order: the file pipeline's stages and live recordings."""
from __future__ import annotations

import queue
import threading
from typing import Callable, Optional

END = object()  #: put this on ``q`` to end the worker after what is queued


class Worker(threading.Thread):
    """Calls ``handle(item)`` for each item put on ``q`` until :data:`END`.

    The first error is kept in ``error`` (the owner raises or reports it); later items are drained
    unhandled, so a producer blocked on a full queue is never stuck.
    """

    def __init__(self, name: str, depth: int, handle: Callable[[object], None]):
        super().__init__(daemon=True, name=name)
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.handle = handle
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        while True:
            item = self.q.get()
            if item is END:
                return
            if self.error is None:
                try:
                    self.handle(item)
                except BaseException as err:
                    self.error = err
