"""MobileNet feature extractors laid out so published checkpoints load by name.

* :class:`MobileNetV2Features` -- MobileNetV2 (Sandler et al. 2018) as MODNet's backbone
  names it: ``features.{0..18}``, inverted residuals with a flat ``conv`` sequence.
* :class:`MobileNetV3LargeEncoder` -- MobileNetV3-Large (Howard et al. 2019) with
  torchvision's parameter names (``features.{i}.block.{j}.{0,1}``, SE ``fc1``/``fc2``),
  the last three blocks dilated instead of strided, as Robust Video Matting uses it.

Both only compute features (no classifier). Layer sizes come from the papers' tables.
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Type

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, never losing more than 10%.

    >>> make_divisible(72 // 4), make_divisible(960 // 4), make_divisible(120 // 4)
    (24, 240, 32)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
            dilation: int = 1, act: Optional[Type[nn.Module]] = None,
            eps: float = 1e-5) -> List[nn.Module]:
    """``[Conv2d (no bias, 'same' padding), BatchNorm2d, act?]`` as a list of modules."""
    layers: List[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2 * dilation,
                  dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
    ]
    if act is not None:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.Hardswish) else act())
    return layers


# --------------------------------------------------------------------------- MobileNetV2



def stage_outputs(features: nn.Sequential, stage_ends, x: Tensor) -> List[Tensor]:
    """Run ``features`` on ``x``, returning the outputs of the layers whose index is in ``stage_ends``."""
    outs: List[Tensor] = []
    for i, layer in enumerate(features):
        x = layer(x)
        if i in stage_ends:
            outs.append(x)
    return outs

class InvertedResidualV2(nn.Module):
    """MobileNetV2 block: (1x1 expand) -> 3x3 depthwise -> 1x1 project, ReLU6, residual."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = round(cin * expansion)
        self.use_residual = stride == 1 and cin == cout
        layers: List[nn.Module] = []
        if expansion != 1:
            layers += conv_bn(cin, hidden, 1, act=nn.ReLU6)
        layers += conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6)
        layers += conv_bn(hidden, cout, 1)
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # [B, cin, H, W] -> [B, cout, H/s, W/s]
        return x + self.conv(x) if self.use_residual else self.conv(x)


# expansion t, output channels c, repeats n, first stride s (MobileNetV2 paper, table 2)
_V2_SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2Features(nn.Module):
    """MobileNetV2 (width 1.0) feature layers ``features[0..18]`` ending in 1280 channels.

    :meth:`forward` returns the five stage outputs MODNet uses::

        [B,16,H/2,W/2], [B,24,H/4,W/4], [B,32,H/8,W/8], [B,96,H/16,W/16], [B,1280,H/32,W/32]
    """

    stage_ends = (1, 3, 6, 13, 18)
    channels = (16, 24, 32, 96, 1280)

    def __init__(self, in_channels: int = 3):
        super().__init__()
        layers: List[nn.Module] = [nn.Sequential(*conv_bn(in_channels, 32, 3, 2, act=nn.ReLU6))]
        cin = 32
        for t, c, n, s in _V2_SETTING:
            for i in range(n):
                layers.append(InvertedResidualV2(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(nn.Sequential(*conv_bn(cin, 1280, 1, act=nn.ReLU6)))
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> List[Tensor]:
        return stage_outputs(self.features, self.stage_ends, x)


# --------------------------------------------------------------------------- MobileNetV3


class SqueezeExcitation(nn.Module):
    """Channel attention: mean -> 1x1 conv -> ReLU -> 1x1 conv -> hard sigmoid -> scale."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: Tensor) -> Tensor:  # [B, C, H, W]
        scale = F.adaptive_avg_pool2d(x, 1)  # [B, C, 1, 1]
        scale = F.hardsigmoid(self.fc2(F.relu(self.fc1(scale), inplace=True)), inplace=True)
        return x * scale


class InvertedResidualV3(nn.Module):
    """MobileNetV3 bottleneck; parameters under ``block.{j}`` as torchvision names them."""

    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, use_se: bool,
                 hardswish: bool, stride: int, dilation: int, eps: float = 1e-3):
        super().__init__()
        act = nn.Hardswish if hardswish else nn.ReLU
        self.use_residual = stride == 1 and cin == cout
        parts: List[nn.Module] = []
        if expanded != cin:
            parts.append(nn.Sequential(*conv_bn(cin, expanded, 1, act=act, eps=eps)))
        parts.append(nn.Sequential(*conv_bn(expanded, expanded, kernel, 1 if dilation > 1 else stride,
                                            groups=expanded, dilation=dilation, act=act, eps=eps)))
        if use_se:
            parts.append(SqueezeExcitation(expanded, make_divisible(expanded // 4)))
        parts.append(nn.Sequential(*conv_bn(expanded, cout, 1, eps=eps)))
        self.block = nn.Sequential(*parts)

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return y + x if self.use_residual else y


# in, kernel, expanded, out, SE, hard-swish, stride, dilation (MobileNetV3 paper, table 1;
# RVM dilates the last stage instead of striding it, keeping the encoder at 1/16)
_V3_LARGE: List[Tuple[int, int, int, int, bool, bool, int, int]] = [
    (16, 3, 16, 16, False, False, 1, 1),
    (16, 3, 64, 24, False, False, 2, 1),
    (24, 3, 72, 24, False, False, 1, 1),
    (24, 5, 72, 40, True, False, 2, 1),
    (40, 5, 120, 40, True, False, 1, 1),
    (40, 5, 120, 40, True, False, 1, 1),
    (40, 3, 240, 80, False, True, 2, 1),
    (80, 3, 200, 80, False, True, 1, 1),
    (80, 3, 184, 80, False, True, 1, 1),
    (80, 3, 184, 80, False, True, 1, 1),
    (80, 3, 480, 112, True, True, 1, 1),
    (112, 3, 672, 112, True, True, 1, 1),
    (112, 5, 672, 160, True, True, 2, 2),
    (160, 5, 960, 160, True, True, 1, 2),
    (160, 5, 960, 160, True, True, 1, 2),
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MobileNetV3LargeEncoder(nn.Module):
    """MobileNetV3-Large ``features[0..16]`` (BatchNorm eps 1e-3), input RGB in [0, 1].

    :meth:`forward` normalises with the ImageNet mean/std and returns::

        f1 [B,16,H/2,W/2], f2 [B,24,H/4,W/4], f3 [B,40,H/8,W/8], f4 [B,960,H/16,W/16]
    """

    stage_ends = (1, 3, 6, 16)
    channels = (16, 24, 40, 960)

    def __init__(self):
        super().__init__()
        eps = 1e-3
        layers: List[nn.Module] = [nn.Sequential(*conv_bn(3, 16, 3, 2, act=nn.Hardswish, eps=eps))]
        layers += [InvertedResidualV3(*cfg, eps=eps) for cfg in _V3_LARGE]
        layers.append(nn.Sequential(*conv_bn(160, 960, 1, act=nn.Hardswish, eps=eps)))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> List[Tensor]:  # x: [B, 3, H, W] in [0, 1]
        x = (x - self.mean) / self.std
        return stage_outputs(self.features, self.stage_ends, x)
