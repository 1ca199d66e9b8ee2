"""``StillMatter``: :class:`~livematte.matter.Matter` at full quality for still images (see
:mod:`livematte.stages.still`): every pass over the subject mirrored and averaged, then the guided
filter at the photo's own resolution. The same subject decisions and engines; each call is an
independent still. ``--raw`` gets the backend's own output, as on the video path.
"""
from __future__ import annotations

import math

from .matter import FrontResult, Matter
from .stages.refine import GuidedRefiner
from .stages.still import MirroredRunner, guided_full

#: the full-resolution guided filter: window radius as a share of the photo's larger side, and eps
RADIUS, EPS = 1 / 400, 1e-3
#: above this many pixels the filter's coefficients are computed on a copy reduced to about this
#: size and applied at full resolution (the fast guided filter): a 12 MP photo costs what 2.5 MP does
FULL_PIXELS = 2_500_000


class StillMatter(Matter):
    """A :class:`Matter` for stills: ``matter(image) -> alpha``; nothing carries across calls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.runner.model_input and not self.quality.raw:
            self.runner = MirroredRunner(self.ops, self.runner)

    def _front(self, frame) -> FrontResult:
        self.reset()  # stills are independent
        return super()._front(frame)

    def _back(self, state: FrontResult):
        alpha = super()._back(state)
        if not self.spec.crop_pass or self.quality.raw:
            return alpha
        return self._full_resolution(state.image, alpha)

    def _full_resolution(self, image, alpha):
        """The guided filter at the photo's resolution (windows of ``RADIUS`` of its larger side)."""
        ops = self.ops
        H, W = alpha.shape[:2]
        grey = ops.grey(image)
        s = math.sqrt(H * W / FULL_PIXELS)
        if s <= 1.0:
            return guided_full(ops, grey, alpha, max(2, round(max(H, W) * RADIUS)), EPS)
        h, w = max(1, round(H / s)), max(1, round(W / s))
        small_grey = ops.to_u8(ops.resize_area(ops.to_float(grey), (h, w)) + 0.5)
        small_alpha = ops.resize_area(alpha, (h, w))
        fast = GuidedRefiner(ops, max(2, round(max(h, w) * RADIUS)), EPS, keep=0.0)
        return fast(small_grey, small_alpha, grey)
