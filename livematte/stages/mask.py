"""The user's mask options: threshold, shrink/grow and feather, applied to a full-resolution alpha."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..types import LivematteError


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


def shape_mask(ops, alpha, opts: MaskOptions):
    """Apply ``opts`` to alpha float32 ``(H, W)`` in [0, 1]: ``alpha`` itself when they are the
    identity, else a new array.

    >>> import numpy as np
    >>> from livematte.engine import NUMPY
    >>> a = np.zeros((9, 9), np.float32); a[3:6, 3:6] = 0.8
    >>> int(shape_mask(NUMPY, a, MaskOptions(threshold=0.5, grow=1)).sum())
    21
    """
    if opts.is_identity:
        return alpha
    out = alpha
    if opts.threshold is not None:
        out = ops.step(out, opts.threshold)
    if opts.grow:
        out = ops.morph_ellipse(out, abs(opts.grow), dilate=opts.grow > 0)
    if opts.feather > 0:
        out = ops.gaussian_blur(out, opts.feather)
    return out
