"""A soft drop shadow under the subject: a post-composite step (:mod:`.composite`).

The shadow is the alpha, shifted by ``offset`` (fractions of the picture's height, right and
down), blurred with sigma ``blur`` (a fraction of the height), times ``opacity``. It darkens the
background under the subject only (the subject itself is laid over it again), so it shows on a
colour or an image background. Written against the engine ops: the same on both engines.

Spec (``--shadow``): ``OFFSET,BLUR,OPACITY``; an empty spec takes the defaults; ``OFFSET`` is
one value (straight down) or ``DX:DY``.

>>> Shadow.parse("0.02,0.03,0.5")
Shadow(dx=0.0, dy=0.02, blur=0.03, opacity=0.5)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import LivematteError

#: the working grid's height: the shadow is blurred there (it is soft: nothing is lost) and
#: brought back to full size, shifted, in one resampling
GRID = 256


@dataclass(frozen=True)
class Shadow:
    """Drop-shadow parameters (fractions of the picture's height; ``opacity`` in [0, 1])."""

    dx: float = 0.0
    dy: float = 0.015
    blur: float = 0.02
    opacity: float = 0.45

    @classmethod
    def parse(cls, spec: str) -> "Shadow":
        """``OFFSET,BLUR,OPACITY`` (``OFFSET`` = ``DY`` or ``DX:DY``); missing values keep the
        defaults. One-line LivematteError for anything else."""
        parts = [p.strip() for p in (spec or "").split(",")] if (spec or "").strip() else []
        if len(parts) > 3:
            raise LivematteError(f"--shadow {spec!r}: expected OFFSET,BLUR,OPACITY")
        d = cls()
        try:
            dx, dy = d.dx, d.dy
            if parts and parts[0]:
                xy = parts[0].split(":")
                dx, dy = (0.0, float(xy[0])) if len(xy) == 1 else (float(xy[0]), float(xy[1]))
            blur = float(parts[1]) if len(parts) > 1 and parts[1] else d.blur
            opacity = float(parts[2]) if len(parts) > 2 and parts[2] else d.opacity
        except ValueError:
            raise LivematteError(f"--shadow {spec!r}: expected numbers OFFSET,BLUR,OPACITY "
                                 "(e.g. 0.02,0.03,0.5)") from None
        if not (abs(dx) <= 0.5 and abs(dy) <= 0.5 and 0.0 <= blur <= 0.5 and 0.0 <= opacity <= 1.0):
            raise LivematteError(f"--shadow {spec!r}: offsets within ±0.5, blur within 0..0.5, "
                                 "opacity within 0..1")
        return cls(dx, dy, blur, opacity)

    def map(self, ops, alpha):
        """Engine alpha float32 ``(H, W)`` -> the shadow's strength float32 ``(H, W)`` in [0, opacity]:
        shrunk to the working grid, shifted there (bilinear, sub-cell), blurred, brought back up."""
        H, W = alpha.shape[:2]
        f = max(1.0, H / GRID)  # full-size pixels per grid cell
        h, w = max(1, round(H / f)), max(1, round(W / f))
        small = ops.resize_area(alpha, (h, w))  # (h, w)
        # target cell u -> source cell u - offset (in cells); edges replicated
        m = np.array([[1.0, 0.0, -self.dx * H * w / W], [0.0, 1.0, -self.dy * H * h / H]], np.float32)
        small = ops.regrid(small, m, (h, w))
        sigma = self.blur * h
        if sigma >= 0.3:
            small = ops.gaussian_blur(small, sigma)
        return ops.resize_linear(small * self.opacity, (H, W))  # (H, W)

    def __call__(self, ops, picture, image, background, alpha):
        """The post-composite step: the background darkened under the shadow, the subject over it."""
        H, W = alpha.shape[:2]
        darker = ops.composite(ops.fill((0, 0, 0), (H, W)), background, self.map(ops, alpha))  # (H, W, 3)
        return ops.composite(image, darker, alpha, into=True)
