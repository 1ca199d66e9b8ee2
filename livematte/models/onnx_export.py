"""Small random-weight networks with the signature of each rembg model file, exported to ONNX.

No real model file can be fetched here, so the object family's plumbing (file lookup, rembg's
preprocessing, output post-processing, the CLI) is tested on these: the same input (one
``[1, 3, S, S]`` float32 tensor) and outputs as the published files (U^2-Net: seven sigmoid maps
``[1, 1, S, S]``, the first being the mask; IS-Net: six; BiRefNet: one map of logits; BRIA
RMBG: one map), and a few convolutions so the mask depends on the picture. Needs torch and the
``onnx`` package (the ``test`` extra).

>>> import tempfile, pathlib
>>> path = export_random("u2netp", pathlib.Path(tempfile.mkdtemp()) / "u2netp.onnx")
>>> path.stat().st_size > 0
True
"""
from __future__ import annotations

import warnings
from pathlib import Path

from .registry import spec as backend_spec


def output_count(name: str) -> int:
    """How many outputs the published file of ``name`` has (rembg reads the first)."""
    if name.startswith(("u2net", "silueta")):
        return 7
    if name.startswith("isnet"):
        return 6
    return 1


def network(name: str, seed: int = 0):
    """A torch module with ``name``'s file signature and random weights (seeded)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    logits = backend_spec(name).onnx.activation == "sigmoid"
    count = output_count(name)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.heads = nn.ModuleList(nn.Conv2d(8, 1, 3, padding=1) for _ in range(count))

        def forward(self, x):  # [1, 3, S, S] -> count x [1, 1, S, S]
            y = torch.relu(self.a(x))
            z = torch.relu(self.b(F.avg_pool2d(y, 4)))
            y = y + F.interpolate(z, size=x.shape[-2:], mode="bilinear", align_corners=False)
            outs = [head(y) for head in self.heads]
            return tuple(outs) if logits else tuple(torch.sigmoid(o) for o in outs)

    torch.manual_seed(seed)
    return Net().eval()


def export_random(name: str, path, seed: int = 0) -> Path:
    """Write a random-weight ONNX file with ``name``'s signature to ``path``; returns the path."""
    import torch

    size = backend_spec(name).input_size
    net = network(name, seed)
    path = Path(path)
    count = output_count(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its legacy path
        torch.onnx.export(net, torch.zeros(1, 3, *size), str(path), input_names=["input.1"],
                          output_names=[f"d{i}" for i in range(count)], dynamo=False)
    return path
