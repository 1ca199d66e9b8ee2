"""Edge refinement at full resolution: a fast guided filter (He & Sun, 2015) guided by the picture.

The segmenter's probability lives on its own small grid (256x256 over the full frame or over the
subject crop). The guided filter fits, in every small window of that grid, a linear model
``alpha ~ a * I + b`` of the probability against the picture's brightness ``I``; the coefficients
are smooth, so they are computed on the model grid, upsampled, and applied to the
**full-resolution** brightness: the edge follows the picture's own edges at full resolution.
Full-resolution cost: two bilinear resizes and one multiply-add.
"""
from __future__ import annotations

from typing import Tuple


class GuidedRefiner:
    """Refines a model-grid probability into a full-resolution alpha guided by the picture.

    Args:
        ops: the engine's array layer.
        radius: window radius on the model grid (2: a 5x5 window).
        eps: regularisation (brightness in [0, 1]); larger keeps more of the probability.
        keep: how much of the model's own probability the offset keeps, in [0, 1]. The classic
            filter (0) uses the window mean ``b = mean(p) - a * mean(I)``; where the picture is flat
            (``a ~ 0``) that is a box blur of the probability, twice over, which shows as a soft glow
            several model cells wide around the person. With 1 the offset is ``b = p - a * I`` on
            the model grid: the output equals the model's probability on its grid, and the guide
            adds only the picture's detail between grid points.

    >>> import numpy as np
    >>> from livematte.engine import NUMPY
    >>> lo = np.zeros((16, 16), np.uint8); lo[:, 8:] = 255
    >>> hi = np.zeros((64, 64), np.uint8); hi[:, 32:] = 255
    >>> alpha = GuidedRefiner(NUMPY)(lo, (lo / 255).astype(np.float32), hi)
    >>> alpha.shape, float(alpha[0, 31]) < 0.1 < 0.9 < float(alpha[0, 32])
    ((64, 64), True)
    """

    def __init__(self, ops, radius: int = 2, eps: float = 1e-3, keep: float = 1.0):
        self.ops, self.radius, self.eps, self.keep = ops, radius, eps, keep

    def coefficients(self, guide, prob) -> Tuple:
        """Window-averaged coefficients ``(a, b)`` (maps ``(h, w)``) of ``guide`` (brightness in
        [0, 1]) and ``prob`` on the same grid: ``a * guide + b`` is the filtered probability."""
        box = lambda x: self.ops.box_filter(x, self.radius)  # noqa: E731
        mean_i = box(guide)
        mean_p = box(prob)
        cov_ip = box(guide * prob) - mean_i * mean_p
        var_i = box(guide * guide) - mean_i * mean_i
        a = cov_ip / (var_i + self.eps)
        b = mean_p - a * mean_i
        return box(a), box(b)

    def fit(self, guide_lo, prob) -> Tuple:
        """The model-grid part of :meth:`__call__`: ``(a, b)`` maps ``(h, w)`` with the refined
        alpha ``clip(a * guide_hi + b)`` (``a`` per 8-bit level) once both are upsampled; it depends
        only on the model's input and output, so a frame that reuses them may reuse it too."""
        ops = self.ops
        g = ops.to_float(guide_lo) * (1 / 255)
        a, b = self.coefficients(g, prob)
        if self.keep > 0:
            b = b + self.keep * ((prob - a * g) - b)
        return a * (1 / 255), b

    def apply(self, fit: Tuple, guide_hi):
        """The full-resolution part: :meth:`fit`'s maps upsampled to ``guide_hi``'s size and
        applied to it, clipped to [0, 1] (a new array)."""
        ops = self.ops
        a, b = fit
        size = tuple(guide_hi.shape[:2])
        alpha = ops.affine(guide_hi, ops.resize_linear(a, size), ops.resize_linear(b, size))
        return ops.clip01_(alpha)  # the guided filter overshoots a little at edges

    def __call__(self, guide_lo, prob, guide_hi):
        """Refine one region, clipped to [0, 1].

        Args:
            guide_lo: 8-bit ``(h, w)`` brightness of the region on the model grid (the model's input).
            prob: float32 ``(h, w)`` probability on the same grid.
            guide_hi: 8-bit ``(H, W)`` brightness of the same region at full resolution.

        Returns:
            alpha float32 ``(H, W)`` in [0, 1] (a new array).
        """
        return self.apply(self.fit(guide_lo, prob), guide_hi)
