"""A preview window (OpenCV highgui) that also reads the keys that switch the effect.

OpenCV's window code aborts the whole process, uncatchably, when it cannot reach a display. So
nothing here touches highgui before :func:`display_available` said yes: on Linux it needs
``DISPLAY`` or ``WAYLAND_DISPLAY``, and then a throw-away child process opens and closes a window
to prove the display answers. Without a display the sink is not opened and says why.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

import numpy as np

from ..types import Frame, StreamInfo
from .base import LiveSink
from .vcam import as_rgb

KEYS_HELP = "b blur, r next background, g green, t transparent, q quit"

_PROBE = "import cv2; cv2.namedWindow('livematte-probe'); cv2.waitKey(1); cv2.destroyAllWindows()"
_checked: Optional[str] = None


def display_problem() -> Optional[str]:
    """None when a window can be shown, else why not (checked once per process)."""
    global _checked
    if _checked is not None:
        return _checked or None
    problem = ""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        problem = "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    elif sys.platform.startswith("linux"):
        try:
            done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, timeout=10)
            if done.returncode != 0:
                problem = f"the display {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')} does not answer"
        except (OSError, subprocess.TimeoutExpired):
            problem = "the display does not answer"
    _checked = problem
    return problem or None


def display_available() -> bool:
    return display_problem() is None


class PreviewSink(LiveSink):
    """Shows each picture in a window; keys pressed in it are collected for :meth:`take_keys`.

    ``open`` raises nothing when there is no display: ``available`` becomes False, ``problem``
    says why, and ``write`` does nothing. Transparent pictures are shown over a checkerboard.
    """

    def __init__(self, title: str = "livematte"):
        self.title = title
        self.available = False
        self.problem: Optional[str] = None
        self.closed_by_user = False
        self._keys: List[str] = []

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        self.problem = display_problem()
        if self.problem is not None:
            return
        import cv2

        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        cv2.resizeWindow(self.title, int(info.width), int(info.height))
        self.available = True

    def write(self, picture: np.ndarray, frame: Optional[Frame] = None) -> None:
        if not self.available:
            return
        import cv2

        cv2.imshow(self.title, cv2.cvtColor(as_rgb(picture), cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        if key != -1 and 0 <= (key & 0xFF) < 128:
            self._keys.append(chr(key & 0xFF).lower())
        try:
            if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:  # closed with the mouse
                self.closed_by_user = True
                self._keys.append("q")
        except cv2.error:
            pass

    def take_keys(self) -> List[str]:
        """Keys pressed since the last call, lower-case, oldest first."""
        keys, self._keys = self._keys, []
        return keys

    def close(self) -> None:
        if self.available:
            import cv2

            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
            self.available = False

    def describe(self) -> str:
        return f"preview window ({KEYS_HELP})" if self.problem is None else f"preview skipped: {self.problem}"
