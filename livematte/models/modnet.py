"""MODNet portrait matting (Ke et al., "MODNet: Real-Time Trimap-Free Portrait Matting").

Backend ``modnet``: a MobileNetV2 network that predicts an alpha matte from one RGB frame.
It loads the official checkpoints exactly as published (``nn.DataParallel`` keys with the
``module.`` prefix), either ``modnet_photographic_portrait_matting.ckpt`` or
``modnet_webcam_portrait_matting.ckpt`` from the weights folder, or ``--weights PATH``.

Input handling follows MODNet's documented image inference: RGB scaled to [-1, 1]
(mean = std = 0.5); the frame is area-resized so its short side is ``ref_size`` (512) when
it is larger than that on both sides or smaller on both, then each side is floored to a
multiple of 32. The matte comes back at that working resolution.

Only the inference path is computed: the semantic (``lr_branch.conv_lr``) and detail
(``hr_branch.conv_hr``) heads exist so checkpoints load strictly, but never run.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import BackendInfo, image_to_tensor
from .checkpoints import (CheckpointSpec, PathLike, find, load_checkpoint, missing_reason, reject_options,
                          torch_device, torch_runtime)
from .mobilenet import MobileNetV2Features
from ..types import LivematteError

_URL = "https://drive.google.com/drive/folders/1umYmlCulvIFNaqPjwod1SayFmSRHziyR"
PHOTOGRAPHIC = CheckpointSpec("modnet photographic", "modnet_photographic_portrait_matting.ckpt",
                              url=_URL, licence="Apache-2.0", prefix="module.")
WEBCAM = CheckpointSpec("modnet webcam", "modnet_webcam_portrait_matting.ckpt",
                        url=_URL, licence="Apache-2.0", prefix="module.")
VARIANTS = {"photographic": PHOTOGRAPHIC, "webcam": WEBCAM}
REF_SIZE = 512


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class IBNorm(nn.Module):
    """BatchNorm on the first half of the channels, InstanceNorm (no affine) on the rest."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn_channels = channels // 2
        self.bnorm = nn.BatchNorm2d(self.bn_channels)
        self.inorm = nn.InstanceNorm2d(channels - self.bn_channels, affine=False)

    def forward(self, x: Tensor) -> Tensor:  # [B, C, H, W]
        a, b = x[:, :self.bn_channels], x[:, self.bn_channels:]
        return torch.cat((self.bnorm(a.contiguous()), self.inorm(b.contiguous())), 1)


class ConvIBNRelu(nn.Module):
    """Conv2d (with bias) -> IBNorm? -> ReLU?, kept under ``layers`` as MODNet names it."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
                 ibn: bool = True, relu: bool = True):
        super().__init__()
        layers: List[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, padding)]
        if ibn:
            layers.append(IBNorm(cout))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class SEBlock(nn.Module):
    """Squeeze-excitation with bias-free linear layers: ``fc.0`` (C -> C/r), ``fc.2`` (C/r -> C)."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False),
                                nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels, bias=False),
                                nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:  # [B, C, H, W]
        w = self.fc(x.mean(dim=(2, 3)))  # [B, C]
        return x * w[:, :, None, None]


class Backbone(nn.Module):
    """Holds the MobileNetV2 under ``model`` (checkpoint keys ``backbone.model.features.*``)."""

    def __init__(self):
        super().__init__()
        self.model = MobileNetV2Features(3)
        self.enc_channels = list(MobileNetV2Features.channels)

    def forward(self, x: Tensor) -> List[Tensor]:
        return self.model(x)


class LRBranch(nn.Module):
    """Low-resolution (semantic) branch: backbone -> SE -> two upsampling convs to 1/8."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        enc = backbone.enc_channels
        self.backbone = backbone
        self.se_block = SEBlock(enc[4], 4)
        self.conv_lr16x = ConvIBNRelu(enc[4], enc[3], 5, padding=2)
        self.conv_lr8x = ConvIBNRelu(enc[3], enc[2], 5, padding=2)
        self.conv_lr = ConvIBNRelu(enc[2], 1, 3, stride=2, padding=1, ibn=False, relu=False)  # training only

    def forward(self, img: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        enc2x, enc4x, _, _, enc32x = self.backbone(img)
        lr16x = self.conv_lr16x(_up2(self.se_block(enc32x)))  # [B, 96, H/16, W/16]
        lr8x = self.conv_lr8x(_up2(lr16x))                    # [B, 32, H/8, W/8]
        return lr8x, enc2x, enc4x


class HRBranch(nn.Module):
    """High-resolution (detail) branch at 1/4 and 1/2 resolution."""

    def __init__(self, hr: int, enc: Sequence[int]):
        super().__init__()
        self.tohr_enc2x = ConvIBNRelu(enc[0], hr, 1)
        self.conv_enc2x = ConvIBNRelu(hr + 3, hr, 3, stride=2, padding=1)
        self.tohr_enc4x = ConvIBNRelu(enc[1], hr, 1)
        self.conv_enc4x = ConvIBNRelu(2 * hr, 2 * hr, 3, padding=1)
        self.conv_hr4x = nn.Sequential(ConvIBNRelu(3 * hr + 3, 2 * hr, 3, padding=1),
                                       ConvIBNRelu(2 * hr, 2 * hr, 3, padding=1),
                                       ConvIBNRelu(2 * hr, hr, 3, padding=1))
        self.conv_hr2x = nn.Sequential(ConvIBNRelu(2 * hr, 2 * hr, 3, padding=1),
                                       ConvIBNRelu(2 * hr, hr, 3, padding=1),
                                       ConvIBNRelu(hr, hr, 3, padding=1),
                                       ConvIBNRelu(hr, hr, 3, padding=1))
        self.conv_hr = nn.Sequential(ConvIBNRelu(hr + 3, hr, 3, padding=1),  # training only
                                     ConvIBNRelu(hr, 1, 1, ibn=False, relu=False))

    def forward(self, img: Tensor, enc2x: Tensor, enc4x: Tensor, lr8x: Tensor) -> Tensor:
        img2x = F.interpolate(img, scale_factor=0.5, mode="bilinear", align_corners=False)
        img4x = F.interpolate(img, scale_factor=0.25, mode="bilinear", align_corners=False)
        enc2x = self.tohr_enc2x(enc2x)                                  # [B, hr, H/2, W/2]
        hr4x = self.conv_enc2x(torch.cat((img2x, enc2x), 1))            # [B, hr, H/4, W/4]
        hr4x = self.conv_enc4x(torch.cat((hr4x, self.tohr_enc4x(enc4x)), 1))
        hr4x = self.conv_hr4x(torch.cat((hr4x, _up2(lr8x), img4x), 1))  # [B, hr, H/4, W/4]
        return self.conv_hr2x(torch.cat((_up2(hr4x), enc2x), 1))        # [B, hr, H/2, W/2]


class FusionBranch(nn.Module):
    """Fuses the semantic and detail features into the full-resolution matte."""

    def __init__(self, hr: int, enc: Sequence[int]):
        super().__init__()
        self.conv_lr4x = ConvIBNRelu(enc[2], hr, 5, padding=2)
        self.conv_f2x = ConvIBNRelu(2 * hr, hr, 3, padding=1)
        self.conv_f = nn.Sequential(ConvIBNRelu(hr + 3, hr // 2, 3, padding=1),
                                    ConvIBNRelu(hr // 2, 1, 1, ibn=False, relu=False))

    def forward(self, img: Tensor, lr8x: Tensor, hr2x: Tensor) -> Tensor:
        lr2x = _up2(self.conv_lr4x(_up2(lr8x)))                   # [B, hr, H/2, W/2]
        f2x = self.conv_f2x(torch.cat((lr2x, hr2x), 1))
        return torch.sigmoid(self.conv_f(torch.cat((_up2(f2x), img), 1)))  # [B, 1, H, W]


class MODNet(nn.Module):
    """The MODNet network; ``forward(img [B,3,H,W] in [-1,1], H and W multiples of 32)`` -> matte."""

    def __init__(self, hr_channels: int = 32):
        super().__init__()
        self.backbone = Backbone()  # also reachable as lr_branch.backbone: both key sets load
        self.lr_branch = LRBranch(self.backbone)
        self.hr_branch = HRBranch(hr_channels, self.backbone.enc_channels)
        self.f_branch = FusionBranch(hr_channels, self.backbone.enc_channels)

    def forward(self, img: Tensor) -> Tensor:  # [B, 3, H, W] -> [B, 1, H, W] in [0, 1]
        lr8x, enc2x, enc4x = self.lr_branch(img)
        hr2x = self.hr_branch(img, enc2x, enc4x, lr8x)
        return self.f_branch(img, lr8x, hr2x)


def input_size(height: int, width: int, ref_size: int = REF_SIZE) -> Tuple[int, int]:
    """MODNet's working size ``(h, w)`` for a frame, per its reference inference.

    >>> input_size(720, 1280), input_size(1080, 1920), input_size(480, 640), input_size(300, 400)
    ((512, 896), (512, 896), (480, 640), (512, 672))
    """
    h, w = height, width
    if max(h, w) < ref_size or min(h, w) > ref_size:
        if w >= h:
            h, w = ref_size, int(w / h * ref_size)
        else:
            h, w = int(h / w * ref_size), ref_size
    h, w = h - h % 32, w - w % 32
    if h < 32 or w < 32:
        raise LivematteError(f"modnet: a {width}x{height} frame is too small (needs >= 32 px per side "
                             f"after resizing)")
    return h, w


class ModnetSegmenter:
    """The ``modnet`` backend: stateless per-frame matting.

    Attributes:
        name: ``"modnet"``.
        checkpoint: the file that was loaded.
        ref_size: the short side the frame is resized to (see :func:`input_size`).
    """

    def __init__(self, net: MODNet, *, name: str = "modnet", device: str = "auto",
                 ref_size: int = REF_SIZE, checkpoint: str = ""):
        if ref_size < 32:
            raise LivematteError(f"modnet: ref_size must be at least 32, got {ref_size}")
        self.name = name
        self.checkpoint = checkpoint
        self.ref_size = int(ref_size)
        self.device = torch_device(device)
        self.net = net.eval().to(self.device)

    def reset(self) -> None:
        """MODNet keeps nothing across frames."""

    @torch.inference_mode()
    def infer(self, x: Tensor) -> Tensor:
        """``x`` [B,3,H,W] float in [0,1] -> matte [B,1,h,w] at the working size (area resize)."""
        h, w = input_size(x.shape[-2], x.shape[-1], self.ref_size)
        x = (x.to(self.device, next(self.net.parameters()).dtype) - 0.5) / 0.5
        if (h, w) != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=(h, w), mode="area")
        return self.net(x)

    @torch.inference_mode()
    def forward_tensor(self, x: Tensor) -> Tensor:
        """``x`` [B,3,H,W] float in [0,1] on the model's device -> alpha [B,1,H,W] (bilinear)."""
        matte = self.infer(x)
        if matte.shape[-2:] != x.shape[-2:]:
            matte = F.interpolate(matte, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
        return matte.clamp(0.0, 1.0)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> float32 alpha ``(h, w)`` at the working resolution."""
        x = image_to_tensor(image, self.device)  # [1, 3, H, W]
        return self.infer(x)[0, 0].float().cpu().numpy()


def _variant_specs(variant: Optional[str]) -> List[CheckpointSpec]:
    if variant is None:
        return [PHOTOGRAPHIC, WEBCAM]
    if variant not in VARIANTS:
        raise LivematteError(f"modnet: unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
    return [VARIANTS[variant]]


def backend_info(name: str) -> BackendInfo:
    """Available when a MODNet checkpoint is in the weights folder (photographic preferred)."""
    found = find([PHOTOGRAPHIC, WEBCAM])
    desc = "MODNet portrait matting, MobileNetV2 (user-supplied checkpoint, Apache-2.0)"
    if found is None:
        return BackendInfo(name, desc, False, missing_reason(PHOTOGRAPHIC))
    return BackendInfo(name, f"{desc}: {found.filename}", True)


def network() -> MODNet:
    """A bare, untrained :class:`MODNet` on the CPU (the matting-module contract of the registry)."""
    return MODNet()


def wrap(net: MODNet, *, name: str = "modnet", device: str = "auto", checkpoint: str = "",
         **options) -> ModnetSegmenter:
    """The ``modnet`` backend around a loaded ``net`` (``options``: ``ref_size``)."""
    return ModnetSegmenter(net, name=name, device=device, checkpoint=checkpoint, **options)


def create(name: str = "modnet", *, weights: Optional[PathLike] = None, device: str = "auto",
           variant: Optional[str] = None, ref_size: int = REF_SIZE, runtime: Optional[str] = None,
           threads: Optional[int] = None, **options: object) -> ModnetSegmenter:
    """Build the ``modnet`` backend.

    Args:
        weights: a checkpoint file; default: ``variant``'s file in the weights folder.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or a CUDA device.
        variant: ``"photographic"`` or ``"webcam"``; default: the photographic file if present,
            else the webcam file.
        ref_size: MODNet's reference short side (512 as published).
        runtime: ``None``, ``"auto"`` or ``"torch"`` (the only engine).
        threads: torch CPU threads (process-wide), when running on the CPU.

    Raises:
        LivematteError: no checkpoint, a checkpoint that does not fit MODNet, or an option
            MODNet does not have (options given as None are ignored).
    """
    reject_options(name, options)
    torch_runtime(name, runtime, threads, torch_device(device))
    specs = _variant_specs(variant)
    spec = specs[0] if weights is not None else (find(specs) or specs[0])
    net = network()
    path = load_checkpoint(net, spec, weights)
    return wrap(net, name=name, device=device, ref_size=ref_size, checkpoint=str(path))
