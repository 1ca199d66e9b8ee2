"""``livematte serve``: a local HTTP API for still images (:mod:`.app`, :mod:`.params`, :mod:`.pool`).

:func:`make_server` builds the uvicorn server (the models load first, once per worker);
``server.run()`` serves until stopped.
"""
from __future__ import annotations

from typing import Optional

from .app import Limits, build_app
from .pool import JobPool, default_workers

__all__ = ["JobPool", "Limits", "build_app", "default_workers", "make_server"]


def make_server(cfg, *, host: str = "127.0.0.1", port: int = 8770, workers: Optional[int] = None,
                limits: Limits = Limits(), log_level: str = "warning", fast: bool = False):
    """A ``uvicorn.Server`` for the API with ``workers`` jobs of ``cfg`` (default: one per core).
    ``fast``: the video path's matter per image instead of the full-quality still path (about
    twice the requests per second, BENCHMARKS.md)."""
    import uvicorn

    from ..stills import StillJob

    def make_job():
        if not fast:
            return StillJob(cfg)
        from ..engine import resolve_engine
        from ..matter import Matter

        return StillJob(cfg, matter=Matter(None, cfg, engine=resolve_engine(cfg.model.engine, cfg.model.device),
                                           output="engine"))

    pool = JobPool(make_job, workers or default_workers(), timeout=limits.timeout)
    config = uvicorn.Config(build_app(pool, limits), host=host, port=port, log_level=log_level,
                            timeout_keep_alive=5, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    server.pool = pool
    return server
