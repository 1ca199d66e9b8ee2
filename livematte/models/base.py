"""The contract every segmentation / matting backend meets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Tuple

import numpy as np


class Segmenter(Protocol):
    """A person segmenter or matting network.

    ``predict`` takes one RGB uint8 frame ``(H, W, 3)`` and returns the raw person
    probability / alpha as float32 ``(h, w)`` in [0, 1] at the model's own output
    resolution; resizing it to the frame is a separate shared step
    (:func:`livematte.upsample.upsample`). Backends with memory across frames
    (RVM) clear it in ``reset``; stateless ones make ``reset`` a no-op.
    """

    name: str

    def predict(self, image: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class BackendInfo:
    """One row of ``livematte models``.

    Attributes:
        name: the name used with ``--model``.
        description: one line saying what it is.
        available: whether it can run here.
        reason: why not, with the fix (empty when available).
        resolution: the model's input size as ``(H, W)`` when fixed, else None.
    """

    name: str
    description: str
    available: bool
    reason: str = ""
    resolution: Optional[Tuple[int, int]] = None
