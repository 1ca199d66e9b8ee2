"""The shared step that brings a model-resolution probability map to frame resolution."""
from __future__ import annotations

import cv2
import numpy as np


def upsample(prob: np.ndarray, size: tuple) -> np.ndarray:
    """Resize ``prob`` float32 ``(h, w)`` to ``size`` = ``(H, W)`` bilinearly (MediaPipe's own resize).

    >>> upsample(np.ones((2, 2), np.float32), (4, 6)).shape
    (4, 6)
    """
    H, W = size
    if prob.shape == (H, W):
        return prob
    return cv2.resize(prob, (W, H), interpolation=cv2.INTER_LINEAR)
