"""Smoothing across frames that removes flicker without trailing behind motion, and scene-cut detection.

:class:`MotionSmoother` blends each new alpha with the previous output, per pixel, with a weight that
is high only where the **picture** did not change: a still background or a still person keeps a steady
edge, while wherever something moved the new alpha is taken as it is (no ghost behind a fast hand).
:class:`SceneCutDetector` says when the picture changed as a whole (colour histograms differ), so the
matter can forget everything carried across frames.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np


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

    def sure_weight(self, alpha: np.ndarray, shape) -> np.ndarray:
        """float32 ``shape`` = ``(h, w)`` factor of the past's weight from the new alpha's certainty:
        1 where the new alpha (sampled on the small grid) lies in ``[sure, 1 - sure]`` in the cell
        or one of its 8 neighbours, falling to 0 where it is 0 or 1 all around."""
        h, w = shape
        a = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_NEAREST)  # (h, w)
        c = np.subtract(np.float32(1.0), a)
        c *= a
        c *= np.float32(1.0 / (self.sure * (1.0 - self.sure)))
        np.minimum(c, np.float32(1.0), out=c)
        return cv2.dilate(c, np.ones((3, 3), np.uint8))

    def __call__(self, alpha: np.ndarray, grey_small: np.ndarray) -> np.ndarray:
        """Smooth one alpha float32 ``(H, W)``; ``grey_small`` is the frame's brightness on a small grid
        (uint8 ``(h, w)``, same grid every frame). Returns float32 ``(H, W)``, read-only (it is
        kept as the next frame's past); ``alpha`` itself is kept too, so do not write into it later."""
        w = self.weight(grey_small)
        if w is None or self.strength <= 0 or self._alpha is None or self._alpha.shape != alpha.shape:
            self._alpha = alpha
            return alpha
        H, W = alpha.shape
        out = self._alpha - alpha  # (H, W) new array
        if self.jump > 0 and self.mode == "motion":
            # a large change of alpha is real (motion the picture hid), not flicker: judged on the
            # small grid (sampled, then averaged over 3x3 cells), where it is cheap
            h, w_ = w.shape
            change = cv2.blur(np.abs(cv2.resize(out, (w_, h), interpolation=cv2.INTER_NEAREST)), (3, 3))
            w *= np.exp(change * np.float32(-1.0 / self.jump))
        if self.sure > 0 and self.mode == "motion":
            w *= self.sure_weight(alpha, w.shape)
        w = cv2.resize(w, (W, H), interpolation=cv2.INTER_LINEAR)
        out *= w
        out += alpha
        out.flags.writeable = False  # kept as the next frame's past: callers must not write into it
        self._alpha = out
        return out
