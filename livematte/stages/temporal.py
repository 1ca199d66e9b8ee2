"""Smoothing across frames that removes flicker without trailing behind motion, and scene cuts.

:class:`MotionSmoother` blends each new alpha with the previous output, per pixel, with a weight that
is high only where the **picture** did not change: a still background or a still person keeps a steady
edge, while wherever something moved the new alpha is taken as it is (no ghost behind a fast hand).
:class:`SceneCutDetector` says when the picture changed as a whole (colour histograms differ), so the
matter can forget everything carried across frames; it runs on the host, on the 48 numbers of
``ops.histogram`` (brought down with the model's probability at the frame's one host sync).
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np


class SceneCutDetector:
    """Flags a cut when the colour histograms of consecutive thumbnails differ strongly.

    Args:
        threshold: Bhattacharyya distance (0 same, 1 disjoint) above which a cut is declared.
    """

    def __init__(self, threshold: float = 0.35):
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._prev: Optional[np.ndarray] = None

    def __call__(self, hist: np.ndarray) -> bool:
        """Feed one thumbnail's histogram (host float ``(3 * bins,)`` counts, ``ops.histogram``);
        True when it starts a new scene (never on the first)."""
        h = np.asarray(hist, np.float32).reshape(-1, 1)
        h = h / max(float(h.sum()), 1.0)
        prev, self._prev = self._prev, h
        if prev is None:
            return False
        return cv2.compareHist(prev, h, cv2.HISTCMP_BHATTACHARYYA) > self.threshold


class MotionSmoother:
    """Motion-aware recursive smoothing of alpha.

    ``out = w * previous_out + (1 - w) * alpha`` per pixel, with
    ``w = strength * exp(-motion / noise) * exp(-|previous_out - alpha| / jump)``
    where ``motion`` is the local mean absolute brightness change between this frame and the last
    (on a small grid, in 8-bit levels). A pixel that did not change keeps most of its past (flicker is
    averaged away); a pixel where the picture moved takes the new alpha at once.

    Args:
        ops: the engine's array layer.
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

    def __init__(self, ops, strength: float = 0.5, noise: float = 4.0, mode: str = "motion", jump: float = 0.3,
                 sure: float = 0.0):
        self.ops = ops
        self.strength, self.noise, self.mode, self.jump, self.sure = strength, noise, mode, jump, sure
        self.reset()

    def reset(self) -> None:
        """Forget the past (new source, seek, scene cut)."""
        self._alpha = None  # (H, W) last output
        self._grey = None  # float32 (h, w) last small brightness

    def weight(self, grey_small):
        """Per-pixel weight of the past on the small grid (map ``(h, w)``), None on a first frame."""
        ops = self.ops
        g = ops.to_float(grey_small)  # a copy: the input may be a captured graph's buffer
        prev, self._grey = self._grey, g
        if prev is None or tuple(prev.shape) != tuple(g.shape):
            return None
        if self.mode == "ema":
            return ops.zeros(g.shape) + self.strength
        k = max(3, (min(g.shape) // 32) | 1)  # average the change over a small neighbourhood
        diff = ops.blur(ops.abs(g - prev), k)
        return ops.exp(-diff / self.noise) * self.strength

    def see(self, grey_small) -> None:
        """A frame whose output is the last one (a reused matte): only its brightness is kept, so
        the next frame's motion is measured against this frame's picture."""
        self._grey = self.ops.to_float(grey_small)

    def __call__(self, alpha, grey_small):
        """Smooth one alpha ``(H, W)`` (written into when the engine allows: pass one you own) and
        return it; ``grey_small`` is the frame's 8-bit brightness on a small grid (same grid every
        frame). The result is kept as the next frame's past (frozen): callers must not write into it.
        """
        ops = self.ops
        alpha = ops.owned(alpha)
        w = self.weight(grey_small)
        past = self._alpha
        if w is None or self.strength <= 0 or past is None or tuple(past.shape) != tuple(alpha.shape):
            return self._keep(alpha)
        if self.mode == "motion" and (self.jump > 0 or self.sure > 0):
            small = ops.sample_nearest(alpha, tuple(w.shape))  # (h, w) samples
            if self.jump > 0:
                # a large change of alpha is real (motion the picture hid), not flicker: judged on the
                # small grid (sampled, then averaged over 3x3 cells), where it is cheap
                change = ops.blur(ops.abs(ops.sample_nearest(past, tuple(w.shape)) - small), 3)
                w = w * ops.exp(change * (-1.0 / self.jump))
            if self.sure > 0:
                w = w * sure_weight(ops, small, self.sure)
        return self._keep(ops.blend_past(alpha, past, w))

    def _keep(self, alpha):
        self._alpha = self.ops.freeze(alpha)
        return alpha


def sure_weight(ops, small, sure: float):
    """Factor of the past's weight from the new alpha's certainty, given the new alpha sampled on the
    small grid (map ``(h, w)``): 1 where it lies in ``[sure, 1 - sure]`` in the cell or one of its 8
    neighbours, falling to 0 where it is 0 or 1 all around (a ghost fading where the model is now
    certain is dropped at once)."""
    c = (1.0 - small) * small * (1.0 / (sure * (1.0 - sure)))
    return ops.max3(ops.minimum(c, 1.0))
