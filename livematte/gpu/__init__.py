"""The whole frame path in torch, for ``--device auto|cpu|cuda`` (see docs/gpu.md).

* :func:`resolve_device` -- ``auto`` picks CUDA when present.
* :func:`build_torch_matter` -> :class:`TorchMatter` (the ``Matter`` contract, plus ``matte_tensor``).
* :class:`TorchMattingMatter` -- the same contract for ``modnet`` / ``rvm`` (state in CUDA graphs).
* :func:`make_torch_effect` -- the effects on the device, sharing the matter's ``transfer``.
* :func:`build_frame_path` -- ``(matter, effect)`` for ``config.model.device`` (torch on CUDA only);
  :func:`build_device_matter` -- the torch matter for a model on a device (the live path).
"""
from .device import cuda_available, resolve_device
from .effects import make_torch_effect
from .matter import TorchMatter, build_torch_matter
from .matting import TorchMattingMatter
from .transfer import Transfer, to_numpy
from .wiring import build_device_matter, build_frame_path

__all__ = ["TorchMatter", "TorchMattingMatter", "Transfer", "build_device_matter", "build_frame_path",
           "build_torch_matter", "cuda_available", "make_torch_effect", "resolve_device", "to_numpy"]
