"""The effects of :mod:`livematte.effects` in torch: frame and alpha on the device, one download.

Each effect has ``apply_tensor(image [H, W, 3] uint8, alpha [H, W] float) -> uint8 [H, W, 3|4]``
on the device, and ``apply(image, alpha)`` with the CPU effects' contract: numpy (or device) frame
and alpha in, numpy uint8 picture out. ``apply`` finds the frame the matter already uploaded
(:meth:`~livematte.gpu.transfer.Transfer.cached`) and downloads the picture once.

Mirrors: ``composite`` = ``cv2.blendLinear`` (rounded); ``Blur`` = the normalised convolution at
low resolution (2x area downscales, Gaussian of the weighted image and of the weight, truncation to
uint8, bilinear upscale); ``Replace`` / ``Chroma``: the background is prepared on the CPU with
``effects.cover`` (once for a colour or image, per frame for a video) and uploaded; ``Transparent``
and ``Matte``: ``round(alpha * 255)``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from .. import effects as cpu
from ..types import LivematteError
from . import ops
from .transfer import Transfer


def composite(fg: torch.Tensor, bg: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``fg * alpha + bg * (1 - alpha)``, rounded: uint8 [H, W, 3] x2, alpha [H, W] -> uint8 [H, W, 3]."""
    a = alpha[..., None]
    f, b = fg.float(), bg.float()
    return ops.round_half_up(torch.addcmul(b, f - b, a)).to(torch.uint8)


def alpha_to_u8(alpha: torch.Tensor) -> torch.Tensor:
    """``cv2.convertScaleAbs(alpha, alpha=255)``: [H, W] float -> uint8 (rounded, saturated)."""
    return torch.round(alpha * 255).abs_().clamp_(0, 255).to(torch.uint8)


class _TorchEffect:
    alpha = False

    def __init__(self, transfer: Transfer, reuse_output: bool = False):
        self.transfer, self.reuse_output = transfer, reuse_output

    def apply_tensor(self, image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def apply(self, image, alpha) -> np.ndarray:
        """numpy or device frame uint8 (H, W, 3) and alpha (H, W) -> numpy uint8 picture.

        ``reuse_output``: the array is a view of a pinned buffer reused ``transfer.slots`` frames
        later (the file pipeline); otherwise an owned copy.
        """
        with torch.inference_mode():
            x = self.transfer.cached(image)
            # a numpy alpha may be the smoother's read-only past: torch wants a writable array
            a = alpha if isinstance(alpha, torch.Tensor) else torch.from_numpy(np.require(alpha, np.float32, ['W']))
            out = self.apply_tensor(x, a.to(self.transfer.device, non_blocking=True))
            return self.transfer.download(out, copy=not self.reuse_output)

    def reset(self) -> None:
        pass


class TorchBlur(_TorchEffect):
    """``effects.Blur``: the background blurred, the person's own pixels excluded from the blur."""

    def __init__(self, strength: float = 24.0, **kw):
        super().__init__(**kw)
        cpu.Blur(strength)  # the same validation and message
        self.strength = float(strength)

    def background(self, image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """uint8 [H, W, 3], alpha [H, W] -> blurred background uint8 [H, W, 3]."""
        H, W = image.shape[:2]
        sigma = self.strength * H / 1080
        halvings = cpu.blur_halvings(sigma)
        small, weight = image.permute(2, 0, 1).float(), alpha  # [3, H, W], [H, W]
        for _ in range(halvings):  # cv2 rounds each uint8 level
            h, w = max(1, small.shape[1] // 2), max(1, small.shape[2] // 2)
            small = ops.round_half_up(ops.resize_area(small, (h, w)))
            weight = ops.resize_area(weight, (h, w))
        weight = (1.0 - weight) * 0.98 + 0.02  # [h, w]
        s = sigma / (1 << halvings)
        num = ops.gaussian_blur(small * weight, s)  # [3, h, w]
        den = ops.gaussian_blur(weight, s)  # [h, w]
        bg = (num / den).clamp_(0, 255).trunc_()  # np.clip(...).astype(uint8) truncates
        return ops.resize_linear(bg, (H, W), rounded=True).permute(1, 2, 0).to(torch.uint8)

    def apply_tensor(self, image, alpha):
        return composite(image, self.background(image, alpha), alpha)


class TorchReplace(_TorchEffect):
    """``effects.Replace`` (colour, image, or a looping video's frames) and ``Chroma``."""

    def __init__(self, source: cpu.Replace, **kw):
        super().__init__(**kw)
        self.source = source
        self.color = source.color
        self._cache: Optional[torch.Tensor] = None  # uint8 [H, W, 3] on the device

    def background(self, size: Tuple[int, int]) -> torch.Tensor:
        if self.source.next_frame is not None:  # a video: one more upload per frame
            return self.transfer.upload(self.source.background(size)).clone()
        if self._cache is None or tuple(self._cache.shape[:2]) != tuple(size):
            if self.color is not None:
                c = torch.tensor(self.color, dtype=torch.uint8, device=self.transfer.device)
                self._cache = c.expand(*size, 3)
            else:
                self._cache = torch.from_numpy(np.ascontiguousarray(self.source.background(size))).to(self.transfer.device)
        return self._cache

    def apply_tensor(self, image, alpha):
        return composite(image, self.background(tuple(image.shape[:2])), alpha)

    def reset(self) -> None:
        self.source.reset()


class TorchTransparent(_TorchEffect):
    """``effects.Transparent``: RGBA [H, W, 4] with the matte as alpha."""

    alpha = True

    def apply_tensor(self, image, alpha):
        return torch.cat([image, alpha_to_u8(alpha)[..., None]], dim=2)


class TorchMatte(_TorchEffect):
    """``effects.Matte``: the alpha as grey RGB [H, W, 3]."""

    def apply_tensor(self, image, alpha):
        return alpha_to_u8(alpha)[..., None].expand(*alpha.shape, 3).contiguous()


def from_cpu_effect(effect, transfer: Transfer, *, reuse_output: bool = False):
    """The torch twin of a CPU effect object from :func:`livematte.effects.make_effect`."""
    kw = dict(transfer=transfer, reuse_output=reuse_output)
    if isinstance(effect, cpu.Blur):
        return TorchBlur(effect.strength, **kw)
    if isinstance(effect, cpu.Replace):
        return TorchReplace(effect, **kw)
    if isinstance(effect, cpu.Transparent):
        return TorchTransparent(**kw)
    if isinstance(effect, cpu.Matte):
        return TorchMatte(**kw)
    raise LivematteError(f"no torch version of the effect {type(effect).__name__}")


def make_torch_effect(spec: str, *, blur_strength: float = 24.0, transfer: Optional[Transfer] = None,
                      device=None, reuse_output: bool = False):
    """``effects.make_effect`` for the torch path: same specs, same errors.

    Pass the matter's ``transfer`` (``matter.transfer``) so the frame is uploaded once per frame;
    without it a new one is made on ``device`` (resolved like ``--device``).
    """
    if transfer is None:
        from .device import resolve_device

        transfer = Transfer(device if isinstance(device, torch.device) else resolve_device(device or "auto"))
    return from_cpu_effect(cpu.make_effect(spec, blur_strength=blur_strength), transfer, reuse_output=reuse_output)
