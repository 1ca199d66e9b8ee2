"""The array layer on numpy and OpenCV: the reference implementation of every primitive.

Conventions (shared with :mod:`livematte.engine.torch_ops`, see :mod:`livematte.engine`):
``image`` RGB 8-bit ``(H, W, 3)`` (uint8 here), ``grey`` 8-bit ``(H, W)`` (uint8), ``map`` float32
``(h, w)``. Functions return new arrays unless their name ends in ``_`` (in place).

Four primitives are **specialisations** of a general formula, chosen for speed on a CPU; each has a
test that it equals the general form (tests/test_engine.py): :meth:`NumpyOps.composite` blends only
the 16x16 blocks where alpha is neither 0 nor 1 (copying the person's own blocks), :meth:`NumpyOps.blend_ramps_` copies the middle of a tile and blends
only its border strips, :meth:`NumpyOps.blend_past` touches only the band where the past still
counts, :meth:`NumpyOps.sample_nearest` is a strided view when the ratio is whole.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: the smallest weight of the past that :meth:`NumpyOps.blend_past` applies (below it the change is < 1e-3)
MIN_WEIGHT = 1e-3
#: :meth:`NumpyOps.composite`: the block side (a multiple of 4), and the alpha within which of 0 / of 1
#: a pixel's rounded blend is the background / the person (255 / 512 and 255 / 1024 levels: < 0.5)
COMPOSITE_BLOCK = 16
_ZERO_SLACK, _ONE_SLACK = 1.0 / 512, 1.0 / 1024
#: :meth:`NumpyOps.empty_matte`: the shared all-zero mattes, one per size (the newest EMPTY_SIZES sizes)
EMPTY_SIZES = 4
_EMPTY: dict = {}


class NumpyOps:
    """Primitives on numpy arrays (host memory); stateless, one shared instance (:data:`NUMPY`)."""

    name = "numpy"
    device = "cpu"

    # ------------------------------------------------------------------ host <-> engine
    def from_host(self, x: np.ndarray) -> np.ndarray:
        """A host array as an engine array (here: itself)."""
        return x

    def to_host(self, *xs) -> Tuple[np.ndarray, ...]:
        """Engine arrays as host arrays: **the one host sync** on a device engine (here: themselves)."""
        return xs

    # ------------------------------------------------------------------ creation and elementwise
    def zeros(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(tuple(shape), np.float32)

    def arange(self, n: int) -> np.ndarray:
        """float32 ``[0, 1, ..., n - 1]``."""
        return np.arange(n, dtype=np.float32)

    def outer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.outer(a, b).astype(np.float32, copy=False)

    def exp(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x).astype(np.float32, copy=False)

    def cos(self, x: np.ndarray) -> np.ndarray:
        return np.cos(x).astype(np.float32, copy=False)

    def abs(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def maximum(self, a, b) -> np.ndarray:
        return np.maximum(a, b)

    def minimum(self, a, b) -> np.ndarray:
        return np.minimum(a, b)

    def where(self, mask, a, b) -> np.ndarray:
        return np.where(mask, a, b).astype(np.float32, copy=False)

    def to_float(self, x: np.ndarray) -> np.ndarray:
        """8-bit values as a new float32 array (same shape)."""
        return x.astype(np.float32)

    def clip01_(self, x: np.ndarray) -> np.ndarray:
        """Clip float32 ``x`` to [0, 1] in place (two cv2 thresholds: ~8x faster than np.clip)."""
        if not x.flags.c_contiguous or not x.flags.writeable:
            return np.clip(x, 0.0, 1.0, out=x) if x.flags.writeable else np.clip(x, 0.0, 1.0)
        cv2.threshold(x, 1.0, 1.0, cv2.THRESH_TRUNC, dst=x)
        cv2.threshold(x, 0.0, 0.0, cv2.THRESH_TOZERO, dst=x)
        return x

    def step(self, x: np.ndarray, t: float) -> np.ndarray:
        """float32 1 where ``x >= t``, else 0."""
        return (x >= t).astype(np.float32)

    def copy(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def owned(self, x: np.ndarray) -> np.ndarray:
        """``x`` if it may be written into, else a copy (a kept past is read-only)."""
        return x if x.flags.writeable else x.copy()

    def freeze(self, x: np.ndarray) -> np.ndarray:
        """Mark ``x`` read-only (it is kept as the next frame's past) and return it."""
        x.flags.writeable = False
        return x

    def empty_matte(self, hw: Sequence[int]) -> np.ndarray:
        """The matte with nobody in it: float32 zeros ``(H, W)``, one read-only array per size shared
        by every caller, which :meth:`is_empty` knows without reading it."""
        key = (int(hw[0]), int(hw[1]))
        x = _EMPTY.get(key)
        if x is None:
            while len(_EMPTY) >= EMPTY_SIZES:
                _EMPTY.pop(next(iter(_EMPTY)))
            x = _EMPTY[key] = self.freeze(np.zeros(key, np.float32))
        return x

    def is_empty(self, alpha) -> bool:
        """Whether ``alpha`` is :meth:`empty_matte`'s array (an idle frame's matte: the effect and the
        blend leave out their passes over it). Another all-zero array is not recognised."""
        return alpha is _EMPTY.get(tuple(alpha.shape[:2])) if alpha.ndim == 2 else False

    # ------------------------------------------------------------------ colour and resizing
    def grey(self, image: np.ndarray) -> np.ndarray:
        """RGB 8-bit ``(H, W, 3)`` -> brightness 8-bit ``(H, W)`` (OpenCV's fixed-point weights)."""
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    def half_area(self, x: np.ndarray) -> np.ndarray:
        """Exact 2x2 means: ``(H, W[, C])`` -> ``(H // 2, W // 2[, C])`` (8-bit input rounds)."""
        h, w = max(1, x.shape[0] // 2), max(1, x.shape[1] // 2)
        return cv2.resize(x[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA)

    def resize_linear(self, x: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """Bilinear, half-pixel centres, no antialias, to ``size`` = (h, w); 8-bit input rounds.
        Returns ``x`` itself when it already has that size."""
        h, w = size
        if x.shape[:2] == (h, w):
            return x
        return cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)

    def resize_area(self, x: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """Area-average downscale of a float map to ``size`` = (h, w), any ratio."""
        h, w = size
        if x.shape[:2] == (h, w):
            return x
        return cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)

    def sample_nearest(self, x: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """Nearest samples on ``size`` = (h, w) (OpenCV's INTER_NEAREST grid). Specialisation: a
        strided copy when the ratio is whole (the same pixels, without reading the whole frame)."""
        h, w = size
        H, W = x.shape[:2]
        if H % h == 0 and W % w == 0:
            return np.ascontiguousarray(x[:: H // h, :: W // w])
        return cv2.resize(x, (w, h), interpolation=cv2.INTER_NEAREST)

    def regrid(self, values: np.ndarray, m: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """Bilinear resampling of map ``values`` through the axis-aligned target-cell -> source-cell
        map ``m`` (2x3, host; ``m[0, 1] = m[1, 0] = 0``) onto ``size`` = (h, w), edges replicated.
        Separable with exact float weights (OpenCV's warpAffine quantises them to 1/32 of a cell)."""
        h, w = size
        (c0, c1, cw), (r0, r1, rw) = _taps(m[0, 0], m[0, 2], w, values.shape[1]), _taps(m[1, 1], m[1, 2], h, values.shape[0])
        rows = values[r0] + rw[:, None] * (values[r1] - values[r0])  # (h, n)
        return rows[:, c0] + cw[None, :] * (rows[:, c1] - rows[:, c0])

    def flow_maps(self, flow: np.ndarray, size: Tuple[int, int]):
        """Sampling maps for :meth:`remap` from a host flow field ``flow`` float32 ``(h, w, 2)``
        ((dx, dy) in cells of its own grid) brought bilinearly to ``size`` = (H, W): where each
        pixel ``p`` of the result samples, ``p + flow(p)`` in pixels."""
        H, W = size
        h, w = flow.shape[:2]
        # scaled on the small grid (bilinear resizing is linear), one plane at a time
        mx = cv2.resize(np.ascontiguousarray(flow[..., 0]) * np.float32(W / w), (W, H), interpolation=cv2.INTER_LINEAR)
        my = cv2.resize(np.ascontiguousarray(flow[..., 1]) * np.float32(H / h), (W, H), interpolation=cv2.INTER_LINEAR)
        mx += np.arange(W, dtype=np.float32)[None, :]
        my += np.arange(H, dtype=np.float32)[:, None]
        return mx, my

    def remap(self, x: np.ndarray, maps, box: Optional[Tuple[int, int, int, int]] = None) -> np.ndarray:
        """Map ``x`` ``(H, W)`` sampled bilinearly where ``maps`` (:meth:`flow_maps`) say, edges
        replicated; only the rows and columns of ``box`` = (y0, y1, x0, x1) of the result when given.
        OpenCV's remap quantises the weights to 1/32 of a pixel."""
        mx, my = maps
        if box is not None:
            y0, y1, x0, x1 = box
            mx, my = mx[y0:y1, x0:x1], my[y0:y1, x0:x1]
        return cv2.remap(x, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def flip_x(self, x: np.ndarray) -> np.ndarray:
        """Mirrored left to right (a new array)."""
        return cv2.flip(x, 1)

    # ------------------------------------------------------------------ filters
    def box_filter(self, x: np.ndarray, radius: int) -> np.ndarray:
        """Mean over a (2r+1)^2 window, mirrored borders with the edge repeated (BORDER_REFLECT)."""
        k = (2 * radius + 1, 2 * radius + 1)
        return cv2.boxFilter(x, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)

    def blur(self, x: np.ndarray, k: int) -> np.ndarray:
        """Mean over a k x k window (odd k), BORDER_REFLECT_101."""
        return cv2.blur(x, (k, k))

    def gaussian_blur(self, x: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian of ``sigma`` on a float map or float image (OpenCV's kernel size, BORDER_REFLECT_101)."""
        return cv2.GaussianBlur(x, (0, 0), sigma)

    def morph_ellipse(self, x: np.ndarray, radius: int, dilate: bool) -> np.ndarray:
        """Dilate / erode with the (2r+1) ellipse; outside the image never wins."""
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        return cv2.dilate(x, kernel) if dilate else cv2.erode(x, kernel)

    def max3(self, x: np.ndarray) -> np.ndarray:
        """3x3 maximum (outside the image never wins)."""
        return cv2.dilate(x, np.ones((3, 3), np.uint8))

    def histogram(self, image: np.ndarray, bins: int = 16) -> np.ndarray:
        """Per-channel histogram of an 8-bit image: float32 ``(3 * bins,)`` counts."""
        hists = [cv2.calcHist([image], [c], None, [bins], [0, 256]) for c in range(3)]
        return np.concatenate([h.reshape(-1) for h in hists]).astype(np.float32)

    # ------------------------------------------------------------------ combining
    def affine(self, grey_hi: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``grey_hi * a + b``: 8-bit ``(H, W)`` times float maps ``(H, W)`` -> float32."""
        return cv2.add(cv2.multiply(grey_hi, a, dtype=cv2.CV_32F), b)

    def blend_ramps_(self, region: np.ndarray, new: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> None:
        """``region += outer(wy, wx) * (new - region)`` in place. Specialisation: where the ramps
        are 1 over one middle run the middle is copied and only the border strips are blended."""
        rows, cols = np.flatnonzero(wy >= 1.0), np.flatnonzero(wx >= 1.0)
        runs = rows.size and cols.size and rows[-1] - rows[0] + 1 == rows.size and cols[-1] - cols[0] + 1 == cols.size
        if not runs:
            strips = [(slice(None), slice(None))]
        else:
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            np.copyto(region[r0:r1, c0:c1], new[r0:r1, c0:c1])
            strips = [(slice(0, r0), slice(None)), (slice(r1, None), slice(None)),
                      (slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, None))]
        for ys, xs in strips:
            part = region[ys, xs]
            if part.size:
                part += np.outer(wy[ys], wx[xs]) * (new[ys, xs] - part)

    def blend_past(self, alpha: np.ndarray, past: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """``alpha + up(weight) * (past - alpha)`` with ``weight`` a small-grid map brought to
        alpha's size bilinearly; may write into ``alpha`` (pass one you own). Specialisation: only
        the box of cells with weight >= MIN_WEIGHT (grown by 2 cells) is touched."""
        box = _box_of(weight >= MIN_WEIGHT, alpha.shape)
        if box is None:
            return alpha
        (sy0, sy1, sx0, sx1), (y0, y1, x0, x1) = box
        up = cv2.resize(weight[sy0:sy1, sx0:sx1], (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        region = alpha[y0:y1, x0:x1]
        diff = np.subtract(past[y0:y1, x0:x1], region)
        diff *= up
        region += diff
        return alpha

    def composite(self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, *, into: bool = False) -> np.ndarray:
        """``fg * alpha + bg * (1 - alpha)`` rounded, 8-bit images ``(H, W, 3)``, alpha in [0, 1]; a new
        array, or written into ``bg`` when ``into``. Specialisation: judged on 16x16 blocks (the max
        and min of their 4x4 block means), a block with every alpha <= 1/512 keeps ``bg`` and one with
        every alpha >= 1 - 1/1024 takes ``fg`` (in both the rounded blend equals it), and only the
        blocks in between (the person's edge) are blended, gathered into one array; the rows and
        columns left over at the bottom and right are blended as they are."""
        out = bg if into else bg.copy()
        if self.is_empty(alpha):  # nobody: the background as it is
            return out
        H, W = alpha.shape[:2]
        b = COMPOSITE_BLOCK
        ny, nx = H // b, W // b
        if ny and nx:
            s = b // 4
            means = cv2.resize(alpha[: ny * b, : nx * b], (nx * s, ny * s), interpolation=cv2.INTER_AREA)
            k = np.ones((s, s), np.uint8)  # max / min over each block's s x s means (anchored at its corner)
            hi = cv2.dilate(means, k, anchor=(0, 0))[::s, ::s]
            lo = cv2.erode(means, k, anchor=(0, 0))[::s, ::s]
            full = lo >= 1.0 - _ONE_SLACK / (s * s)  # every pixel >= 1 - 1/1024 (alpha <= 1)
            mixed = (hi > _ZERO_SLACK / (s * s)) & ~full  # some pixel > 1/512, some < 1 - 1/1024
            for r, c0, c1 in _runs(full):
                out[r * b:(r + 1) * b, c0 * b:c1 * b] = fg[r * b:(r + 1) * b, c0 * b:c1 * b]
            ys, xs = np.nonzero(mixed)
            if ys.size:  # the blocks of the edge as one (n * b, b) image: one blend for all
                ov = out[: ny * b, : nx * b].reshape(ny, b, nx, b, 3)
                a = alpha[: ny * b, : nx * b].reshape(ny, b, nx, b)[ys, :, xs].reshape(-1, b)
                f = fg[: ny * b, : nx * b].reshape(ny, b, nx, b, 3)[ys, :, xs].reshape(-1, b, 3)
                ov[ys, :, xs] = cv2.blendLinear(f, ov[ys, :, xs].reshape(-1, b, 3), a, 1.0 - a).reshape(-1, b, b, 3)
        for ys_, xs_ in ((slice(ny * b, None), slice(None)), (slice(0, ny * b), slice(nx * b, None))):
            a = alpha[ys_, xs_]
            if a.size and float(a.max()) > _ZERO_SLACK:
                out[ys_, xs_] = cv2.blendLinear(fg[ys_, xs_], out[ys_, xs_], a, 1.0 - a)
        return out

    def alpha_u8(self, alpha: np.ndarray) -> np.ndarray:
        """float alpha ``(H, W)`` -> 8-bit ``round(255 * alpha)`` saturated."""
        return cv2.convertScaleAbs(alpha, alpha=255.0)

    def to_u8(self, x: np.ndarray) -> np.ndarray:
        """Float 8-bit values -> uint8, clipped to [0, 255] and truncated."""
        return np.clip(x, 0, 255).astype(np.uint8)

    def channels(self, *planes: np.ndarray) -> np.ndarray:
        """Stack 8-bit planes ``(H, W)`` (or an image and a plane) into ``(H, W, C)``."""
        flat = []
        for p in planes:
            flat += [p[..., c] for c in range(p.shape[2])] if p.ndim == 3 else [p]
        return cv2.merge(flat)

    def fill(self, color: Sequence[int], size: Tuple[int, int]) -> np.ndarray:
        """An 8-bit image of ``size`` = (H, W) filled with an RGB colour."""
        out = np.empty((*size, 3), np.uint8)
        out[:] = color
        return out


def _taps(scale: float, offset: float, n_out: int, n_in: int):
    """Source cells of a 1-D bilinear regrid: ``(i0, i1, weight of i1)`` for ``n_out`` targets at
    ``scale * u + offset``, clamped to the ``n_in`` source cells (edges replicated)."""
    s = np.clip(np.arange(n_out, dtype=np.float32) * np.float32(scale) + np.float32(offset), 0, n_in - 1)
    i0 = np.floor(s).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (s - i0).astype(np.float32)


def _box_of(mask: np.ndarray, full_hw: Tuple[int, int]):
    """Bounding box of ``mask`` bool ``(h, w)`` grown by 2 cells, on the small grid and scaled to a
    frame of ``full_hw``: ``((sy0, sy1, sx0, sx1), (y0, y1, x0, x1))``, or None if empty.

    Two cells of zero weight around the box make the bilinear upsampling of the box alone equal
    to that of the whole grid inside it (up to the sampling offset of a non-integer scale)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    H, W = full_hw
    sy0, sy1 = max(0, rows[0] - 2), min(h, rows[-1] + 3)
    sx0, sx1 = max(0, cols[0] - 2), min(w, cols[-1] + 3)
    return (sy0, sy1, sx0, sx1), (sy0 * H // h, -(-sy1 * H // h), sx0 * W // w, -(-sx1 * W // w))


def _runs(mask: np.ndarray):
    """``(row, start, stop)`` of every run of True along the rows of bool ``mask`` ``(h, w)``."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded.ravel())
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return zip((starts // (w + 2)).tolist(), (starts % (w + 2)).tolist(), (stops % (w + 2)).tolist())


#: the shared instance
NUMPY = NumpyOps()
