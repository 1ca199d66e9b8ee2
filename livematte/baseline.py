"""The naive recipe most peer tools use, written here as the baseline livematte is measured against
(``livematte bench --baseline``, ``livematte eval --baseline``): the MediaPipe selfie model once on
the whole frame, a bilinear upsample, a hard threshold, a small dilation, a feather, and a blur of
the background blended in. No crop, no refinement, no smoothing.
"""
from __future__ import annotations

import cv2
import numpy as np

from .types import Frame

#: the recipe's knobs, scaled to a 720-line frame: threshold, dilation radius, feather sigma, blur sigma
THRESHOLD, DILATE, FEATHER, BLUR = 0.5, 2, 3.0, 12.0


class NaiveMatter:
    """``NaiveMatter()(frame) -> alpha`` float32 ``(H, W)``: the baseline recipe's matte."""

    def __init__(self, threads: int = 1):
        from .models.selfie import SelfieSegmenter

        self.model = SelfieSegmenter("selfie", runtime="litert", threads=threads)

    def __call__(self, frame) -> np.ndarray:
        image = frame.image if isinstance(frame, Frame) else frame
        H, W = image.shape[:2]
        prob = cv2.resize(self.model.predict(image), (W, H), interpolation=cv2.INTER_LINEAR)
        s = H / 720
        mask = (prob >= THRESHOLD).astype(np.uint8)
        r = max(1, round(DILATE * s))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), FEATHER * s)

    def reset(self) -> None:
        """Stateless."""


class NaiveBlur:
    """The recipe's effect: the frame blurred at half size, the person blended over it."""

    alpha = False

    def apply(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        H, W = image.shape[:2]
        small = cv2.resize(image, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
        bg = cv2.resize(cv2.GaussianBlur(small, (0, 0), BLUR * H / 720 / 2), (W, H), interpolation=cv2.INTER_LINEAR)
        return cv2.blendLinear(image, bg, alpha, 1.0 - alpha)

    def reset(self) -> None:
        """Stateless."""
