"""``livematte serve``: a local HTTP API for still images (:mod:`.app`, :mod:`.params`, :mod:`.pool`).

:func:`make_server` builds the uvicorn server (the models load first, once per worker);
``server.run()`` serves until stopped.
"""
from __future__ import annotations

from typing import Optional

from .app import Limits, build_app
from .pool import JobPool, default_workers

__all__ = ["JobPool", "Limits", "build_app", "default_workers", "make_server"]


def make_server(cfg, *, host: str = "127.0.0.1", port: int = 8765, workers: Optional[int] = None,
                limits: Limits = Limits(), log_level: str = "warning"):
    """A ``uvicorn.Server`` for the API with ``workers`` jobs of ``cfg`` (default: one per core)."""
    import uvicorn

    from ..stills import StillJob

    pool = JobPool(lambda: StillJob(cfg), workers or default_workers(), timeout=limits.timeout)
    config = uvicorn.Config(build_app(pool, limits), host=host, port=port, log_level=log_level,
                            timeout_keep_alive=5, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    server.pool = pool
    return server
