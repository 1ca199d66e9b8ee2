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


def sample_nearest(a: np.ndarray, size: tuple) -> np.ndarray:
    """``cv2.resize(a, INTER_NEAREST)`` to ``size`` = ``(h, w)``: a strided copy when the ratio is whole
    (the same pixels, without reading the whole frame), else the resize.

    >>> sample_nearest(np.arange(16, dtype=np.float32).reshape(4, 4), (2, 2)).tolist()
    [[0.0, 2.0], [8.0, 10.0]]
    """
    h, w = size
    H, W = a.shape[:2]
    if H % h == 0 and W % w == 0:
        return np.ascontiguousarray(a[:: H // h, :: W // w])
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST)
