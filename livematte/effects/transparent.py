"""``transparent``: an RGBA cut-out, the frame's colours with the matte as alpha."""
from __future__ import annotations

from .base import FRAME, Effect


class Transparent(Effect):
    """RGBA ``(H, W, 4)``: the frame's RGB and ``round(255 * alpha)``."""

    kind = "transparent"
    spec_help = "transparent"
    rgba = True
    needs = FRAME
    composites = False

    def picture(self, ops, image, alpha):
        return ops.channels(image, ops.alpha_u8(alpha))  # (H, W, 4) 8-bit
