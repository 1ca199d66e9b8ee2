"""``livematte serve``: the local HTTP API for still images (:mod:`livematte.serve`)."""
from __future__ import annotations

import sys

from .common import add_processing_args, config_from_args, positive

SERVE_HELP = "serve a local HTTP API: POST an image to /remove, get the cut-out back"


def cmd_serve(args) -> int:
    from ..serve import Limits, make_server
    from ..types import LivematteError

    try:
        import uvicorn  # noqa: F401
        import starlette  # noqa: F401
    except ImportError:
        raise LivematteError("livematte serve needs its extra: pip install 'livematte[serve]'") from None
    cfg = config_from_args(args)
    host = args.host or ("0.0.0.0" if args.allow_remote else "127.0.0.1")
    if not args.allow_remote and host not in ("127.0.0.1", "localhost", "::1"):
        raise LivematteError(f"--host {host}: listening beyond this machine needs --allow-remote")
    limits = Limits(max_body=int(args.max_body_mb * (1 << 20)), max_pixels=int(args.max_megapixels * 1e6),
                    timeout=args.timeout)
    server = make_server(cfg, host=host, port=args.port, workers=args.workers, limits=limits, fast=args.fast)
    print(f"livematte: serving on http://{host}:{args.port} ({server.pool.workers} workers, model "
          f"{cfg.model.name}); POST /remove, GET /health; Ctrl-C stops", file=sys.stderr, flush=True)
    server.run()
    return 0


def add_serve(sub) -> None:
    """``livematte serve [--port P] [--allow-remote]``."""
    s = sub.add_parser("serve", help=SERVE_HELP, description=SERVE_HELP + ".")
    s.add_argument("--port", type=int, default=8770, help="TCP port (default 8770)")
    s.add_argument("--allow-remote", action="store_true", help="listen on every interface (default: 127.0.0.1 only)")
    s.add_argument("--host", help="the address to listen on (beyond 127.0.0.1 only with --allow-remote)")
    s.add_argument("--workers", type=positive(int), help="images processed at once (default: one per core)")
    s.add_argument("--max-body-mb", type=positive(float), default=32.0, help="largest request body (default 32 MB)")
    s.add_argument("--max-megapixels", type=positive(float), default=40.0,
                   help="largest image, read from its header before decoding (default 40 MP)")
    s.add_argument("--timeout", type=positive(float), default=30.0, help="seconds per request (default 30)")
    s.add_argument("--fast", action="store_true",
                   help="the video path's matte per image (about twice the requests per second; less fine edges)")
    add_processing_args(s)
    s.set_defaults(func=cmd_serve)
