"""Make the pictures of docs/obs.md from real runs of `livematte cam` on samples/person.mp4.

    .venv/bin/python docs/img/make_obs_screenshots.py     # needs chromium (apt-get install -y chromium)

* obs-browser-source.png: the overlay page screenshotted in headless Chromium (transparent
  background), laid over a game-like backdrop as OBS would composite it.
* obs-browser-transparent.png: the same screenshot over a checkerboard (the transparency itself).
* obs-media-source-udp.png: a frame of `--to udp://` read back with PyAV (chroma fill).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
from tests.chromium import Chromium  # noqa: E402

PERSON = os.path.join(REPO, "samples", "person.mp4")
W, H = 640, 360


def port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def game_backdrop() -> np.ndarray:
    """RGB ``(H, W, 3)``: a sky, hills, a grid floor and a HUD, like game footage."""
    y = np.linspace(0, 1, H)[:, None, None]
    img = ((1 - y) * np.array([40, 60, 140]) + y * np.array([200, 120, 160])).repeat(W, 1).astype(np.uint8)
    xs = np.arange(W)
    hills = (H * 0.55 + 25 * np.sin(xs / 47.0) + 12 * np.sin(xs / 13.0)).astype(int)
    for x, top in zip(xs, hills):
        img[top:, x] = (30, 90, 60)
    for k in range(-20, 21):  # perspective grid
        cv2.line(img, (W // 2 + k * 12, int(H * 0.62)), (W // 2 + k * 90, H), (90, 220, 160), 1, cv2.LINE_AA)
    for r in range(8):
        yy = int(H * 0.62 + (H * 0.38) * (r / 8) ** 1.6)
        cv2.line(img, (0, yy), (W, yy), (90, 220, 160), 1, cv2.LINE_AA)
    cv2.rectangle(img, (12, 12), (182, 26), (255, 255, 255), 1)
    cv2.rectangle(img, (14, 14), (130, 24), (230, 60, 60), -1)
    cv2.putText(img, "SCORE 012450", (W - 190, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def checker() -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return np.where(((yy // 16 + xx // 16) % 2 == 0)[..., None], 200, 150).repeat(3, 2).astype(np.uint8)


def over(rgba: np.ndarray, bg: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:].astype(np.float32) / 255
    return (rgba[..., :3] * a + bg * (1 - a)).round().astype(np.uint8)


def save(name: str, rgb: np.ndarray) -> None:
    path = os.path.join(HERE, name)
    cv2.imwrite(path, rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(path, os.path.getsize(path) // 1024, "KB")


def browser() -> None:
    p = port()
    proc = subprocess.Popen([sys.executable, "-m", "livematte", "cam", "--source", PERSON, "--loop", "--size",
                             f"{W}x{H}", "--background", "transparent", "--to", f"http://127.0.0.1:{p}",
                             "--duration", "60"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        proc.stderr.readline()
        with Chromium(f"http://127.0.0.1:{p}/", (W, H)) as page:
            while page.evaluate("document.getElementById('out').width") != W:
                time.sleep(0.1)
            time.sleep(1.2)
            shot = page.screenshot()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    save("obs-browser-source.png", over(shot, game_backdrop()))
    save("obs-browser-transparent.png", over(shot, checker()))


def udp() -> None:
    import av

    p, got = port(socket.SOCK_DGRAM), []

    def read():
        with av.open(f"udp://127.0.0.1:{p}?timeout=8000000", format="mpegts", timeout=10) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i == 40:
                    got.append(f.to_ndarray(format="rgb24"))
                    return

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.3)
    subprocess.run([sys.executable, "-m", "livematte", "cam", "--source", PERSON, "--size", f"{W}x{H}",
                    "--background", "transparent", "--to", f"udp://127.0.0.1:{p}", "--frames", "60"],
                   cwd=REPO, check=True, stderr=subprocess.DEVNULL)
    t.join(20)
    save("obs-media-source-udp.png", got[0])


if __name__ == "__main__":
    browser()
    udp()
