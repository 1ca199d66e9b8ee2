"""Smoothing across frames that removes flicker without trailing behind motion, and scene-cut detection.

:class:`MotionSmoother` blends each new alpha with the previous output, per pixel, with a weight that
is high only where the **picture** did not change: a still background or a still person keeps a steady
edge, while wherever something moved the new alpha is taken as it is (no ghost behind a fast hand).
:class:`SceneCutDetector` says when the picture changed as a whole (colour histograms differ), so the
matter can forget everything carried across frames.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from .upsample import sample_nearest


class SceneCutDetector:
    """Flags a cut when the colour histograms of consecutive thumbnails differ strongly.

    Args:
        threshold: Bhattacharyya distance (0 same, 1 disjoint) above which a cut is declared.
        bins: histogram bins per channel.
    """

    def __init__(self, threshold: float = 0.35, bins: int = 16):
        self.threshold, self.bins = threshold, bins
        self.reset()

    def reset(self) -> None:
        self._prev: Optional[np.ndarray] = None

    def __call__(self, thumb: np.ndarray) -> bool:
        """Feed one thumbnail (uint8 ``(h, w, 3)``); True when it starts a new scene (False on the first)."""
        hists = [cv2.calcHist([thumb], [c], None, [self.bins], [0, 256]) for c in range(3)]
        hist = np.concatenate(hists).astype(np.float32)  # (3 * bins, 1)
        hist /= max(float(hist.sum()), 1.0)
        prev, self._prev = self._prev, hist
        if prev is None:
            return False
        return cv2.compareHist(prev, hist, cv2.HISTCMP_BHATTACHARYYA) > self.threshold


class MotionSmoother:
    """Motion-aware recursive smoothing of alpha.

    ``out = w * previous_out + (1 - w) * alpha`` per pixel, with
    ``w = strength * exp(-motion / noise) * exp(-|previous_out - alpha| / jump)``
    where ``motion`` is the local mean absolute brightness change between this frame and the last
    (on a small grid, in 8-bit levels). A pixel that did not change keeps most of its past (flicker is
    averaged away); a pixel where the picture moved takes the new alpha at once.

    Args:
        strength: the largest weight of the past, in [0, 1); 0 disables smoothing.
        noise: brightness change (8-bit levels) at which the weight has fallen to 1/e of ``strength``.
        mode: ``motion`` (as above) or ``ema`` (a plain average with constant weight ``strength``).
        jump: alpha change at which the weight falls by a further 1/e (0: off). Where the person and
            the background have the same brightness the picture shows no motion, yet alpha jumps
            from 1 to 0 as the person leaves: without this the old alpha lingers as a ghost band.
        sure: the past counts fully only where the new alpha lies within ``[sure, 1 - sure]``; its
            weight falls to 0 as the new alpha reaches 0 or 1 (0: off). Flicker at the edge (alpha
            near 0.5 flipping) is still averaged; a ghost fading where the model is now certain is not.
    """

    def __init__(self, strength: float = 0.5, noise: float = 4.0, mode: str = "motion", jump: float = 0.3,
                 sure: float = 0.0):
        self.strength, self.noise, self.mode, self.jump, self.sure = strength, noise, mode, jump, sure
        self.reset()

    def reset(self) -> None:
        """Forget the past (new source, seek, scene cut)."""
        self._alpha: Optional[np.ndarray] = None  # float32 (H, W) last output
        self._grey: Optional[np.ndarray] = None  # float32 (h, w) last small brightness

    def weight(self, grey_small: np.ndarray) -> Optional[np.ndarray]:
        """Per-pixel weight of the past on the small grid (float32 ``(h, w)``), None on a first frame."""
        g = grey_small.astype(np.float32)
        prev, self._grey = self._grey, g
        if prev is None or prev.shape != g.shape:
            return None
        if self.mode == "ema":
            return np.full(g.shape, self.strength, np.float32)
        diff = cv2.absdiff(g, prev)
        k = max(3, (min(g.shape) // 32) | 1)  # average the change over a small neighbourhood
        diff = cv2.blur(diff, (k, k))
        return (np.float32(self.strength) * np.exp(-diff / np.float32(self.noise))).astype(np.float32)

    def __call__(self, alpha: np.ndarray, grey_small: np.ndarray) -> np.ndarray:
        """Smooth one alpha float32 ``(H, W)`` **in place** and return it; ``grey_small`` is the
        frame's brightness on a small grid (uint8 ``(h, w)``, same grid every frame). The result is
        kept as the next frame's past and marked read-only: callers must not write into it.

        Full-resolution work is limited to the box of small-grid cells where the past still counts
        (weight >= ``MIN_WEIGHT``): with ``sure`` on that is the uncertain band around the person,
        not the whole frame. Elsewhere the new alpha is kept as it is (a change below 1e-3).
        """
        if not alpha.flags.writeable:
            alpha = alpha.copy()
        w = self.weight(grey_small)
        if w is None or self.strength <= 0 or self._alpha is None or self._alpha.shape != alpha.shape:
            return self._keep(alpha)
        H, W = alpha.shape
        h, w_ = w.shape
        prev = self._alpha
        if self.mode == "motion" and (self.jump > 0 or self.sure > 0):
            small = sample_nearest(alpha, (h, w_))  # (h, w) samples
            if self.jump > 0:
                # a large change of alpha is real (motion the picture hid), not flicker: judged on the
                # small grid (sampled, then averaged over 3x3 cells), where it is cheap
                past = sample_nearest(prev, (h, w_))
                change = cv2.blur(cv2.absdiff(past, small), (3, 3))
                w *= np.exp(change * np.float32(-1.0 / self.jump))
            if self.sure > 0:
                w *= sure_weight(small, self.sure)
        box = _box_of(w >= MIN_WEIGHT, (H, W))
        if box is not None:
            (sy0, sy1, sx0, sx1), (y0, y1, x0, x1) = box
            weight = cv2.resize(w[sy0:sy1, sx0:sx1], (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            region = alpha[y0:y1, x0:x1]
            diff = np.subtract(prev[y0:y1, x0:x1], region)  # (y1-y0, x1-x0)
            diff *= weight
            region += diff
        return self._keep(alpha)

    def _keep(self, alpha: np.ndarray) -> np.ndarray:
        alpha.flags.writeable = False  # kept as the next frame's past: callers must not write into it
        self._alpha = alpha
        return alpha


def sure_weight(small: np.ndarray, sure: float) -> np.ndarray:
    """float32 ``(h, w)`` factor of the past's weight from the new alpha's certainty, given the new
    alpha sampled on the small grid (``small`` float32 ``(h, w)``): 1 where it lies in
    ``[sure, 1 - sure]`` in the cell or one of its 8 neighbours, falling to 0 where it is 0 or 1 all
    around (a ghost fading where the model is now certain is dropped at once)."""
    c = np.subtract(np.float32(1.0), small)
    c *= small
    c *= np.float32(1.0 / (sure * (1.0 - sure)))
    np.minimum(c, np.float32(1.0), out=c)
    return cv2.dilate(c, np.ones((3, 3), np.uint8))


#: the smallest weight of the past that is applied (below it the change is < 1e-3 of a unit)
MIN_WEIGHT = 1e-3


def _box_of(mask: np.ndarray, full_hw: Tuple[int, int]):
    """The bounding box of ``mask`` bool ``(h, w)`` grown by 2 cells, on the small grid and scaled to a
    frame of ``full_hw`` = ``(H, W)``: ``((sy0, sy1, sx0, sx1), (y0, y1, x0, x1))``, or None if empty.

    Two cells of zero weight around the box make the bilinear upsampling of the box alone equal
    to that of the whole grid inside it (up to the sampling offset of a non-integer scale)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    H, W = full_hw
    sy0, sy1 = max(0, rows[0] - 2), min(h, rows[-1] + 3)
    sx0, sx1 = max(0, cols[0] - 2), min(w, cols[-1] + 3)
    y0, y1 = sy0 * H // h, -(-sy1 * H // h)
    x0, x1 = sx0 * W // w, -(-sx1 * W // w)
    return (sy0, sy1, sx0, sx1), (y0, y1, x0, x1)

