"""Edge refinement at full resolution: a fast guided filter (He & Sun, 2015) guided by the picture.

The segmenter's probability lives on its own small grid (256x256 over the full frame or over the
subject crop). Upsampling it bilinearly gives a blurred edge. The guided filter instead fits, in every
small window of the model grid, a linear model ``alpha ~ a * I + b`` of the probability against the
picture's brightness ``I``; the coefficients are smooth, so they are computed on the model grid and only
upsampled, then applied to the **full-resolution** brightness: the edge then follows the picture's own
edges at full resolution. Full-resolution cost: two bilinear resizes and one multiply-add.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np


def guided_coefficients(guide: np.ndarray, prob: np.ndarray, radius: int, eps: float) -> Tuple[np.ndarray, np.ndarray]:
    """Window-averaged guided-filter coefficients on the model grid.

    Args:
        guide: float32 ``(h, w)`` brightness in [0, 1], same grid as ``prob``.
        prob: float32 ``(h, w)`` probability to refine.
        radius: window radius in grid pixels.
        eps: regularisation; larger keeps more of ``prob``, smaller follows the picture more.

    Returns:
        ``(a, b)`` float32 ``(h, w)`` each, so that ``a * guide + b`` is the filtered probability.
    """
    k = (2 * radius + 1, 2 * radius + 1)
    box = lambda x: cv2.boxFilter(x, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_i = box(guide)
    mean_p = box(prob)
    cov_ip = box(guide * prob) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + np.float32(eps))
    b = mean_p - a * mean_i
    return box(a), box(b)


class GuidedRefiner:
    """Refines a model-grid probability into a full-resolution alpha guided by the picture.

    Args:
        radius: window radius on the model grid (the model's 256 grid: 2 means a 5x5 window).
        eps: regularisation (brightness in [0, 1]); see :func:`guided_coefficients`.
        keep: how much of the model's own probability the offset keeps, in [0, 1]. The classic
            filter (0) uses the window mean ``b = mean(p) - a * mean(I)``; where the picture is flat
            (``a ~ 0``) that is a box blur of the probability, twice over, which shows as a soft glow
            several model cells wide around the person. With 1 the offset is ``b = p - a * I`` on
            the model grid: the output equals the model's probability on its grid, and the guide
            adds only the picture's detail between grid points (no glow on flat backgrounds).

    >>> r = GuidedRefiner()
    >>> lo = np.zeros((16, 16), np.uint8); lo[:, 8:] = 255
    >>> hi = np.zeros((64, 64), np.uint8); hi[:, 32:] = 255
    >>> alpha = r(lo, (lo / 255).astype(np.float32), hi)
    >>> alpha.shape, float(alpha[0, 31]) < 0.1 < 0.9 < float(alpha[0, 32])
    ((64, 64), True)
    """

    def __init__(self, radius: int = 2, eps: float = 1e-3, keep: float = 1.0):
        self.radius, self.eps, self.keep = radius, eps, keep

    def __call__(self, guide_lo: np.ndarray, prob: np.ndarray, guide_hi: np.ndarray) -> np.ndarray:
        """Refine one region.

        Args:
            guide_lo: uint8 ``(h, w)`` brightness of the region on the model grid (the model's input).
            prob: float32 ``(h, w)`` probability on the same grid.
            guide_hi: uint8 ``(H, W)`` brightness of the same region at full resolution.

        Returns:
            alpha float32 ``(H, W)``, in [0, 1] up to a small overshoot at edges (clip it).
        """
        g = guide_lo.astype(np.float32) * np.float32(1 / 255)
        a, b = guided_coefficients(g, prob, self.radius, self.eps)
        if self.keep > 0:
            b = b + np.float32(self.keep) * ((prob - a * g) - b)
        H, W = guide_hi.shape[:2]
        a = cv2.resize(a * np.float32(1 / 255), (W, H), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, (W, H), interpolation=cv2.INTER_LINEAR)
        out = cv2.multiply(guide_hi, a, dtype=cv2.CV_32F)
        return cv2.add(out, b)  # may overshoot [0, 1] slightly at edges: callers clip once, last


def upsample_region(prob: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Plain bilinear resize of ``prob`` float32 ``(h, w)`` to ``size`` = ``(H, W)`` (refine ``none``)."""
    H, W = size
    return cv2.resize(prob, (W, H), interpolation=cv2.INTER_LINEAR)


def clip01(x: np.ndarray) -> np.ndarray:
    """Clip float32 ``x`` to [0, 1] in place and return it (two cv2 thresholds: ~8x faster than
    ``np.clip`` here; NaN is not expected)."""
    if not x.flags.c_contiguous:  # cv2 would write into a copy
        return np.clip(x, 0.0, 1.0, out=x)
    cv2.threshold(x, 1.0, 1.0, cv2.THRESH_TRUNC, dst=x)
    cv2.threshold(x, 0.0, 0.0, cv2.THRESH_TOZERO, dst=x)
    return x
