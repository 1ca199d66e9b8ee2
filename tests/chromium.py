"""Headless Chromium driven over the DevTools protocol (for the overlay test and the docs screenshots).

Starts ``chromium --headless`` on a fresh profile with networking features off, finds the page
target, and talks CDP through a ``websockets.sync.client`` connection.
"""
from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Optional

import cv2
import numpy as np

from websockets.sync.client import connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"]


def find_chromium() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """``with Chromium(url, (w, h)) as c: png = c.screenshot()`` -- RGBA ``(h, w, 4)`` with real transparency."""

    def __init__(self, url: str, size=(640, 360), timeout: float = 20.0):
        binary = find_chromium()
        if binary is None:
            raise RuntimeError("chromium not installed")
        self.profile = tempfile.mkdtemp(prefix="livematte-chromium-")
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={size[0]},{size[1]}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._ids = itertools.count(1)
        self.timeout = timeout
        self.cdp = None
        self._stack = contextlib.ExitStack()
        try:
            port = self._devtools_port(timeout)
            deadline = time.monotonic() + timeout
            while True:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.cdp = self._stack.enter_context(connect(  # a DevTools screenshot of a 4K page fits in max_size
                pages[0]["webSocketDebuggerUrl"], open_timeout=timeout, max_size=64 << 20, compression=None))
            self.call("Emulation.setDefaultBackgroundColorOverride", color={"r": 0, "g": 0, "b": 0, "a": 0})
            self.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
                      mobile=False)
            self.call("Page.navigate", url=url)
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                return int(m.group(1))
        raise RuntimeError("chromium did not start: " + "".join(lines[-5:]))

    def call(self, method: str, **params):
        """Send one CDP command and return its result (events in between are skipped)."""
        ident = next(self._ids)
        self.cdp.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            reply = json.loads(self.cdp.recv(self.timeout))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self) -> np.ndarray:
        """The page as RGBA uint8 ``(H, W, 4)``; alpha 0 where nothing is drawn."""
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if bgra.ndim == 3 and bgra.shape[2] == 3:
            bgra = cv2.cvtColor(bgra, cv2.COLOR_BGR2BGRA)
        return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)

    def close(self) -> None:
        self._stack.close()
        self.cdp = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
