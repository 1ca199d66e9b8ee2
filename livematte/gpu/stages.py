"""The per-frame stages of :class:`livematte.matter.Matter`, one torch class/function per CPU one.

Each mirrors (same arguments, same arithmetic, same order) the CPU code named in its docstring,
so a change there is resynced here by reading the two side by side:

=============================  =========================================
CPU (numpy / cv2)              torch (this module)
=============================  =========================================
``roi.Pyramid``                :class:`TorchPyramid`
``refine.GuidedRefiner``       :class:`TorchGuidedRefiner`
``refine.upsample_region``     :func:`upsample_region`
``temporal.MotionSmoother``    :class:`TorchMotionSmoother`
``temporal.SceneCutDetector``  :func:`thumb_histogram` + :class:`HistogramCutDetector`
``matter._seam_ramps``         :func:`seam_weight`
``maskops.shape_mask``         :func:`shape_mask`
=============================  =========================================
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..maskops import MaskOptions
from ..roi import pyramid_region
from . import ops


class TorchPyramid:
    """``roi.Pyramid``: area-averaged 2x reductions of a frame, 8-bit values kept (rounded as cv2 does).

    Args:
        image: float32 ``[3, H, W]`` with 8-bit values (the frame, channels first).
    """

    def __init__(self, image: Optional[torch.Tensor] = None, smallest: int = 128, *,
                 levels: Optional[List[torch.Tensor]] = None):
        if levels is not None:  # levels already made (by a captured front stage)
            self.levels = list(levels)
            return
        self.levels: List[torch.Tensor] = [image]  # each [3, h, w]
        while min(self.levels[-1].shape[-2:]) >= 2 * smallest:
            self.levels.append(ops.half_area(self.levels[-1]))

    def resize(self, box: Tuple[int, int, int, int], size: Tuple[int, int]) -> torch.Tensor:
        """Frame region ``box`` at ``size`` = (h, w): float32 ``[3, h, w]`` of 8-bit values."""
        k, ya, yb, xa, xb = pyramid_region(box, size, len(self.levels))
        region = self.levels[k][:, ya:yb, xa:xb]
        return ops.resize_linear(region, size, rounded=True)


class TorchGuidedRefiner:
    """``refine.GuidedRefiner`` (fast guided filter; coefficients on the model grid)."""

    def __init__(self, radius: int = 2, eps: float = 1e-3):
        self.radius, self.eps = radius, eps

    def coefficients(self, guide: torch.Tensor, prob: torch.Tensor):
        """``refine.guided_coefficients``: guide [h, w] in [0, 1], prob [h, w] -> (a, b) [h, w]."""
        box = lambda x: ops.box_filter_reflect(x, self.radius)  # noqa: E731
        mean_i, mean_p = box(guide), box(prob)
        cov_ip = box(guide * prob) - mean_i * mean_p
        var_i = box(guide * guide) - mean_i * mean_i
        a = cov_ip / (var_i + self.eps)
        b = mean_p - a * mean_i
        return box(a), box(b)

    def __call__(self, guide_lo: torch.Tensor, prob: torch.Tensor, guide_hi: torch.Tensor) -> torch.Tensor:
        """guide_lo [h, w] 8-bit values, prob [h, w], guide_hi [H, W] 8-bit values -> alpha [H, W] (unclipped)."""
        a, b = self.coefficients(guide_lo * (1 / 255), prob)
        size = tuple(guide_hi.shape[-2:])
        a = ops.resize_linear(a * (1 / 255), size)
        b = ops.resize_linear(b, size)
        return torch.addcmul(b, guide_hi, a)


def upsample_region(prob: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """``refine.upsample_region``: bilinear [h, w] -> [H, W]."""
    return ops.resize_linear(prob, size)


def thumb_histogram(thumb: torch.Tensor, bins: int = 16) -> torch.Tensor:
    """``cv2.calcHist`` per channel of a [3, h, w] 8-bit thumbnail: float32 [3 * bins] counts.

    Built with ``index_add_`` (no host sync, so it can sit inside a CUDA graph).
    """
    idx = (thumb.to(torch.int64) * bins) // 256 + torch.arange(3, device=thumb.device).view(3, 1, 1) * bins
    hist = torch.zeros(3 * bins, device=thumb.device, dtype=torch.float32)
    return hist.index_add_(0, idx.reshape(-1), torch.ones(idx.numel(), device=thumb.device))


class HistogramCutDetector:
    """``temporal.SceneCutDetector`` fed with histograms already counted on the device (numpy here:
    48 numbers per frame come to the host with the model's probability)."""

    def __init__(self, threshold: float = 0.35):
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._prev: Optional[np.ndarray] = None

    def __call__(self, hist: np.ndarray) -> bool:
        """True when this histogram (float [3 * bins] counts) starts a new scene (never on the first)."""
        h = np.asarray(hist, np.float64)
        h = h / max(float(h.sum()), 1.0)
        prev, self._prev = self._prev, h
        if prev is None:
            return False
        # cv2.compareHist(HISTCMP_BHATTACHARYYA): sqrt(1 - sum sqrt(p q) / sqrt(sum p * sum q))
        s = float(prev.sum() * h.sum())
        bc = float(np.sqrt(prev * h).sum()) / (np.sqrt(s) if s > 1e-7 else 1.0)
        return float(np.sqrt(max(1.0 - bc, 0.0))) > self.threshold


class TorchMotionSmoother:
    """``temporal.MotionSmoother``: per-pixel blend with the past, weighted by local stillness."""

    def __init__(self, strength: float = 0.5, noise: float = 4.0, mode: str = "motion", sure: float = 0.0,
                 jump: float = 0.3):
        self.strength, self.noise, self.mode, self.sure, self.jump = strength, noise, mode, sure, jump
        self.reset()

    def reset(self) -> None:
        self._alpha: Optional[torch.Tensor] = None  # [H, W] last output
        self._grey: Optional[torch.Tensor] = None  # [h, w] last small brightness

    def weight(self, grey_small: torch.Tensor) -> Optional[torch.Tensor]:
        g = grey_small.to(torch.float32, copy=True)  # kept: may be a graph's static buffer
        prev, self._grey = self._grey, g
        if prev is None or prev.shape != g.shape:
            return None
        if self.mode == "ema":
            return torch.full_like(g, self.strength)
        k = max(3, (min(g.shape) // 32) | 1)
        diff = ops.blur_reflect101((g - prev).abs(), k)
        return self.strength * torch.exp(-diff / self.noise)

    def __call__(self, alpha: torch.Tensor, grey_small: torch.Tensor) -> torch.Tensor:
        """alpha [H, W], grey_small [h, w] 8-bit values (same grid every frame) -> smoothed [H, W].

        The result is kept as the next frame's past: callers must not write into it.
        """
        w = self.weight(grey_small)
        if w is None or self.strength <= 0 or self._alpha is None or self._alpha.shape != alpha.shape:
            self._alpha = alpha
            return alpha
        if self.mode == "motion" and (self.jump > 0 or self.sure > 0):
            a = F.interpolate(alpha[None, None], size=tuple(w.shape), mode="nearest")  # [1, 1, h, w] samples
            if self.jump > 0:  # ``MotionSmoother``: a large alpha change is real
                past = F.interpolate(self._alpha[None, None], size=tuple(w.shape), mode="nearest")[0, 0]
                change = ops.blur_reflect101((past - a[0, 0]).abs(), 3)
                w = w * torch.exp(change * (-1.0 / self.jump))
            if self.sure > 0:  # ``temporal.sure_weight``
                c = (a * (1.0 - a) * (1.0 / (self.sure * (1.0 - self.sure)))).clamp_(max=1.0)
                w = w * F.max_pool2d(c, 3, stride=1, padding=1)[0, 0]
        w = ops.resize_linear(w, tuple(alpha.shape))
        out = torch.addcmul(alpha, self._alpha - alpha, w)
        self._alpha = out
        return out


def seam_weight(box: Tuple[int, int, int, int], frame_hw: Tuple[int, int], width: float, device) -> torch.Tensor:
    """``matter._seam_ramps`` as their outer product: [h, w] weight of the crop's own alpha (1 inside, ramps at inner sides)."""
    x0, y0, x1, y1 = box
    H, W = frame_hw

    def ramp(n: int, lo_open: bool, hi_open: bool) -> torch.Tensor:
        i = torch.arange(n, dtype=torch.float32, device=device) + 0.5
        r = torch.ones(n, dtype=torch.float32, device=device)
        if lo_open:
            r = torch.minimum(r, i / width)
        if hi_open:
            r = torch.minimum(r, (n - i) / width)
        return r.clamp_(0.0, 1.0)

    return torch.outer(ramp(y1 - y0, y0 > 0, y1 < H), ramp(x1 - x0, x0 > 0, x1 < W))


def shape_mask(alpha: torch.Tensor, opts: MaskOptions) -> torch.Tensor:
    """``maskops.shape_mask``: threshold, grow/shrink (elliptic), feather (Gaussian) of [H, W]."""
    if opts.is_identity:
        return alpha
    out = alpha
    if opts.threshold is not None:
        out = (out >= opts.threshold).float()
    if opts.grow:
        out = ops.morph_ellipse(out, abs(opts.grow), dilate=opts.grow > 0)
    if opts.feather > 0:
        out = ops.gaussian_blur(out, opts.feather)
    return out
