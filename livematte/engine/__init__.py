"""The engine: the array layer, the model runners, the one host-sync point, optional CUDA graphs.

The frame algorithm (:class:`livematte.matter.Matter`, :mod:`livematte.stages`, the effects) is
written once against an engine's ``ops``; the engine is picked at the edge:

* ``numpy``: numpy + OpenCV on the CPU (:class:`~.numpy_ops.NumpyOps`), models through LiteRT;
  the fastest on a CPU.
* ``torch``: torch on any device (:class:`~.torch_ops.TorchOps`), the selfie and pose models
  ported from their .tflite files, modnet / rvm as they are; on CUDA one upload per frame, one
  host sync (``ops.to_host``), CUDA graphs for the fixed-shape work.

``--engine auto`` (``model.engine``) takes torch on CUDA and numpy on the CPU; ``torch`` with
``--device cpu`` runs the torch engine on the CPU (debugging, and the twin tests).

Array conventions of both ``ops``: ``image`` RGB 8-bit ``(H, W, 3)``; ``grey`` 8-bit ``(H, W)``;
``map`` float32 ``(h, w)``. The primitives (same names, same contracts, same border rules):

========================================  =================================================
``from_host`` / ``to_host``               host <-> engine (``to_host``: the one sync)
``grey``, ``half_area``, ``resize_linear``  colour and resizing (8-bit input rounds)
``resize_area``, ``sample_nearest``, ``regrid``, ``flow_maps`` + ``remap`` (a host flow field)
``box_filter``, ``blur``, ``gaussian_blur``  filters (OpenCV's borders and kernel sizes)
``morph_ellipse``, ``max3``, ``histogram``
``affine``, ``blend_ramps_``, ``blend_past``  combining (the numpy ones are tested
``composite``, ``alpha_u8``, ``channels``     specialisations of the general formula)
``zeros``, ``arange``, ``outer``, ``exp``, ``abs``, ``maximum``, ``minimum``, ``where``,
``step``, ``clip01_``, ``to_float``, ``to_u8``, ``copy``, ``owned``, ``freeze``, ``fill``
========================================  =================================================
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Optional

import numpy as np

from ..heap import keep_heap
from ..types import LivematteError
from .numpy_ops import NUMPY, NumpyOps

keep_heap()  # per-frame arrays come from a heap that stays (livematte.heap: ~8 ms CPU a 720p frame)

ENGINES = ("auto", "numpy", "torch")


class Engine:
    """An array layer plus what the frame path needs around it.

    Attributes:
        name: ``numpy`` or ``torch``.
        ops: the array layer (:class:`NumpyOps` or :class:`~.torch_ops.TorchOps`).
        device: ``cpu`` or the torch device.
        graphs: whether fixed-shape work is captured as CUDA graphs (torch on CUDA only).
    """

    def __init__(self, ops, *, graphs: bool = False, transfer=None):
        self.ops, self.name = ops, ops.name
        self.device = ops.device
        self.graphs = graphs
        self.transfer = transfer

    @property
    def cuda(self) -> bool:
        return self.name == "torch" and self.device.type == "cuda"

    def image(self, frame: np.ndarray):
        """A host RGB uint8 frame ``(H, W, 3)`` as an engine image (torch: one upload per frame)."""
        return frame if self.transfer is None else self.transfer.upload(frame)

    def cached(self, frame):
        """The engine image of ``frame``: the upload already made for it when there was one."""
        if self.transfer is None:
            return frame
        return self.transfer.cached(frame)

    def download(self, x, *, copy: bool = True) -> np.ndarray:
        """An engine array as numpy (torch: one copy through a pinned slot on CUDA)."""
        if self.transfer is None:
            return x
        return self.transfer.download(x, copy=copy)

    def capture(self, fn: Callable) -> Callable:
        """``fn`` replayed from a CUDA graph where possible (fixed shapes, no host sync inside);
        itself elsewhere. The result's outputs are overwritten by its next call."""
        if not self.graphs:
            return fn
        from .graphs import GraphedCall

        return GraphedCall(fn, enabled=True)

    def inference(self):
        """The context every frame runs in (torch: ``inference_mode``)."""
        if self.name != "torch":
            return contextlib.nullcontext()
        import torch

        return torch.inference_mode()

    def describe(self) -> str:
        return f"{self.name} engine on {self.device}" + (", CUDA graphs" if self.graphs else "")


def as_numpy(x) -> np.ndarray:
    """An engine array as a numpy array: numpy passes through, a tensor (any device) is copied down."""
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy()


def numpy_engine() -> Engine:
    """The numpy + OpenCV engine (CPU)."""
    return Engine(NUMPY)


def torch_engine(device="auto", *, graphs: bool = True) -> Engine:
    """The torch engine on ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N`` or a torch.device)."""
    import torch

    from .device import resolve_device
    from .torch_ops import TorchOps
    from .transfer import Transfer

    dev = device if isinstance(device, torch.device) else resolve_device(device)
    return Engine(TorchOps(dev), graphs=graphs and dev.type == "cuda", transfer=Transfer(dev))


def cuda_possible() -> bool:
    """Cheap check before importing torch: is there an NVIDIA driver on this machine at all?"""
    return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidia0") or os.name == "nt"


def resolve_engine(engine: str = "auto", device: str = "auto", *, graphs: bool = True) -> Engine:
    """The engine for ``model.engine`` and ``model.device``: ``auto`` is torch on CUDA (``--device
    auto`` finds it, ``cuda`` requires it), numpy on the CPU. One-line LivematteError for an unknown
    name, ``numpy`` with ``--device cuda``, or CUDA that is not there."""
    name = (engine or "auto").strip().lower()
    dev = (device or "auto").strip().lower()
    if name not in ENGINES:
        raise LivematteError(f"--engine {engine!r}: choose one of: {', '.join(ENGINES)}")
    if name == "numpy":
        if dev not in ("auto", "cpu"):
            raise LivematteError(f"--engine numpy runs on the CPU; for --device {device} use --engine torch (or auto)")
        return numpy_engine()
    if name == "auto":
        if dev == "cpu" or (dev == "auto" and not cuda_possible()):
            return numpy_engine()
        from .device import resolve_device

        resolved = resolve_device(dev)
        return torch_engine(resolved, graphs=graphs) if resolved.type == "cuda" else numpy_engine()
    return torch_engine(dev, graphs=graphs)


__all__ = ["ENGINES", "Engine", "NUMPY", "NumpyOps", "as_numpy", "cuda_possible", "numpy_engine", "resolve_engine", "torch_engine"]
