"""``matte``: the alpha itself, as a grey RGB picture (white = person)."""
from __future__ import annotations

from .base import ALPHA, Effect


class Matte(Effect):
    """Grey RGB ``(H, W, 3)`` of ``round(255 * alpha)``; the frame is not read."""

    kind = "matte"
    spec_help = "matte"
    needs = ALPHA
    composites = False

    def picture(self, ops, image, alpha):
        a8 = ops.alpha_u8(alpha)  # (H, W) 8-bit
        return ops.channels(a8, a8, a8)  # (H, W, 3)
