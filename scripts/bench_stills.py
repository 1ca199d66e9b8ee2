"""Speed of the image command and of ``livematte serve`` (BENCHMARKS.md, issue #14).

    python scripts/bench_stills.py batch PHOTO --size 1920x1080 [-n 10]   # warm seconds per image, in a batch
    python scripts/bench_stills.py batch PHOTO --size 4000x3000 -n 3      # and the process's peak memory
    python scripts/bench_stills.py batch PHOTO --size 4000x3000 -n 3 --fine-edges
    python scripts/bench_stills.py serve PHOTO --size 1920x1080 [-n 40] [--clients 4] [--fast] [--format png]
    ... --code ../main                                                      # another checkout's code (before / after)

PHOTO is scaled to cover ``--size`` (a real photo, not a pattern). ``batch`` runs ``livematte
image DIR -o OUT``'s job in this process: one image first (the model loads), then ``n`` more
copies, timed from the first read to the last write (warm seconds per image); ``serve`` starts
the server on 127.0.0.1 and sends ``n`` requests from ``clients`` concurrent clients. One JSON line on stdout; the load average is in it (the machine is shared),
and the process's CPU seconds per image or request (a bound that holds under load: on an idle
machine the wall time per image is at most that, as long as one of its threads runs at any time).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import threading
import time

import cv2
import numpy as np



def _code_path() -> str:
    """The livematte measured: ``--code DIR`` (another checkout, for before/after in one run), else this checkout's."""
    if "--code" in sys.argv:
        return os.path.abspath(sys.argv[sys.argv.index("--code") + 1])
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


sys.path.insert(0, _code_path())


def photo_at(path: str, size: str) -> np.ndarray:
    """BGR ``(H, W, 3)``: ``path`` scaled to cover ``size`` and cut to it."""
    w, h = (int(v) for v in size.split("x"))
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        sys.exit(f"{path}: not an image")
    s = max(w / image.shape[1], h / image.shape[0])
    image = cv2.resize(image, (round(image.shape[1] * s), round(image.shape[0] * s)), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return np.ascontiguousarray(image[y0:y0 + h, x0:x0 + w])


def bench_batch(args) -> dict:
    from livematte.config import Config
    from livematte.stills import StillJob, plan, run_items

    folder = tempfile.mkdtemp()
    for i in range(args.n + 1):
        cv2.imwrite(os.path.join(folder, f"p{i:03d}.jpg"), photo_at(args.photo, args.size), [cv2.IMWRITE_JPEG_QUALITY, 92])
    items = plan([folder], os.path.join(folder, "out"), fmt=args.format)
    cfg = Config()
    if args.fine_edges:
        cfg.override("quality", fine_edges=True)
    job = StillJob(cfg)
    t = time.perf_counter()
    run_items(job, items[:1])  # the first image: the model loads, numba compiles (--fine-edges)
    first = time.perf_counter() - t
    # the warm batch: n images start to end (reading, matting and writing overlap where the code
    # overlaps them), per image; and the process's CPU seconds per image over the same span
    t, c = time.perf_counter(), time.process_time()
    stats = run_items(job, items[1:])
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert not stats.failed, stats.failed
    return {"what": "batch", "size": args.size, "format": args.format, "fine_edges": args.fine_edges, "images": args.n,
            "first_s": round(first, 3), "warm_s_per_image": round(wall / args.n, 3),
            "cpu_s_per_image": round(cpu / args.n, 3),
            "stage_ms": stats.reports[-1]["timings_ms"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def bench_serve(args) -> dict:
    import httpx

    from livematte.config import Config
    from livematte.serve import make_server

    server = make_server(Config(), port=0, workers=args.workers, fast=args.fast)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    query = "format=png" if args.format == "png" else f"background=white&format={args.format}"  # PNG: a cut-out
    url = f"http://127.0.0.1:{port}/remove?{query}"
    body = cv2.imencode(".jpg", photo_at(args.photo, args.size), [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    latencies = []

    async def client(c, count):
        for _ in range(count):
            t = time.perf_counter()
            r = await c.post(url, content=body)
            assert r.status_code == 200, r.text
            latencies.append(time.perf_counter() - t)

    async def run():
        async with httpx.AsyncClient(timeout=120) as c:
            await client(c, args.clients)  # warm every worker
            latencies.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            per = args.n // args.clients
            await asyncio.gather(*[client(c, per) for _ in range(args.clients)])
            return time.perf_counter() - t0, time.process_time() - c0

    wall, cpu = asyncio.run(run())
    server.should_exit = True
    thread.join(10)
    lat = sorted(latencies)
    return {"what": "serve", "size": args.size, "query": query, "fast": args.fast, "clients": args.clients, "workers": server.pool.workers,
            "requests": len(lat), "requests_per_s": round(len(lat) / wall, 2),
            "p50_s": round(lat[len(lat) // 2], 3), "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3),
            # the process's CPU seconds per request (server and client threads): 2 cores serve at
            # most 2 / this many requests per second
            "cpu_s_per_request": round(cpu / len(lat), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["batch", "serve"])
    p.add_argument("photo")
    p.add_argument("--size", default="1920x1080")
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--format", default="png")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--fast", action="store_true", help="serve: the video path's matter (livematte serve --fast)")
    p.add_argument("--fine-edges", action="store_true", help="batch: with --fine-edges (pymatting)")
    p.add_argument("--code", metavar="DIR", help="measure the livematte of another checkout (before / after)")
    args = p.parse_args()
    result = bench_batch(args) if args.what == "batch" else bench_serve(args)
    import livematte

    result["code"] = os.path.dirname(os.path.dirname(livematte.__file__))
    result["load_average"] = [round(v, 1) for v in os.getloadavg()]
    result["cores"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
