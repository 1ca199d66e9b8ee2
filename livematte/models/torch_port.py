"""PyTorch ports of the MediaPipe models livematte runs, rebuilt from their ``.tflite`` files.

:func:`build_selfie_module` / :func:`load_selfie_torch` port the selfie segmentation models and
:func:`build_pose_module` / :func:`load_pose_torch` the pose model's person mask, with the porter of
:mod:`livematte.models.tflite_torch` (NCHW, exact TFLite padding and resize rules, no file written).

Contract of the selfie module: input ``[B, 3, H, W]`` float RGB in [0, 1] (NCHW, H x W the
model's size, ``registry.spec(name).input_size``); output ``[B, 1, H, W]`` person probability
(the model's own final sigmoid included).

Example:
    >>> net = load_selfie_torch("selfie")                  # doctest: +SKIP
    >>> net(torch.rand(1, 3, 256, 256)).shape               # doctest: +SKIP
    torch.Size([1, 1, 256, 256])
"""
from __future__ import annotations

import copy
import os
import threading
from typing import Dict, Tuple

import torch
from torch import fx, nn

from ..types import LivematteError
from .bundled import path as bundled_path
from .bundled import selfie_model_path
from .tflite_reader import read_tflite
from .tflite_torch import port_model


class SelfieNet(nn.Module):
    """The ported selfie network: ``forward(image [B, 3, H, W]) -> probability [B, 1, H, W]``.

    Attributes:
        graph: the generated ``GraphModule`` (``net.graph.code`` shows its forward).
        input_size: the model's fixed ``(H, W)``.
    """

    def __init__(self, graph: fx.GraphModule, input_size: Tuple[int, int]):
        super().__init__()
        self.graph = graph
        self.input_size = input_size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.graph(image)


def build_selfie_module(path) -> SelfieNet:
    """Build the torch module for a selfie segmentation ``.tflite`` file (CPU, float32).

    Input ``[B, 3, H, W]`` float RGB in [0, 1]; output ``[B, 1, H, W]`` probability.
    Raises LivematteError for a missing, corrupt or unexpected model file.
    """
    model = read_tflite(path)
    shape_in = model.tensors[model.inputs[0]].shape
    shape_out = model.tensors[model.outputs[0]].shape
    if len(shape_in) != 4 or shape_in[3] != 3 or len(shape_out) != 4 or shape_out[3] != 1:
        raise LivematteError(f"{path}: not a selfie segmentation model (input {shape_in}, "
                             f"output {shape_out})")
    size = (int(shape_in[1]), int(shape_in[2]))
    net = SelfieNet(port_model(model), size)
    try:  # one dry run proves the graph is consistent before anyone relies on it
        with torch.inference_mode():
            out = net(torch.zeros(1, 3, *size))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LivematteError(f"{path}: the ported graph does not run ({first})") from None
    if tuple(out.shape) != (1, 1) + size:
        raise LivematteError(f"{path}: the ported graph gives {tuple(out.shape)}, "
                             f"expected {(1, 1) + size}")
    return net


_CACHE: Dict[Tuple[str, int, int], nn.Module] = {}
_CACHE_LOCK = threading.Lock()


def _cached(path: str, build) -> nn.Module:
    """``build(path)`` once per process and file version; each call returns an independent copy."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = build(path)
        return copy.deepcopy(_CACHE[key])


def load_selfie_torch(model_name: str, device="cpu", dtype: torch.dtype = torch.float32,
                      channels_last: bool = True) -> SelfieNet:
    """The torch port of "selfie" or "selfie-landscape" on ``device`` in ``dtype``, in eval mode.

    The port is built from the installed model file once per process (cached in memory,
    keyed by path, size and mtime) and each call returns an independent copy, so callers
    may move or compile theirs freely. ``module.input_size`` is the model's ``(H, W)``.
    ``channels_last`` stores the 4-d weights NHWC, which makes the convolutions pick NHWC
    kernels (measured on 2 CPU threads: ~2.2-2.9 ms instead of ~3.7-7.5 ms for the 256x256
    model); inputs may be given in either memory format, outputs come back channels-last.
    """
    module = _cached(selfie_model_path(model_name), build_selfie_module).to(device=device, dtype=dtype)
    return module.to(memory_format=torch.channels_last) if channels_last else module


class PoseMaskNet(nn.Module):
    """The pose landmark model's segmentation branch (:mod:`livematte.models.pose`), ported:
    ``forward(image [B, 3, 256, 256] RGB in [0, 1]) -> person probability [B, 1, 256, 256]``
    (the model's logits through a sigmoid). Only the operators that output depends on are ported."""

    input_size = (256, 256)

    def __init__(self, graph: fx.GraphModule):
        super().__init__()
        self.graph = graph

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.graph(image))


def build_pose_module(path) -> PoseMaskNet:
    """Build :class:`PoseMaskNet` from the pose landmark ``.tflite`` (its output ``Identity_2``)."""
    net = PoseMaskNet(port_model(read_tflite(path), "Identity_2"))
    with torch.inference_mode():
        shape = tuple(net(torch.zeros(1, 3, 256, 256)).shape)
    if shape != (1, 1, 256, 256):
        raise LivematteError(f"{path}: the ported segmentation gives {shape}, expected (1, 1, 256, 256)")
    return net


def load_pose_torch(device="cpu", channels_last: bool = True) -> PoseMaskNet:
    """The torch port of the bundled pose model's person mask on ``device`` (float32, eval mode),
    built from the installed file once per process."""
    module = _cached(bundled_path("pose"), build_pose_module).to(device=device)
    return module.to(memory_format=torch.channels_last) if channels_last else module
