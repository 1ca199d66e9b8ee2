"""Still images at full quality: every model pass mirrored and averaged, and a guided filter at the
photo's own resolution after the video path's refinement (no latency budget, no past frame).

The selfie model's output carries the block structure of its last layers (a 2x2 transposed
convolution on a 128 grid: stair-steps of 2 model cells, 8-16 px on a photo) wherever it is unsure,
and the video path's guided filter keeps its coefficients on that grid. For a still, each pass over the
subject (the tiles of its crop) is also run on the mirrored input and the two averaged, and
the refined matte is filtered once more by the classic guided filter computed at full resolution,
whose windows are a few photo pixels wide: edges follow the picture and the steps are smoothed.

Tried and not kept (docs/stills.md): averaging extra passes from crops of other sizes and offsets
on a common grid, and sub-windows of the subject; both lost IoU on DAVIS frames run as stills
(windows that see part of a body give the model too little context).
"""
from __future__ import annotations

from ..engine.runners import Runner


class MirroredRunner(Runner):
    """A model-input runner for stills: the crop passes (``runner(x)``) are averaged with the pass on
    the mirrored input; the full-frame pass (``runner.eager(x)``, inside the front stage) is the
    plain one, so the subject decisions on it are the video path's (averaging can pull a small,
    marginal person below the 0.5 a person blob needs, and the crop would be lost)."""

    model_input = True

    def __init__(self, ops, runner: Runner):
        self.ops, self.runner = ops, runner
        self.input_size = runner.input_size

    @property
    def precision(self) -> str:
        return self.runner.precision

    def __call__(self, x):
        ops, r = self.ops, self.runner
        return 0.5 * (r(x) + ops.flip_x(r(ops.flip_x(x))))

    def eager(self, x):
        return self.runner.eager(x)

    def settle(self, x) -> None:
        self.runner.settle(x)

    def reset(self) -> None:
        self.runner.reset()


def guided_full(ops, grey, prob, radius: int, eps: float):
    """The classic guided filter (He et al.) computed at full resolution: ``grey`` 8-bit ``(H, W)``
    guides ``prob`` ``(H, W)``; windows of ``2 * radius + 1``. Returns alpha ``(H, W)`` clipped to [0, 1]."""
    box = lambda x: ops.box_filter(x, radius)  # noqa: E731
    g = ops.to_float(grey) * (1 / 255)
    mean_i, mean_p = box(g), box(prob)
    cov = box(g * prob) - mean_i * mean_p
    var = box(g * g) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return ops.clip01_(box(a) * g + box(b))
