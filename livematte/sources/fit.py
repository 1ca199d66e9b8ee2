"""Fitting frames of another size into a sequence's size (a folder of frames that mixes sizes)."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional, Tuple

import cv2
import numpy as np

from ..types import Frame


def letterbox(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """RGB uint8 ``(h, w, 3)`` scaled to fit inside ``size`` = (W, H), keeping its aspect, centred
    on black: ``(H, W, 3)``."""
    w_out, h_out = size
    h, w = image.shape[:2]
    scale = min(w_out / w, h_out / h)
    w_fit, h_fit = max(1, min(w_out, round(w * scale))), max(1, min(h_out, round(h * scale)))
    resized = cv2.resize(image, (w_fit, h_fit), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((h_out, w_out, 3), np.uint8)
    top, left = (h_out - h_fit) // 2, (w_out - w_fit) // 2
    out[top:top + h_fit, left:left + w_fit] = resized
    return out


class SizeFitter:
    """Makes every frame ``size`` = (W, H) (the first frame's): others are letterboxed into it.

    ``note`` says once, after the frames, how many were fitted (None when none was).
    """

    def __init__(self, size: Tuple[int, int], name: str):
        self.size, self.name, self.fitted = size, name, 0
        self._first_other: Optional[Tuple[int, int]] = None

    def __call__(self, frame: Frame) -> Frame:
        h, w = frame.image.shape[:2]
        if (w, h) == self.size:
            return frame
        self.fitted += 1
        if self._first_other is None:
            self._first_other = (w, h)
        return replace(frame, image=letterbox(frame.image, self.size))

    @property
    def note(self) -> Optional[str]:
        if not self.fitted:
            return None
        (w, h), (W, H) = self._first_other, self.size
        return (f"{self.name}: {self.fitted} frames differ in size from the first ({W}x{H}; "
                f"e.g. {w}x{h}); scaled and padded to it")
