"""Robust Video Matting, MobileNetV3 variant (Lin et al., "Robust High-Resolution Video
Matting with Temporal Guidance", WACV 2022).

Backend ``rvm``: a recurrent network; four ConvGRU states carry what it saw in earlier
frames. It loads the official ``rvm_mobilenetv3.pth`` exactly as published (same key
names), from the weights folder or ``--weights PATH``.

Each frame is first shrunk by ``downsample_ratio`` for the encoder/decoder, then a deep
guided filter brings the matte back to full resolution. The ratio follows RVM's
documented guideline (``documentation/inference.md``: 1 up to 512x512, 0.375 at 1280x720,
0.25 at 1920x1080, 0.125 at 3840x2160 for portrait shots; 0.6 / 0.4 / 0.2 full-body), which
is: keep the long side at 480 px (portrait) or 768 px (full body). It can be overridden.

The recurrent state lives in the :class:`RvmSegmenter`. ``reset()`` clears it (call it on
a seek or a new source); it is also cleared when the frame size changes and, per frame,
when a scene cut is detected (the mean absolute difference between 32x18 RGB thumbnails
of consecutive frames, values in [0, 1], exceeds ``scene_cut``).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import BackendInfo, image_to_tensor
from .checkpoints import (CheckpointSpec, PathLike, default_path, load_checkpoint, missing_reason,
                          reject_options, torch_device, torch_runtime)
from .mobilenet import MobileNetV3LargeEncoder
from ..types import LivematteError

CHECKPOINT = CheckpointSpec(
    "rvm", "rvm_mobilenetv3.pth",
    url="https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/rvm_mobilenetv3.pth",
    licence="GPL-3.0")
SCENE_CUT = 0.12  # DAVIS 2016 people clips: consecutive frames <= 0.07, clip-to-clip >= 0.147
State = List[Optional[Tensor]]


def auto_downsample_ratio(height: int, width: int, full_body: bool = False) -> float:
    """RVM's recommended ``downsample_ratio`` for a frame size.

    >>> [auto_downsample_ratio(h, w) for h, w in [(512, 512), (720, 1280), (1080, 1920), (2160, 3840)]]
    [1.0, 0.375, 0.25, 0.125]
    >>> [auto_downsample_ratio(h, w, True) for h, w in [(480, 640), (720, 1280), (1080, 1920), (2160, 3840)]]
    [1.0, 0.6, 0.4, 0.2]
    """
    longest = max(height, width)
    if longest <= 512:
        return 1.0
    return min(1.0, (768.0 if full_body else 480.0) / longest)


class LRASPP(nn.Module):
    """Lite R-ASPP: a 1x1 conv branch gated by a global-pooled sigmoid branch."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:  # [B, cin, h, w] -> [B, cout, h, w]
        return self.aspp1(x) * self.aspp2(x)


class ConvGRU(nn.Module):
    """Convolutional GRU cell; ``h=None`` starts from zeros. Returns the new state."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(2 * channels, 2 * channels, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), nn.Tanh())

    def forward(self, x: Tensor, h: Optional[Tensor]) -> Tensor:  # x, h: [B, C, h, w]
        if h is None:
            h = torch.zeros_like(x)
        r, z = self.ih(torch.cat([x, h], 1)).split(self.channels, 1)
        c = self.hh(torch.cat([x, r * h], 1))
        return (1 - z) * h + z * c


def _gru_half(x: Tensor, gru: ConvGRU, h: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """Run ``gru`` on the second half of the channels; returns (features, new state)."""
    a, b = x.split(x.shape[1] // 2, 1)
    h = gru(b, h)
    return torch.cat([a, h], 1), h


class BottleneckBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.gru = ConvGRU(channels // 2)

    def forward(self, x: Tensor, h: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        return _gru_half(x, self.gru, h)


def _up_to(x: Tensor, like: Tensor) -> Tensor:
    """2x bilinear upsample, cropped to ``like``'s height and width."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, :like.shape[2], :like.shape[3]]


class UpsamplingBlock(nn.Module):
    """Upsample, concatenate the encoder skip and the shrunk image, conv, half-GRU."""

    def __init__(self, cin: int, skip: int, src: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin + skip + src, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout), nn.ReLU(True))
        self.gru = ConvGRU(cout // 2)

    def forward(self, x: Tensor, f: Tensor, s: Tensor, h: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        x = self.conv(torch.cat([_up_to(x, s), f, s], 1))
        return _gru_half(x, self.gru, h)


class OutputBlock(nn.Module):
    def __init__(self, cin: int, src: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin + src, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
                                  nn.ReLU(True), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout), nn.ReLU(True))

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        return self.conv(torch.cat([_up_to(x, s), s], 1))


class RecurrentDecoder(nn.Module):
    """Decoder with ConvGRUs at 1/16, 1/8, 1/4 and 1/2 of the (downsampled) input."""

    def __init__(self, feature: Tuple[int, ...] = (16, 24, 40, 128), decoder: Tuple[int, ...] = (80, 40, 32, 16)):
        super().__init__()
        self.decode4 = BottleneckBlock(feature[3])
        self.decode3 = UpsamplingBlock(feature[3], feature[2], 3, decoder[0])
        self.decode2 = UpsamplingBlock(decoder[0], feature[1], 3, decoder[1])
        self.decode1 = UpsamplingBlock(decoder[1], feature[0], 3, decoder[2])
        self.decode0 = OutputBlock(decoder[2], 3, decoder[3])

    def forward(self, s0: Tensor, f1: Tensor, f2: Tensor, f3: Tensor, f4: Tensor,
                rec: State) -> Tuple[Tensor, List[Tensor]]:
        pool = lambda t: F.avg_pool2d(t, 2, 2, ceil_mode=True, count_include_pad=False)  # noqa: E731
        s1 = pool(s0)
        s2 = pool(s1)
        s3 = pool(s2)
        x4, r4 = self.decode4(f4, rec[3])
        x3, r3 = self.decode3(x4, f3, s3, rec[2])
        x2, r2 = self.decode2(x3, f2, s2, rec[1])
        x1, r1 = self.decode1(x2, f1, s1, rec[0])
        return self.decode0(x1, s0), [r1, r2, r3, r4]  # [B, 16, h, w]


class Projection(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class DeepGuidedFilterRefiner(nn.Module):
    """Guided-filter upsampling whose coefficients a small 1x1 conv net predicts."""

    def __init__(self, hid: int = 16):
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        nn.init.constant_(self.box_filter.weight, 1 / 9)
        self.conv = nn.Sequential(nn.Conv2d(4 * 2 + hid, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU(True),
                                  nn.Conv2d(hid, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU(True),
                                  nn.Conv2d(hid, 4, 1, bias=True))

    def forward(self, fine_src: Tensor, base_src: Tensor, base_fgr: Tensor, base_pha: Tensor,
                base_hid: Tensor, foreground: bool = True) -> Tuple[Optional[Tensor], Tensor]:
        """Full-resolution (fgr [B,3,H,W] or None, pha [B,1,H,W]) from the small-scale outputs."""
        base_x = torch.cat([base_src, base_src.mean(1, keepdim=True)], 1)  # [B, 4, h, w]
        base_y = torch.cat([base_fgr, base_pha], 1)
        mean_x = self.box_filter(base_x)
        mean_y = self.box_filter(base_y)
        cov_xy = self.box_filter(base_x * base_y) - mean_x * mean_y
        var_x = self.box_filter(base_x * base_x) - mean_x * mean_x
        a = self.conv(torch.cat([cov_xy, var_x, base_hid], 1))
        b = mean_y - a * mean_x
        size = tuple(fine_src.shape[2:])
        if not foreground:  # every step below is per channel: only the alpha channel is needed
            a, b = a[:, 3:], b[:, 3:]
            fine_x = fine_src.mean(1, keepdim=True)
        else:
            fine_x = torch.cat([fine_src, fine_src.mean(1, keepdim=True)], 1)
        a = F.interpolate(a, size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size, mode="bilinear", align_corners=False)
        out = a * fine_x + b
        return (out[:, :3], out[:, 3:]) if foreground else (None, out)


class MattingNetwork(nn.Module):
    """RVM with the MobileNetV3-Large encoder and the deep guided filter refiner."""

    def __init__(self):
        super().__init__()
        self.backbone = MobileNetV3LargeEncoder()
        self.aspp = LRASPP(960, 128)
        self.decoder = RecurrentDecoder()
        self.project_mat = Projection(16, 4)
        self.project_seg = Projection(16, 1)  # segmentation head (published, unused here)
        self.refiner = DeepGuidedFilterRefiner()

    def forward(self, src: Tensor, rec: State, downsample_ratio: float = 1.0,
                foreground: bool = False) -> Tuple[Tensor, Optional[Tensor], List[Tensor]]:
        """One frame step.

        Args:
            src: [B, 3, H, W] RGB in [0, 1].
            rec: the four recurrent states from the previous frame (Nones at the start).
            downsample_ratio: the encoder/decoder works at ``floor(H * ratio)`` x ``floor(W * ratio)``.
            foreground: also compute the foreground colours.

        Returns:
            (pha [B,1,H,W] in [0,1], fgr [B,3,H,W] in [0,1] or None, new states r1..r4).
        """
        small = src
        if downsample_ratio != 1:
            small = F.interpolate(src, scale_factor=downsample_ratio, mode="bilinear",
                                  align_corners=False, recompute_scale_factor=False)
        f1, f2, f3, f4 = self.backbone(small)
        hid, rec = self.decoder(small, f1, f2, f3, self.aspp(f4), rec)
        fgr_res, pha = self.project_mat(hid).split([3, 1], 1)
        if downsample_ratio != 1:
            fgr_res, pha = self.refiner(src, small, fgr_res, pha, hid, foreground)
        fgr = (fgr_res + src).clamp(0.0, 1.0) if foreground else None
        return pha.clamp(0.0, 1.0), fgr, rec


class RvmSegmenter:
    """The ``rvm`` backend: matting with recurrent state kept between calls.

    Attributes:
        name: ``"rvm"``.
        checkpoint: the file that was loaded.
        downsample_ratio: the fixed ratio, or None to pick it per frame size.
        full_body: choose the full-body column of RVM's guideline instead of portrait.
        scene_cut: thumbnail difference (0..1) above which the state is cleared; None: never.
    """

    def __init__(self, net: MattingNetwork, *, name: str = "rvm", device: str = "auto",
                 downsample_ratio: Optional[float] = None, full_body: bool = False,
                 scene_cut: Optional[float] = SCENE_CUT, checkpoint: str = ""):
        if downsample_ratio is not None and not 0.0 < float(downsample_ratio) <= 1.0:
            raise LivematteError(f"rvm: downsample_ratio must be in (0, 1], got {downsample_ratio}")
        self.name = name
        self.checkpoint = checkpoint
        self.downsample_ratio = None if downsample_ratio is None else float(downsample_ratio)
        self.full_body = bool(full_body)
        self.scene_cut = scene_cut if scene_cut else None
        self.device = torch_device(device)
        # channels-last: ~25% faster on the CPU here (85 -> 64 ms at 720p), same results to 1e-6
        self.net = net.eval().to(self.device, memory_format=torch.channels_last)
        self.reset()

    def reset(self) -> None:
        """Forget every earlier frame (recurrent state and scene-cut reference)."""
        self.rec: State = [None] * 4
        self._thumb: Optional[Tensor] = None
        self._shape: Optional[Tuple[int, ...]] = None

    @property
    def has_state(self) -> bool:
        """Whether a recurrent state from an earlier frame is held."""
        return self.rec[0] is not None

    def ratio_for(self, height: int, width: int) -> float:
        """The downsample ratio used for a frame of this size."""
        if self.downsample_ratio is not None:
            return self.downsample_ratio
        return auto_downsample_ratio(height, width, self.full_body)

    def _drop_state_on_cut(self, x: Tensor) -> None:
        """Zero the state of each batch item whose picture changed abruptly (no host sync)."""
        thumb = F.adaptive_avg_pool2d(x, (18, 32))  # [B, 3, 18, 32]
        prev, self._thumb = self._thumb, thumb
        if prev is None or self.scene_cut is None or self.rec[0] is None:
            return
        keep = ((thumb - prev).abs().mean(dim=(1, 2, 3)) <= self.scene_cut).to(x.dtype)  # [B]
        self.rec = [r * keep.view(-1, 1, 1, 1) for r in self.rec]

    @torch.inference_mode()
    def step(self, x: Tensor, foreground: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        """Advance one frame: ``x`` [B,3,H,W] in [0,1] -> (pha [B,1,H,W], fgr or None)."""
        x = x.to(self.device, next(self.net.parameters()).dtype).contiguous(memory_format=torch.channels_last)
        if self._shape != tuple(x.shape):
            self.reset()
            self._shape = tuple(x.shape)
        ratio = self.ratio_for(x.shape[2], x.shape[3])
        if int(x.shape[2] * ratio) < 16 or int(x.shape[3] * ratio) < 16:
            raise LivematteError(f"rvm: downsample_ratio {ratio:g} shrinks a {x.shape[3]}x{x.shape[2]} "
                                 f"frame below 16 px; use a larger ratio")
        self._drop_state_on_cut(x)
        pha, fgr, self.rec = self.net(x, self.rec, ratio, foreground)
        return pha, fgr

    def forward_tensor(self, x: Tensor) -> Tensor:
        """``x`` [B,3,H,W] float in [0,1] on the model's device -> alpha [B,1,H,W]; updates the state."""
        return self.step(x)[0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> float32 alpha ``(H, W)`` at full resolution; updates the state."""
        x = image_to_tensor(image, self.device)  # [1, 3, H, W]
        return self.forward_tensor(x)[0, 0].float().cpu().numpy()


def backend_info(name: str) -> BackendInfo:
    """Available when ``rvm_mobilenetv3.pth`` is in the weights folder."""
    desc = "Robust Video Matting, MobileNetV3, recurrent (user-supplied checkpoint, GPL-3.0)"
    if not default_path(CHECKPOINT).is_file():
        return BackendInfo(name, desc, False, missing_reason(CHECKPOINT))
    return BackendInfo(name, desc, True)


def network() -> MattingNetwork:
    """A bare, untrained :class:`MattingNetwork` on the CPU (the matting-module contract of the registry)."""
    return MattingNetwork()


def wrap(net: MattingNetwork, *, name: str = "rvm", device: str = "auto", checkpoint: str = "",
         **options) -> RvmSegmenter:
    """The ``rvm`` backend around a loaded ``net`` (``options``: ``downsample_ratio``, ``full_body``,
    ``scene_cut``)."""
    return RvmSegmenter(net, name=name, device=device, checkpoint=checkpoint, **options)


def create(name: str = "rvm", *, weights: Optional[PathLike] = None, device: str = "auto",
           downsample_ratio: Optional[float] = None, full_body: bool = False,
           scene_cut: Optional[float] = SCENE_CUT, runtime: Optional[str] = None,
           threads: Optional[int] = None, **options: object) -> RvmSegmenter:
    """Build the ``rvm`` backend.

    Args:
        weights: a checkpoint file; default: ``rvm_mobilenetv3.pth`` in the weights folder.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or a CUDA device.
        downsample_ratio: fixed ratio in (0, 1]; default: RVM's guideline for each frame size.
        full_body: use the guideline's full-body ratios (higher) instead of portrait.
        scene_cut: thumbnail difference that clears the recurrent state; 0 or None: never.
        runtime: ``None``, ``"auto"`` or ``"torch"`` (the only engine).
        threads: torch CPU threads (process-wide), when running on the CPU.

    Raises:
        LivematteError: no checkpoint, a checkpoint that does not fit RVM, a bad option.
    """
    reject_options(name, options)
    torch_runtime(name, runtime, threads, torch_device(device))
    net = network()
    path = load_checkpoint(net, CHECKPOINT, weights)
    return wrap(net, name=name, device=device, downsample_ratio=downsample_ratio,
                full_body=full_body, scene_cut=scene_cut, checkpoint=str(path))
