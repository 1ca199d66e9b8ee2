"""MODNet / RVM backends with random weights, for speed measurements and tests.

Speed does not depend on the weights, so ``livematte bench --random-weights`` measures the
matting networks without the user-supplied checkpoints (see ``weights/README.md``). The values
are plausible rather than arbitrary: He-scaled convolutions, unit-ish norm statistics, and for
RVM the published fixed 3x3 box filter and an alpha head calibrated so that the random alpha
spreads over (0, 1) instead of clamping to a flat 0 (which would hide the recurrent state).

>>> seg = random_backend("rvm", device="cpu")
>>> seg.checkpoint, seg.predict(smooth_picture(32, 48)).shape
('random', (32, 48))
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..types import LivematteError
from .checkpoints import torch_device, torch_runtime
from .registry import backend_module, names, spec
from .rvm import MattingNetwork

#: the backends random weights exist for: the matting networks (user checkpoints; the object
#: family's random-weight files are ONNX exports, made by the tests)
MODELS = tuple(names("matting"))


def smooth_picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB uint8 picture ``(h, w, 3)`` (bilinear upsampling of 1/8-size noise)."""
    rng = np.random.default_rng(seed)
    small = torch.from_numpy(rng.random((1, 3, h // 8 + 2, w // 8 + 2), dtype=np.float32))
    big = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return (big[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


@torch.no_grad()
def fill_random(module: nn.Module, seed: int = 0) -> None:
    """Overwrite every tensor of ``module``'s state dict, in state-dict order, with random values.

    Integer tensors (BatchNorm's counters) become 0; running variances and 1-D scales
    0.5 + U(0, 1); running means and biases N(0, 0.05); weights of rank >= 2 N(0, 2 / fan_in).
    A tensor shared under two names is drawn twice; the later name's values stay.
    """
    g = torch.Generator().manual_seed(seed)
    for key, t in module.state_dict().items():
        shape = tuple(t.shape)
        if not t.is_floating_point():
            value = torch.zeros(shape, dtype=t.dtype)
        elif key.endswith("running_var"):
            value = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith("running_mean") or key.endswith(".bias"):
            value = 0.05 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # norm scale
            value = 0.5 + torch.rand(shape, generator=g)
        else:  # conv / linear weights, He-scaled
            value = torch.randn(shape, generator=g) * (2.0 / int(np.prod(shape[1:]))) ** 0.5
        t.copy_(value)


@torch.no_grad()
def calibrate_rvm(net: MattingNetwork) -> None:
    """Rescale RVM's alpha projection so the random alpha has mean 0.5 and std 0.25 on a smooth
    picture (at ratios 1 and 0.5), and damp the refiner's predicted slopes by 0.05."""
    net.refiner.box_filter.weight.fill_(1 / 9)  # a fixed 3x3 mean in the published file
    raw = []
    hook = net.project_mat.register_forward_hook(lambda m, i, o: raw.append(o[:, 3].flatten()))
    x = torch.from_numpy(smooth_picture(64, 96, 9)).permute(2, 0, 1)[None].float() / 255
    was_training = net.training
    net.eval()
    try:
        for ratio in (1.0, 0.5):
            net(x, [None] * 4, ratio)
    finally:
        hook.remove()
        net.train(was_training)
    raw = torch.cat(raw)
    scale = 0.25 / raw.std()
    w, b = net.project_mat.conv.weight, net.project_mat.conv.bias
    w[3] *= scale
    b[3] = b[3] * scale + 0.5 - raw.mean() * scale
    net.refiner.conv[6].weight.mul_(0.05)
    net.refiner.conv[6].bias.mul_(0.05)


def random_network(name: str, seed: int = 0) -> nn.Module:
    """The bare network of a backend that needs a checkpoint (``modnet``: ``MODNet``, ``rvm``:
    ``MattingNetwork``, calibrated by :func:`calibrate_rvm`) with random weights, on the CPU.

    Raises LivematteError for an unknown name or a backend that ships with its own weights.
    """
    if spec(name).family != "matting":
        raise LivematteError(f"random weights are for {' and '.join(MODELS)}; {name!r} ships with its own weights")
    net = backend_module(name).network()
    fill_random(net, seed)
    if isinstance(net, MattingNetwork):  # the architecture whose random alpha would clamp to 0
        calibrate_rvm(net)
    return net


def random_backend(name: str, *, device: str = "auto", seed: int = 0, threads: Optional[int] = None,
                   runtime: Optional[str] = None, **options):
    """The ``modnet`` / ``rvm`` backend (``ModnetSegmenter`` / ``RvmSegmenter``) with random weights.

    ``options`` are the backend's own (``ref_size``; ``downsample_ratio``, ``full_body``,
    ``scene_cut``); ``checkpoint`` reads ``"random"``; ``runtime`` is checked as for a checkpoint
    (``None``, ``auto`` or ``torch``). Raises LivematteError for other names or runtimes.
    """
    net = random_network(name, seed)
    torch_runtime(name, runtime, threads, torch_device(device))
    return backend_module(name).wrap(net, name=name, device=device, checkpoint="random", **options)
