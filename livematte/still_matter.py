"""``StillMatter``: :class:`~livematte.matter.Matter` at full quality for still images (see
:mod:`livematte.stages.still`): every pass over the subject mirrored and averaged, then the guided filter at
the photo's own resolution. The same subject decisions and engines; each call is an independent still.
"""
from __future__ import annotations

from .matter import FrontResult, Matter
from .stages.still import MirroredRunner, guided_full

#: the full-resolution guided filter: window radius as a share of the photo's larger side, and eps
RADIUS, EPS = 1 / 400, 1e-3


class StillMatter(Matter):
    """A :class:`Matter` for stills: ``matter(image) -> alpha``; nothing carries across calls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.runner.model_input:
            self.runner = MirroredRunner(self.ops, self.runner)

    def _front(self, frame) -> FrontResult:
        self.reset()  # stills are independent
        return super()._front(frame)

    def _back(self, state: FrontResult):
        alpha = super()._back(state)
        if not self.spec.crop_pass:
            return alpha
        H, W = alpha.shape[:2]
        return guided_full(self.ops, self.ops.grey(state.image), alpha, max(2, round(max(H, W) * RADIUS)), EPS)
