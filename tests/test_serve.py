"""``livematte serve`` against a real uvicorn server on 127.0.0.1, with a real HTTP client (httpx)."""
from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
import time
import zlib

import cv2
import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from livematte.config import Config  # noqa: E402
from livematte.serve import Limits, make_server  # noqa: E402
from livematte.serve.pool import Busy, JobPool, TimedOut  # noqa: E402

from .helpers import sample_frame  # noqa: E402


@pytest.fixture(scope="module")
def photo_jpeg():
    rgb = cv2.resize(sample_frame(30), (640, 360), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


@pytest.fixture(scope="module")
def base():
    server = make_server(Config(), port=0, workers=2, limits=Limits(max_body=4 << 20, max_pixels=4_000_000))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    assert host == "127.0.0.1"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def decode(content: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)


def test_health(base):
    body = httpx.get(base + "/health").json()
    assert body["status"] == "ok" and body["workers"] == 2 and body["model"] == "selfie"


def test_remove_raw_and_multipart(base, photo_jpeg):
    r = httpx.post(base + "/remove", content=photo_jpeg, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    cut = decode(r.content)
    assert cut.shape == (360, 640, 4) and cut[:10, :10, 3].max() == 0 and cut[..., 3].max() == 255
    report = json.loads(r.headers["x-livematte-report"])
    assert report["subject"]["found"] and report["background"] == "transparent"
    r = httpx.post(base + "/remove?background=white&crop=face&zoom=0.5&width=96&height=96&fit=cover&format=jpg&shadow=1",
                   files={"image": ("a.jpg", photo_jpeg, "image/jpeg")}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
    assert decode(r.content).shape == (96, 96, 3)
    r = httpx.post(base + "/remove?format=webp", content=photo_jpeg, timeout=60)
    assert r.status_code == 200 and r.content[8:12] == b"WEBP"


def test_concurrent_clients(base, photo_jpeg):
    async def many():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*[client.post(base + "/remove?background=white", content=photo_jpeg)
                                          for _ in range(4)])

    replies = asyncio.run(many())
    assert [r.status_code for r in replies] == [200] * 4
    assert len({r.content for r in replies}) == 1  # the same picture from every worker


def _png_header(width, height):
    ihdr = struct.pack(">II5B", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def test_limits_and_bad_requests(base, photo_jpeg):
    cases = [
        (dict(content=b"x" * (5 << 20)), 413, "byte limit"),
        (dict(content=_png_header(30000, 30000) + b"\0" * 64), 413, "pixel limit"),  # a bomb, never decoded
        (dict(content=b"\0" * 64), 415, "unsupported image format"),  # no header we can size
        (dict(content=b""), 400, "no image"),
        (dict(content=photo_jpeg[:200]), 400, "not an image"),
        (dict(content=photo_jpeg, params={"background": "/etc/hostname"}), 400, "reads no files"),
        (dict(content=photo_jpeg, params={"url": "http://example.com/a.jpg"}), 400, "unknown parameter 'url'"),
        (dict(content=photo_jpeg, params={"crop": "face", "margin": "0.1"}), 400, "zoom= goes with crop=face"),
    ]
    for kwargs, status, needle in cases:
        r = httpx.post(base + "/remove", timeout=60, **kwargs)
        assert r.status_code == status and needle in r.text, (kwargs.get("params"), r.status_code, r.text)
    assert httpx.get(base + "/remove").status_code == 405


def test_nothing_to_cut_out_is_a_422_in_one_line(base, tmp_path, monkeypatch):
    """No person, no object model installed, no plain backdrop: 422 and what to install, no blank picture."""
    for var in ("LIVEMATTE_WEIGHTS", "U2NET_HOME", "REMBG_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var))
    rng = np.random.default_rng(1)
    busy = cv2.resize(rng.random((15, 20, 3)).astype(np.float32), (320, 240), interpolation=cv2.INTER_CUBIC)
    body = cv2.imencode(".png", (busy.clip(0, 1) * 255).astype(np.uint8))[1].tobytes()
    r = httpx.post(base + "/remove", content=body, timeout=60)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/plain")
    assert r.text.count("\n") == 1 and r.text.startswith("nothing to cut out: no person found") and "u2net" in r.text


def test_pool_times_out_and_gives_the_worker_back():
    pool = JobPool(lambda: object(), 1, timeout=0.2, queue_wait=0.1, max_waiting=1)

    async def scenario():
        with pytest.raises(TimedOut):
            await pool.run(lambda job: time.sleep(0.6))
        with pytest.raises(Busy):  # the slow work still holds the only worker
            await pool.run(lambda job: 1)
        await asyncio.sleep(0.6)
        return await pool.run(lambda job: 42)

    assert asyncio.run(scenario()) == 42
    pool.close()


def test_serve_refuses_a_wide_host_without_allow_remote(capsys):
    from livematte.cli import main

    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_report_header_is_json(base, photo_jpeg):
    r = httpx.post(base + "/remove?crop=subject&margin=0", content=photo_jpeg, timeout=60)
    report = json.loads(r.headers["x-livematte-report"])
    w, h = report["size"]["output"]
    assert decode(r.content).shape[:2] == (h, w) and report["crop"][2] - report["crop"][0] == w
    assert io.BytesIO(r.content).getbuffer().nbytes == int(r.headers["content-length"])


def test_fast_serves_the_video_path_and_the_default_the_still_path():
    from livematte.matter import Matter
    from livematte.still_matter import StillMatter

    fast = make_server(Config(), port=0, workers=1, fast=True).pool
    full = make_server(Config(), port=0, workers=1).pool
    assert type(fast.jobs[0].matter) is Matter and isinstance(full.jobs[0].matter, StillMatter)
    fast.close()
    full.close()
