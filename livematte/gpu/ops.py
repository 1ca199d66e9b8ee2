"""Torch equivalents of the OpenCV operations the CPU path uses, on any device.

Every function mirrors one cv2 call of :mod:`livematte.roi`, :mod:`livematte.refine`,
:mod:`livematte.temporal` or :mod:`livematte.effects` (named in its docstring), with the same
border rule and rounding where that matters. Images are float32 tensors holding 8-bit values
(0..255, already rounded) unless stated; shapes are in the comments.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """cv2's fixed-point rounding of 8-bit results (x + 0.5, floor), saturated to [0, 255]."""
    return torch.floor(x + 0.5).clamp_(0, 255)


def rgb_to_grey(rgb: torch.Tensor) -> torch.Tensor:
    """``cv2.cvtColor(RGB2GRAY)`` on 8-bit values, bit-exact: [3, H, W] or [H, W, 3] uint8/float -> [H, W] float.

    OpenCV computes ``(R*4899 + G*9617 + B*1868 + 8192) >> 14``.
    """
    if rgb.shape[0] == 3 and rgb.dim() == 3 and rgb.shape[-1] != 3:
        r, g, b = rgb[0], rgb[1], rgb[2]
    else:
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    acc = r.to(torch.int32) * 4899 + g.to(torch.int32) * 9617 + b.to(torch.int32) * 1868 + 8192
    return torch.bitwise_right_shift(acc, 14).to(torch.float32)


def half_area(x: torch.Tensor) -> torch.Tensor:
    """``cv2.resize(top[:2h, :2w], (w, h), INTER_AREA)`` on 8-bit values: [C, H, W] -> [C, H//2, W//2]."""
    return round_half_up(F.avg_pool2d(x[None], 2)[0])


def resize_linear(x: torch.Tensor, size: Tuple[int, int], *, rounded: bool = False) -> torch.Tensor:
    """``cv2.resize(INTER_LINEAR)`` (half-pixel centres, no antialias): [C, h, w] or [h, w] -> size (H, W).

    ``rounded`` rounds to 8-bit values, as cv2 does on uint8 input.
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    squeeze = x.dim() == 2
    y = F.interpolate(x[None, None] if squeeze else x[None], size=tuple(size), mode="bilinear",
                      align_corners=False)
    y = y[0, 0] if squeeze else y[0]
    return round_half_up(y) if rounded else y


@lru_cache(maxsize=64)
def _area_matrix_np(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights of a 1-D area resize (each output averages the input it covers)."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in), np.float64)
    for o in range(n_out):
        lo, hi = o * scale, (o + 1) * scale
        for i in range(int(np.floor(lo)), min(n_in, int(np.ceil(hi)))):
            m[o, i] = max(0.0, min(hi, i + 1) - max(lo, i))
    return (m / scale).astype(np.float32)


_MATS: dict = {}


def area_matrix(n_in: int, n_out: int, device) -> torch.Tensor:
    """The 1-D area-resize matrix on ``device`` (cached)."""
    key = (n_in, n_out, str(device))
    if key not in _MATS:
        _MATS[key] = torch.from_numpy(_area_matrix_np(n_in, n_out)).to(device)
    return _MATS[key]


def resize_area(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """``cv2.resize(INTER_AREA)`` for a downscale, any ratio (float result): [C, H, W] or [H, W] -> size."""
    H, W = x.shape[-2:]
    h, w = size
    if (H, W) == (h, w):
        return x
    ry, rx = area_matrix(H, h, x.device), area_matrix(W, w, x.device)
    return torch.matmul(torch.matmul(ry, x), rx.t())


def box_filter_reflect(x: torch.Tensor, radius: int) -> torch.Tensor:
    """``cv2.boxFilter(ksize=2r+1, BORDER_REFLECT)`` (mirror with the edge pixel repeated): [..., h, w]."""
    r = radius
    if r == 0:
        return x
    shape = x.shape
    y = x.reshape(-1, 1, *shape[-2:])
    y = torch.cat([y[..., :r, :].flip(-2), y, y[..., -r:, :].flip(-2)], dim=-2)
    y = torch.cat([y[..., :r].flip(-1), y, y[..., -r:].flip(-1)], dim=-1)
    return F.avg_pool2d(y, 2 * r + 1, stride=1).reshape(shape)


def _pad101(y: torch.Tensor, py: int, px: int) -> torch.Tensor:
    """BORDER_REFLECT_101 padding of [N, C, h, w]; falls back to edge replication on tiny images."""
    h, w = y.shape[-2:]
    mode = "reflect" if py < h and px < w else "replicate"
    return F.pad(y, [px, px, py, py], mode=mode)


def blur_reflect101(x: torch.Tensor, k: int) -> torch.Tensor:
    """``cv2.blur(x, (k, k))`` (odd k, BORDER_REFLECT_101): [h, w] -> [h, w]."""
    p = k // 2
    return F.avg_pool2d(_pad101(x[None, None], p, p), k, stride=1)[0, 0]


@lru_cache(maxsize=64)
def _gauss_np(sigma: float) -> np.ndarray:
    n = int(round(sigma * 8 + 1)) | 1  # OpenCV's kernel size for float images
    return cv2.getGaussianKernel(n, sigma, cv2.CV_32F)[:, 0]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``cv2.GaussianBlur(x, (0, 0), sigma)`` on float32 (BORDER_REFLECT_101): [C, h, w] or [h, w]."""
    k = torch.from_numpy(_gauss_np(float(sigma))).to(x.device, x.dtype)
    n = k.numel()
    squeeze = x.dim() == 2
    y = x[None, None] if squeeze else x[:, None]  # [C, 1, h, w]
    y = _pad101(y, n // 2, n // 2)
    y = F.conv2d(y, k.view(1, 1, n, 1))
    y = F.conv2d(y, k.view(1, 1, 1, n))
    return y[0, 0] if squeeze else y[:, 0]


def morph_ellipse(x: torch.Tensor, radius: int, dilate: bool) -> torch.Tensor:
    """``cv2.dilate`` / ``cv2.erode`` of [H, W] float with ``getStructuringElement(MORPH_ELLIPSE, 2r+1)``.

    The ellipse is taken row by row: each row of the element is a horizontal max over its width,
    shifted vertically; pixels outside the image never win (OpenCV's default border).
    """
    elem = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    y = x if dilate else -x
    H, W = y.shape
    r = radius
    pad = F.pad(y[None, None], [r, r, r, r], value=float("-inf"))  # [1, 1, H+2r, W+2r]
    out = None
    for i in range(2 * r + 1):
        cols = np.flatnonzero(elem[i])
        if cols.size == 0:
            continue
        half = int(cols.max() - r)  # the row is symmetric: columns r-half .. r+half
        row = pad[..., i:i + H, r - half:r + half + W]
        m = F.max_pool2d(row, (1, 2 * half + 1), stride=1)[0, 0] if half else row[0, 0]
        out = m if out is None else torch.maximum(out, m)
    return out if dilate else -out
