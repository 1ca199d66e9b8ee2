"""Frame -> alpha: segmenter, shared upsampling, refinement, temporal smoothing, mask options.

The same ``Matter`` serves ``video``, ``image``, ``matte``, ``cam`` and ``eval``, so every path
applies exactly the same processing.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .config import Config
from .maskops import shape_mask
from .models import create
from .models.base import Segmenter
from .types import Frame
from .upsample import upsample


class Matter:
    """Computes the alpha of each frame, in order.

    Call it once per frame, in order; call :meth:`reset` on a new source, a seek or a restart
    (temporal and recurrent state is cleared).

    Args:
        segmenter: the backend (see :mod:`livematte.models`).
        config: quality and mask options.
    """

    def __init__(self, segmenter: Segmenter, config: Optional[Config] = None):
        self.config = config or Config()
        self.segmenter = segmenter
        self.mask = self.config.mask.validate()

    def __call__(self, frame: Frame) -> np.ndarray:
        """RGB frame -> alpha float32 ``(H, W)`` in [0, 1]."""
        image = frame.image
        prob = self.segmenter.predict(image)  # (h, w) at model resolution
        alpha = upsample(prob, image.shape[:2])  # (H, W)
        return shape_mask(alpha, self.mask)

    def reset(self) -> None:
        """Forget everything carried across frames."""
        self.segmenter.reset()


def build_matter(config: Optional[Config] = None) -> Matter:
    """A Matter for ``config`` (defaults when None)."""
    config = config or Config()
    m = config.model
    segmenter = create(m.name, runtime=m.runtime, device=m.device, weights=m.weights, threads=m.threads)
    return Matter(segmenter, config)
