"""User mask options: threshold, shrink/grow and feather, applied to a full-resolution alpha."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .types import LivematteError


@dataclass
class MaskOptions:
    """How the final alpha is shaped.

    Attributes:
        threshold: None keeps the soft alpha; a value in (0, 1) makes it hard (alpha >= threshold).
        grow: pixels to grow (> 0) or shrink (< 0) the person, at the frame's resolution.
        feather: Gaussian sigma in pixels that softens the edge after threshold/grow (0: none).
    """

    threshold: Optional[float] = None
    grow: int = 0
    feather: float = 0.0

    def validate(self) -> "MaskOptions":
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise LivematteError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.feather < 0:
            raise LivematteError(f"feather must be >= 0, got {self.feather}")
        if abs(self.grow) > 200:
            raise LivematteError(f"grow must be within -200..200 pixels, got {self.grow}")
        return self

    @property
    def is_identity(self) -> bool:
        return self.threshold is None and self.grow == 0 and self.feather == 0


def shape_mask(alpha: np.ndarray, opts: MaskOptions) -> np.ndarray:
    """Apply ``opts`` to alpha float32 ``(H, W)`` in [0, 1]; returns a new float32 ``(H, W)``.

    >>> a = np.zeros((9, 9), np.float32); a[3:6, 3:6] = 0.8
    >>> int(shape_mask(a, MaskOptions(threshold=0.5, grow=1)).sum())
    21
    """
    if opts.is_identity:
        return alpha
    out = alpha
    if opts.threshold is not None:
        out = (out >= opts.threshold).astype(np.float32)
    if opts.grow:
        r = abs(opts.grow)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        out = cv2.dilate(out, kernel) if opts.grow > 0 else cv2.erode(out, kernel)
    if opts.feather > 0:
        out = cv2.GaussianBlur(out, (0, 0), opts.feather)
    return out
