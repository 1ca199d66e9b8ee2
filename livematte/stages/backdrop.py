"""The backdrop keyer: an object on a studio backdrop, with no model file (stills, host numpy).

1. **Backdrop model.** On a working copy (long side :data:`WORK_SIDE`), in RGB, the border
   band is fitted per channel with a smooth surface (terms ``1, x, y, x^2, xy, y^2, r^4``: a
   colour, a gradient, vignetting), robustly: border pixels far from the fit (an object touching
   the edge) are dropped and the fit repeated. The residual's robust spread is the noise level.
2. **Key.** Each pixel's difference from the modelled backdrop, in noise units; a darkening
   of the backdrop's own colour counts as a soft shadow unless it is deep (a dark object), so
   shadows stay background.
3. **Graph cut.** Sure background / sure object from the key's extremes, the rest probable;
   ``cv2.grabCut`` (colour models + graph cut) settles the probable pixels.
4. **Refine.** The guided filter (:class:`~livematte.stages.refine.GuidedRefiner`) lifts the
   working-size matte to full resolution along the picture's own edges.

``confidence`` in [0, 1] says how plain the backdrop was and how clean the cut: low on a scene
that is not a backdrop (its border does not fit a smooth surface) or when nothing (or
everything) stands out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

WORK_SIDE = 512  # long side of the working copy, pixels
BAND = 0.04  # the border band's width, a share of the shorter side


@dataclass
class KeyResult:
    """``alpha`` float32 ``(H, W)`` in [0, 1], ``confidence`` in [0, 1], ``noise`` (the border's
    robust residual, 8-bit RGB units) and ``backdrop`` (the modelled backdrop, RGB uint8 at working size)."""

    alpha: np.ndarray
    confidence: float
    noise: float
    backdrop: np.ndarray


def _terms(h: int, w: int) -> np.ndarray:
    """float32 ``(h, w, 7)``: the surface's basis on coordinates in [-1, 1]."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x = 2 * x / max(w - 1, 1) - 1
    y = 2 * y / max(h - 1, 1) - 1
    r2 = x * x + y * y
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y, r2 * r2], -1)


def border_band(h: int, w: int, band: float = BAND) -> np.ndarray:
    """bool ``(h, w)``: the pixels within ``band`` x the shorter side of an edge."""
    b = max(2, int(round(band * min(h, w))))
    m = np.zeros((h, w), bool)
    m[:b], m[-b:], m[:, :b], m[:, -b:] = True, True, True, True
    return m


def fit_backdrop(rgb: np.ndarray, band: np.ndarray, rounds: int = 3) -> Tuple[np.ndarray, float, float]:
    """Fit the smooth surface to ``rgb`` float32 ``(h, w, 3)`` (0..255) over ``band`` (bool ``(h, w)``).

    Returns ``(surface (h, w, 3), noise, inliers)``: the robust residual spread (1.4826 x the
    median absolute residual, floored at 0.5) and the share of border pixels kept by the last round.
    """
    h, w = band.shape
    basis = _terms(h, w)  # (h, w, 7)
    a, values = basis[band], rgb[band]  # (n, 7), (n, 3)
    keep = np.ones(len(a), bool)
    for _ in range(rounds):
        coef, *_ = np.linalg.lstsq(a[keep], values[keep], rcond=None)  # (7, 3)
        resid = np.linalg.norm(values - a @ coef, axis=1)  # (n,)
        noise = max(0.5, 1.4826 * float(np.median(resid[keep])))
        keep = resid <= max(4.0 * noise, 3.0)
    surface = (basis.reshape(-1, 7) @ coef).reshape(h, w, 3)
    return surface.astype(np.float32), noise, float(keep.mean())


def key_score(rgb: np.ndarray, surface: np.ndarray, noise: float) -> np.ndarray:
    """float32 ``(h, w)``: how far each pixel is from the backdrop, in noise units, shadows discounted.

    A shadow scales the backdrop's colour by ``k`` < 1: a pixel darker than the backdrop counts by
    its distance from ``k x backdrop`` (its own colour), plus its whole difference as ``k`` falls
    below 0.55 (deeper than a soft shadow: a dark object).
    """
    k = np.sum(rgb * surface, -1) / np.maximum(np.sum(surface * surface, -1), 1.0)  # (h, w)
    full = np.linalg.norm(rgb - surface, axis=-1)
    own = np.linalg.norm(rgb - k[..., None] * surface, axis=-1)
    deep = np.clip((0.55 - k) / 0.15, 0, 1)
    return (np.where(k < 1, own + deep * full, full) / noise).astype(np.float32)


class BackdropKeyer:
    """Key an object off a plain or gradient backdrop (see the module docstring).

    Args:
        sure_fg, sure_bg: key scores (noise units) above which a pixel is surely the object, below
            which surely the backdrop (``sure_bg`` applies only to pixels off the object's core).
        iterations: GrabCut rounds.
        radius, eps: the guided filter's window radius (working-size pixels) and regularisation.
    """

    def __init__(self, sure_fg: float = 12.0, sure_bg: float = 3.0, iterations: int = 4, radius: int = 2,
                 eps: float = 1e-4):
        self.sure_fg, self.sure_bg, self.iterations = sure_fg, sure_bg, iterations
        self.radius, self.eps = radius, eps

    def __call__(self, image: np.ndarray) -> KeyResult:
        """RGB uint8 ``(H, W, 3)`` -> :class:`KeyResult`."""
        H, W = image.shape[:2]
        s = min(1.0, WORK_SIDE / max(H, W))
        size = (max(8, int(round(W * s))), max(8, int(round(H * s))))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if s < 1 else image.copy()  # (h, w, 3)
        rgb = small.astype(np.float32)  # (h, w, 3) 0..255
        band = border_band(*small.shape[:2])
        surface, noise, inliers = fit_backdrop(rgb, band)
        score = key_score(rgb, surface, noise)  # (h, w)
        cut = self._cut(small, score)  # uint8 (h, w) 0 / 1
        alpha = self._refine(small, cut, image)
        backdrop = np.clip(surface + 0.5, 0, 255).astype(np.uint8)
        return KeyResult(alpha, self._confidence(score, cut, band, noise, inliers), noise, backdrop)

    def _cut(self, small: np.ndarray, score: np.ndarray) -> np.ndarray:
        """GrabCut seeded by the key -> uint8 ``(h, w)``, 1 on the object."""
        score = cv2.GaussianBlur(score, (0, 0), 1.0)
        mask = np.full(score.shape, cv2.GC_PR_BGD, np.uint8)
        mask[score > 0.5 * (self.sure_fg + self.sure_bg)] = cv2.GC_PR_FGD
        mask[score > self.sure_fg] = cv2.GC_FGD
        mask[score < self.sure_bg] = cv2.GC_BGD
        mask[border_band(*score.shape, band=0.01)] = cv2.GC_BGD
        if not (mask == cv2.GC_FGD).any() and not (mask == cv2.GC_PR_FGD).any():
            return np.zeros(score.shape, np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, self.iterations,
                        cv2.GC_INIT_WITH_MASK)
        except cv2.error:  # one colour model would be empty: keep the key's own decision
            pass
        return ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)

    def _refine(self, small: np.ndarray, cut: np.ndarray, image: np.ndarray) -> np.ndarray:
        """The working-size cut -> float32 ``(H, W)`` alpha along the full picture's edges."""
        from ..engine import NUMPY
        from .refine import GuidedRefiner

        prob = cv2.GaussianBlur(cut.astype(np.float32), (0, 0), 0.7)
        refiner = GuidedRefiner(NUMPY, radius=self.radius, eps=self.eps)
        return refiner(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), prob, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))

    @staticmethod
    def _confidence(score: np.ndarray, cut: np.ndarray, band: np.ndarray, noise: float, inliers: float) -> float:
        """Plain backdrop (low border noise, most of the border fits) x a cut that stands out."""
        area = float(cut.mean())
        if area < 0.002 or area > 0.9:
            return 0.0
        plain = float(np.clip((16.0 - noise) / 10.0, 0, 1)) * float(np.clip((inliers - 0.6) / 0.3, 0, 1))
        edge = cv2.morphologyEx(cut, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        contrast = float(np.clip((np.median(score[cut > 0]) - 3.0) / 6.0, 0, 1)) if edge.any() else 0.0
        return round(plain * contrast, 4)
