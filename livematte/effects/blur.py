"""``blur``, ``blur:STRENGTH``: the background blurred, the person kept sharp."""
from __future__ import annotations

from ..stages.pyramid import SHELF
from ..types import LivematteError
from .base import FRAME, Effect


def blur_halvings(sigma: float) -> int:
    """How many times the blur halves the frame first: the largest ``n`` with ``2**n <= sigma / 2``
    (so 2-4 px of sigma are left to blur at the small size, where it is cheap; a Gaussian of 2 px
    leaves nothing above 1% that bilinear upsampling could show as blocks)."""
    n = 0
    while (2 << n) <= sigma / 2:
        n += 1
    return n


class Blur(Effect):
    """Blur the background, keep the person sharp.

    ``strength`` is the Gaussian sigma in pixels for a 1080-line frame (scaled with the frame
    height). The blur runs on a downscaled copy and ignores the person's own pixels (a normalised
    convolution weighted by ``1 - alpha``), so the person does not bleed a halo into the background.
    """

    kind = "blur"
    takes_arg = True
    spec_help = "blur[:STRENGTH]"
    needs = FRAME
    fresh_background = True

    def __init__(self, strength: float = 24.0):
        if strength <= 0:
            raise LivematteError(f"blur strength must be > 0, got {strength}")
        self.strength = float(strength)

    @classmethod
    def from_spec(cls, arg: str, **options) -> "Blur":
        """``blur`` (``options["blur_strength"]``, default 24) or ``blur:STRENGTH``."""
        strength = options.get("blur_strength", 24.0)
        if arg:
            try:
                strength = float(arg)
            except ValueError:
                raise LivematteError(f"blur strength must be a number, got {arg!r}") from None
        return cls(strength)

    def background(self, ops, image, alpha):
        """8-bit ``(H, W, 3)`` frame and alpha ``(H, W)`` -> the blurred background 8-bit ``(H, W, 3)``."""
        H, W = image.shape[:2]
        sigma = self.strength * H / 1080
        halvings = blur_halvings(sigma)
        levels = SHELF.get(image) or [image]  # the levels the matter's front made of this frame
        nobody = ops.is_empty(alpha)  # an idle frame's matte: every weight is 1, a plain blur
        small, weight = levels[min(halvings, len(levels) - 1)], alpha
        for i in range(halvings):  # exact 2x area means: ~5x cheaper than one resize by a factor 4-5
            if i >= len(levels) - 1:
                small = ops.half_area(small)  # (h, w, 3) 8-bit, rounded at each level
            if not nobody:
                weight = ops.half_area(weight)  # (h, w)
        small = ops.to_float(small)  # (h, w, 3) float32
        s = sigma / (1 << halvings)
        if nobody:
            blurred = ops.gaussian_blur(small, s)  # (h, w, 3)
        else:
            weight = (1.0 - weight) * 0.98 + 0.02  # (h, w): some of everything, so a frame all person still blurs
            num = ops.gaussian_blur(small * weight[..., None], s)  # (h, w, 3)
            blurred = num / ops.gaussian_blur(weight, s)[..., None]  # (h, w, 3)
        return ops.resize_linear(ops.to_u8(blurred), (H, W))  # (H, W, 3) 8-bit
