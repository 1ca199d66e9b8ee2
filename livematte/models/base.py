"""The contract every segmentation / matting backend meets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol, Tuple

import numpy as np

from .spec import BackendSpec

if TYPE_CHECKING:  # the annotation only; torch is imported where a torch backend runs
    import torch


class Segmenter(Protocol):
    """A person segmenter or matting network.

    ``predict`` takes one RGB uint8 frame ``(H, W, 3)`` and returns the raw person
    probability / alpha as float32 ``(h, w)`` in [0, 1] at the model's own output
    resolution; resizing it to the frame is a separate shared step
    (``ops.resize_linear`` of the engine). Backends with memory across frames
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
        spec: the backend's :class:`~livematte.models.spec.BackendSpec` (set by the registry).
    """

    name: str
    description: str
    available: bool
    reason: str = ""
    resolution: Optional[Tuple[int, int]] = None
    spec: Optional[BackendSpec] = None


def image_to_tensor(image: np.ndarray, device) -> "torch.Tensor":
    """RGB uint8 ``(H, W, 3)`` -> float ``[1, 3, H, W]`` in [0, 1] on ``device`` (torch backends).

    Raises TypeError / ValueError for a wrong dtype / shape ("got X, expected Y").
    """
    import torch

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 ndarray, got {getattr(image, 'dtype', type(image))}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    return x.permute(2, 0, 1)[None].float().div_(255.0)  # [1, 3, H, W]
