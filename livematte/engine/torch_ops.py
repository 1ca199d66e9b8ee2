"""The array layer in torch, on any device: the primitives of :mod:`livematte.engine.numpy_ops`
with OpenCV's border rules and rounding where they matter.

Conventions (see :mod:`livematte.engine`): ``image`` RGB 8-bit ``[H, W, 3]`` (uint8 tensor),
``grey`` ``[H, W]`` uint8, ``map`` float32 ``[h, w]``. Nothing here syncs with the host except
:meth:`TorchOps.to_host` (the one sync point) and :meth:`TorchOps.from_host` (a small upload), so a
fixed-shape sequence of these calls can be captured as a CUDA graph.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """OpenCV's fixed-point rounding of 8-bit results (x + 0.5, floor), saturated to [0, 255]."""
    return torch.floor(x + 0.5).clamp_(0, 255)


def _pad101(y: torch.Tensor, py: int, px: int) -> torch.Tensor:
    """BORDER_REFLECT_101 padding of [N, C, h, w]; edge replication on images too small to mirror."""
    h, w = y.shape[-2:]
    mode = "reflect" if py < h and px < w else "replicate"
    return F.pad(y, [px, px, py, py], mode=mode)


@lru_cache(maxsize=64)
def _gauss_np(sigma: float) -> np.ndarray:
    n = int(round(sigma * 8 + 1)) | 1  # OpenCV's kernel size for float images
    return cv2.getGaussianKernel(n, sigma, cv2.CV_32F)[:, 0]


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


@lru_cache(maxsize=64)
def _linear_taps_np(n_in: int, n_out: int) -> np.ndarray:
    """OpenCV's fixed-point bilinear taps for 8-bit images along one axis: int64 ``(n_out, 4)`` rows
    of (source index, next index, weight, next weight), weights in 1/2048 (INTER_RESIZE_COEF_BITS)."""
    scale = n_in / n_out
    taps = np.zeros((n_out, 4), np.int64)
    for d in range(n_out):
        f = np.float32((d + 0.5) * scale - 0.5)
        s = int(np.floor(f))
        f = np.float32(f - s)
        if s < 0:
            f, s = np.float32(0), 0
        if s >= n_in - 1:
            f, s = np.float32(0), n_in - 1
        taps[d] = (s, min(s + 1, n_in - 1), int(np.rint(np.float32(1 - f) * 2048)), int(np.rint(f * 2048)))
    return taps


def _planes(x: torch.Tensor) -> Tuple[torch.Tensor, bool]:
    """[h, w] or [h, w, C] -> [N, C, h, w] float, and whether it was an image (channels last)."""
    if x.dim() == 3:
        return x.permute(2, 0, 1)[None].float(), True
    return x[None, None].float(), False


def _unplanes(y: torch.Tensor, image: bool) -> torch.Tensor:
    return y[0].permute(1, 2, 0) if image else y[0, 0]


class TorchOps:
    """The primitives on tensors of one device.

    Args:
        device: where new tensors are made (inputs already carry theirs).
    """

    name = "torch"

    def __init__(self, device="cpu"):
        self.device = torch.device(device)
        self._cache: Dict[tuple, torch.Tensor] = {}

    def _const(self, key: tuple, make) -> torch.Tensor:
        if key not in self._cache:
            self._cache[key] = torch.from_numpy(make()).to(self.device)
        return self._cache[key]

    # ------------------------------------------------------------------ host <-> engine
    def from_host(self, x: np.ndarray) -> torch.Tensor:
        """A (small) host array uploaded to the device."""
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device, non_blocking=True)

    def to_host(self, *xs: torch.Tensor) -> Tuple[np.ndarray, ...]:
        """Several tensors down to the host in **one** copy (the one host sync), dtypes kept."""
        if not xs:
            return ()
        flat = torch.cat([x.reshape(-1).float() for x in xs]).cpu().numpy()
        out, at = [], 0
        for x in xs:
            n = x.numel()
            part = flat[at:at + n].reshape(tuple(x.shape))
            out.append(part if x.dtype == torch.float32 else part.astype(str(x.dtype).replace("torch.", "")))
            at += n
        return tuple(out)

    # ------------------------------------------------------------------ creation and elementwise
    def zeros(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.zeros(tuple(shape), dtype=torch.float32, device=self.device)

    def arange(self, n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.float32, device=self.device)

    def outer(self, a, b) -> torch.Tensor:
        return torch.outer(a, b)

    def exp(self, x):
        return torch.exp(x)

    def cos(self, x):
        return torch.cos(x)

    def abs(self, x):
        return torch.abs(x)

    def maximum(self, a, b):
        return torch.maximum(a, torch.as_tensor(b, dtype=a.dtype, device=a.device))

    def minimum(self, a, b):
        return torch.minimum(a, torch.as_tensor(b, dtype=a.dtype, device=a.device))

    def where(self, mask, a, b):
        return torch.where(mask, a, b).float()

    def to_float(self, x):
        return x.to(torch.float32, copy=True)

    def clip01_(self, x):
        return x.clamp_(0.0, 1.0)

    def step(self, x, t: float):
        return (x >= t).float()

    def copy(self, x):
        return x.clone()

    def owned(self, x):
        """``x`` if it may be written into, else a copy (a kept past is frozen)."""
        return x.clone() if getattr(x, "_lm_frozen", False) else x

    def freeze(self, x):
        x._lm_frozen = True
        return x

    def empty_matte(self, hw: Sequence[int]) -> torch.Tensor:
        """The matte with nobody in it: float32 zeros [H, W], one frozen tensor per size shared by
        every caller, which :meth:`is_empty` knows without reading it."""
        x = self._const(("empty", int(hw[0]), int(hw[1])), lambda: np.zeros((int(hw[0]), int(hw[1])), np.float32))
        return self.freeze(x)

    def is_empty(self, alpha) -> bool:
        """Whether ``alpha`` is :meth:`empty_matte`'s tensor (no read of it, no host sync)."""
        return alpha.dim() == 2 and alpha is self._cache.get(("empty", int(alpha.shape[0]), int(alpha.shape[1])))

    # ------------------------------------------------------------------ colour and resizing
    def grey(self, image: torch.Tensor) -> torch.Tensor:
        """RGB 8-bit [H, W, 3] -> [H, W] uint8, bit-exact with OpenCV's vectorised kernel:
        ``(R*9798 + G*19235 + B*3735 + 16384) >> 15`` (its scalar code uses 14-bit weights, which
        differ on ~0.3% of random pixels; the vector kernel is what runs on these frames)."""
        i = image.to(torch.int32)
        acc = i[..., 0] * 9798 + i[..., 1] * 19235 + i[..., 2] * 3735 + 16384
        return torch.bitwise_right_shift(acc, 15).to(torch.uint8)

    def half_area(self, x: torch.Tensor) -> torch.Tensor:
        """Exact 2x2 means (8-bit input rounds as OpenCV does)."""
        y, image = _planes(x)
        y = F.avg_pool2d(y, 2)
        if x.dtype == torch.uint8:
            return _unplanes(round_half_up(y), image).to(torch.uint8)
        return _unplanes(y, image)

    def resize_linear(self, x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """Bilinear, half-pixel centres, no antialias; 8-bit input rounds; ``x`` itself when the size matches."""
        if tuple(x.shape[:2]) == tuple(size):
            return x
        if x.dtype == torch.uint8:
            return self._resize_linear_u8(x, size)
        y, image = _planes(x)
        return _unplanes(F.interpolate(y, size=tuple(size), mode="bilinear", align_corners=False), image)

    def _resize_linear_u8(self, x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """OpenCV's INTER_LINEAR on 8-bit images, bit-exact: 11-bit fixed-point taps, the horizontal
        sums kept as integers, the vertical pass as its SIMD kernel does it
        (``((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16) + 2 >> 2``); an exact 2x reduction is an
        area mean, as OpenCV switches to INTER_AREA there."""
        H, W = x.shape[:2]
        h, w = size
        if H == 2 * h and W == 2 * w:
            return self.half_area(x)
        tx = self._const(("taps", W, w), lambda: _linear_taps_np(W, w))
        ty = self._const(("taps", H, h), lambda: _linear_taps_np(H, h))
        src = x.to(torch.int32)
        shape = (1, w) + (1,) * (x.dim() - 2)
        s = (src.index_select(1, tx[:, 0]) * tx[:, 2].view(shape).int()
             + src.index_select(1, tx[:, 1]) * tx[:, 3].view(shape).int())  # (H, w[, C]) horizontal sums
        s = torch.bitwise_right_shift(s, 4)
        shape = (h,) + (1,) * (x.dim() - 1)
        v = (torch.bitwise_right_shift(s.index_select(0, ty[:, 0]) * ty[:, 2].view(shape).int(), 16)
             + torch.bitwise_right_shift(s.index_select(0, ty[:, 1]) * ty[:, 3].view(shape).int(), 16))
        return torch.bitwise_right_shift(v + 2, 2).clamp_(0, 255).to(torch.uint8)

    def resize_area(self, x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """Area-average downscale of a float map, any ratio (as matrices: one matmul per axis)."""
        H, W = x.shape[:2]
        h, w = size
        if (H, W) == (h, w):
            return x
        ry = self._const(("area", H, h), lambda: _area_matrix_np(H, h))
        rx = self._const(("area", W, w), lambda: _area_matrix_np(W, w))
        return ry @ x.float() @ rx.t()

    def sample_nearest(self, x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """Nearest samples on ``size`` (source index floor(i * scale), OpenCV's INTER_NEAREST)."""
        if tuple(x.shape[:2]) == tuple(size):
            return x
        return F.interpolate(x[None, None].float(), size=tuple(size), mode="nearest")[0, 0]

    def regrid(self, values: torch.Tensor, m: np.ndarray, size: Tuple[int, int]) -> torch.Tensor:
        """Bilinear resampling through the axis-aligned target -> source cell map ``m`` (2x3 host),
        edges replicated: separable, the same float32 arithmetic as the numpy engine."""
        h, w = size
        c0, c1, cw = self._taps(float(m[0, 0]), float(m[0, 2]), w, values.shape[1])
        r0, r1, rw = self._taps(float(m[1, 1]), float(m[1, 2]), h, values.shape[0])
        v0, v1 = values.index_select(0, r0), values.index_select(0, r1)
        rows = v0 + rw[:, None] * (v1 - v0)  # [h, n]
        a, b = rows.index_select(1, c0), rows.index_select(1, c1)
        return a + cw[None, :] * (b - a)

    def _taps(self, scale: float, offset: float, n_out: int, n_in: int):
        s = (self.arange(n_out) * scale + offset).clamp_(0, n_in - 1)
        i0 = torch.floor(s)
        return i0.long(), (i0 + 1).clamp_(max=n_in - 1).long(), s - i0

    def flow_maps(self, flow: np.ndarray, size: Tuple[int, int]) -> torch.Tensor:
        """Sampling grid ``[H, W, 2]`` (grid_sample's normalised coordinates) from a host flow field
        ``flow`` float32 ``(h, w, 2)`` in cells of its own grid, brought bilinearly to ``size``."""
        H, W = size
        h, w = flow.shape[:2]
        f = torch.from_numpy(np.ascontiguousarray(flow)).to(self.device).permute(2, 0, 1)[None]
        up = F.interpolate(f, size=(H, W), mode="bilinear", align_corners=False)[0]  # [2, H, W]
        px = up[0] * (W / w) + self.arange(W)[None, :]
        py = up[1] * (H / h) + self.arange(H)[:, None]
        return torch.stack(((2 * px + 1) / W - 1, (2 * py + 1) / H - 1), dim=-1)

    def remap(self, x: torch.Tensor, maps: torch.Tensor, box=None) -> torch.Tensor:
        """``x`` ``[H, W]`` sampled bilinearly where ``maps`` say (exact weights), edges replicated;
        only ``box`` = (y0, y1, x0, x1) of the result when given."""
        if box is not None:
            y0, y1, x0, x1 = box
            maps = maps[y0:y1, x0:x1]
        return F.grid_sample(x[None, None], maps[None], mode="bilinear", padding_mode="border",
                             align_corners=False)[0, 0]

    def flip_x(self, x: torch.Tensor) -> torch.Tensor:
        """Mirrored left to right (a new tensor)."""
        return torch.flip(x, dims=[1])

    # ------------------------------------------------------------------ filters
    def box_filter(self, x: torch.Tensor, radius: int) -> torch.Tensor:
        """Mean over (2r+1)^2, BORDER_REFLECT (mirror with the edge pixel repeated)."""
        r = radius
        if r == 0:
            return x
        y = x[None, None]
        y = torch.cat([y[..., :r, :].flip(-2), y, y[..., -r:, :].flip(-2)], dim=-2)
        y = torch.cat([y[..., :r].flip(-1), y, y[..., -r:].flip(-1)], dim=-1)
        return F.avg_pool2d(y, 2 * r + 1, stride=1)[0, 0]

    def blur(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Mean over k x k (odd k), BORDER_REFLECT_101."""
        p = k // 2
        return F.avg_pool2d(_pad101(x[None, None], p, p), k, stride=1)[0, 0]

    def gaussian_blur(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """Separable Gaussian with OpenCV's float kernel, BORDER_REFLECT_101: [h, w] or [h, w, C]."""
        k = self._const(("gauss", float(sigma)), lambda: _gauss_np(float(sigma)))
        n = k.numel()
        image = x.dim() == 3
        y = x.permute(2, 0, 1)[:, None] if image else x[None, None]  # [C, 1, h, w]
        y = _pad101(y, n // 2, n // 2)
        y = F.conv2d(F.conv2d(y, k.view(1, 1, n, 1)), k.view(1, 1, 1, n))
        return y[:, 0].permute(1, 2, 0) if image else y[0, 0]

    def morph_ellipse(self, x: torch.Tensor, radius: int, dilate: bool) -> torch.Tensor:
        """Dilate / erode [H, W] with the (2r+1) ellipse, row by row (a horizontal max per element
        row, shifted vertically); pixels outside the image never win."""
        elem = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        y = x if dilate else -x
        H, W = y.shape
        r = radius
        pad = F.pad(y[None, None], [r, r, r, r], value=float("-inf"))
        out = None
        for i in range(2 * r + 1):
            cols = np.flatnonzero(elem[i])
            if cols.size == 0:
                continue
            half = int(cols.max() - r)
            row = pad[..., i:i + H, r - half:r + half + W]
            m = F.max_pool2d(row, (1, 2 * half + 1), stride=1)[0, 0] if half else row[0, 0]
            out = m if out is None else torch.maximum(out, m)
        return out if dilate else -out

    def max3(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x[None, None], 3, stride=1, padding=1)[0, 0]

    def histogram(self, image: torch.Tensor, bins: int = 16) -> torch.Tensor:
        """Per-channel histogram of an 8-bit [h, w, 3] image: float32 [3 * bins] counts, counted with
        ``index_add_`` (no host sync, so it can sit inside a CUDA graph)."""
        idx = (image.to(torch.int64) * bins) // 256 + torch.arange(3, device=image.device) * bins
        hist = torch.zeros(3 * bins, device=image.device, dtype=torch.float32)
        return hist.index_add_(0, idx.reshape(-1), torch.ones(idx.numel(), device=image.device))

    # ------------------------------------------------------------------ combining
    def affine(self, grey_hi, a, b):
        return torch.addcmul(b, grey_hi.float(), a)

    def blend_ramps_(self, region, new, wy, wx) -> None:
        region.addcmul_(torch.outer(wy, wx), new - region)

    def blend_past(self, alpha, past, weight):
        return torch.addcmul(alpha, past - alpha, self.resize_linear(weight, tuple(alpha.shape)))

    def composite(self, fg, bg, alpha, *, into: bool = False):
        """``fg * alpha + bg * (1 - alpha)`` rounded, uint8 [H, W, 3] (``into`` is accepted; a new tensor)."""
        if self.is_empty(alpha):  # nobody: the background as it is
            return bg.clone()
        f, b = fg.float(), bg.float()
        return round_half_up(torch.addcmul(b, f - b, alpha[..., None])).to(torch.uint8)

    def alpha_u8(self, alpha):
        return torch.round(alpha * 255).abs_().clamp_(0, 255).to(torch.uint8)

    def to_u8(self, x):
        return x.clamp(0, 255).trunc_().to(torch.uint8)

    def channels(self, *planes):
        parts = [p if p.dim() == 3 else p[..., None] for p in planes]
        return torch.cat([p.to(torch.uint8) for p in parts], dim=2)

    def fill(self, color, size):
        c = torch.tensor(tuple(color), dtype=torch.uint8, device=self.device)
        return c.expand(*size, 3)
