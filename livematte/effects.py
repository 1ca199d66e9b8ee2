"""Effects: turn a frame and its alpha into the output picture.

Every effect takes RGB uint8 ``(H, W, 3)`` and alpha float32 ``(H, W)`` in [0, 1] and returns
uint8 RGB ``(H, W, 3)``, or RGBA ``(H, W, 4)`` when ``effect.alpha`` is True.
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from .colors import RGB, is_color, parse_color
from .types import LivematteError

CHROMA_GREEN: RGB = (0, 255, 0)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def composite(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``fg * alpha + bg * (1 - alpha)`` for uint8 RGB ``(H, W, 3)`` images, alpha float32 ``(H, W)``
    (a new array; ``bg`` is not changed)."""
    return composite_into(fg, bg.copy(), alpha)


def composite_into(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """:func:`composite` written into ``bg`` (uint8 ``(H, W, 3)``, changed in place and returned).

    Only the box holding the person is blended: outside it alpha is below 1/512, where the
    rounded blend equals ``bg``. Finding the box costs ~0.2 ms at 720p and saves the blend over
    the rest of the frame (half of it or more for a person at a desk).
    """
    box = _foreground_box(alpha)
    if box is not None:
        y0, y1, x0, x1 = box
        a = alpha[y0:y1, x0:x1]
        bg[y0:y1, x0:x1] = cv2.blendLinear(fg[y0:y1, x0:x1], bg[y0:y1, x0:x1], a, 1.0 - a)
    return bg


def _foreground_box(alpha: np.ndarray, step: int = 4):
    """``(y0, y1, x0, x1)`` holding every pixel of ``alpha`` (float ``(H, W)``) above 1/512, or None.

    Judged on ``step`` x ``step`` block means (a block holding such a pixel has a mean above
    1/512 / step**2, so none is missed) plus the rows and columns left over at the bottom and right.
    """
    thr = 1.0 / 512
    H, W = alpha.shape[:2]
    hb, wb = H // step, W // step
    ys: list = []
    xs: list = []
    if hb and wb:
        blocks = cv2.resize(alpha[: hb * step, : wb * step], (wb, hb), interpolation=cv2.INTER_AREA)
        hit = blocks > thr / (step * step)  # (hb, wb)
        rows, cols = np.flatnonzero(hit.any(axis=1)), np.flatnonzero(hit.any(axis=0))
        if rows.size:
            ys += [rows[0] * step, (rows[-1] + 1) * step]
            xs += [cols[0] * step, (cols[-1] + 1) * step]
    for part, y_off, x_off in ((alpha[hb * step:], hb * step, 0), (alpha[:, wb * step:], 0, wb * step)):
        hit = part > thr
        rows, cols = np.flatnonzero(hit.any(axis=1)), np.flatnonzero(hit.any(axis=0))
        if rows.size:
            ys += [y_off + rows[0], y_off + rows[-1] + 1]
            xs += [x_off + cols[0], x_off + cols[-1] + 1]
    if not ys:
        return None
    return min(ys), max(ys), min(xs), max(xs)


def cover(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to cover ``size`` = ``(H, W)`` keeping its aspect, centre-cropping the rest."""
    H, W = size
    h, w = image.shape[:2]
    if (h, w) == (H, W):
        return image
    s = max(W / w, H / h)
    nw, nh = max(W, round(w * s)), max(H, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (nw, nh), interpolation=interp)
    x, y = (nw - W) // 2, (nh - H) // 2
    return np.ascontiguousarray(scaled[y : y + H, x : x + W])


def blur_halvings(sigma: float) -> int:
    """How many times the blur halves the frame first: the largest ``n`` with ``2**n <= sigma / 2``
    (so 2-4 px of sigma are left to blur at the small size, where it is cheap; a Gaussian of 2 px
    leaves nothing above 1% that bilinear upsampling could show as blocks)."""
    n = 0
    while (2 << n) <= sigma / 2:
        n += 1
    return n


class Blur:
    """Blur the background, keep the person sharp.

    ``strength`` is the Gaussian sigma in pixels for a 1080-line frame (scaled with the frame
    height). The blur runs on a downscaled copy and ignores the person's own pixels (a normalised
    convolution weighted by ``1 - alpha``), so the person does not bleed a halo into the background.
    """

    alpha = False

    def __init__(self, strength: float = 24.0):
        if strength <= 0:
            raise LivematteError(f"blur strength must be > 0, got {strength}")
        self.strength = float(strength)

    def background(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """uint8 ``(H, W, 3)`` frame and its alpha -> the blurred background uint8 ``(H, W, 3)``."""
        H, W = image.shape[:2]
        sigma = self.strength * H / 1080
        halvings = blur_halvings(sigma)
        small, weight = image, alpha
        for _ in range(halvings):  # exact 2x area means: ~5x cheaper than one resize by a factor 4-5
            h, w = max(1, small.shape[0] // 2), max(1, small.shape[1] // 2)
            small = cv2.resize(small, (w, h), interpolation=cv2.INTER_AREA)
            weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_AREA)
        small = small.astype(np.float32)  # (h, w, 3)
        weight = 1.0 - weight  # (h, w)
        weight = weight * 0.98 + 0.02  # some of everything, so a frame that is all person still blurs
        s = sigma / (1 << halvings)
        num = cv2.GaussianBlur(small * weight[..., None], (0, 0), s)
        den = cv2.GaussianBlur(weight, (0, 0), s)
        bg = num / den[..., None]
        return cv2.resize(np.clip(bg, 0, 255).astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR)

    def apply(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return composite_into(image, self.background(image, alpha), alpha)

    def reset(self) -> None:
        pass


class Replace:
    """Put the person over a colour, an image, or frames from ``next_frame()`` (a looping video).

    Images and video frames are scaled to cover the frame, aspect kept.
    """

    alpha = False

    def __init__(self, color: Optional[RGB] = None, image: Optional[np.ndarray] = None,
                 next_frame: Optional[Callable[[], np.ndarray]] = None, reset: Optional[Callable[[], None]] = None):
        if sum(x is not None for x in (color, image, next_frame)) != 1:
            raise ValueError("give exactly one of color, image, next_frame")
        self.color, self.image, self.next_frame, self._reset = color, image, next_frame, reset
        self._cache: Optional[np.ndarray] = None

    def background(self, size: Tuple[int, int]) -> np.ndarray:
        if self.next_frame is not None:
            return cover(self.next_frame(), size)
        if self._cache is None or self._cache.shape[:2] != tuple(size):
            if self.color is not None:
                self._cache = np.empty((*size, 3), np.uint8)
                self._cache[:] = self.color
            else:
                self._cache = cover(self.image, size)
        return self._cache

    def apply(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return composite(image, self.background(image.shape[:2]), alpha)

    def reset(self) -> None:
        if self._reset is not None:
            self._reset()


class Chroma(Replace):
    """A flat key colour behind the person (green by default), for a chroma key in OBS."""

    def __init__(self, color: RGB = CHROMA_GREEN):
        super().__init__(color=color)


class Transparent:
    """An RGBA cut-out: the frame's colours with the matte as alpha."""

    alpha = True

    def apply(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        a8 = cv2.convertScaleAbs(alpha, alpha=255.0)  # rounds and saturates to uint8
        return cv2.merge((image[..., 0], image[..., 1], image[..., 2], a8))

    def reset(self) -> None:
        pass


class Matte:
    """The alpha itself, as a grey RGB picture (white = person)."""

    alpha = False

    def apply(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        a8 = cv2.convertScaleAbs(alpha, alpha=255.0)
        return cv2.merge((a8, a8, a8))

    def reset(self) -> None:
        pass


def make_effect(spec: str, *, blur_strength: float = 24.0):
    """Build the effect for a ``--background`` value.

    ``blur``, ``blur:STRENGTH``, ``transparent``, ``matte``, ``chroma``, ``chroma:COLOR``, a colour
    (``white``, ``#RRGGBB``, ``R,G,B``), an image file or a video file (looped).

    >>> type(make_effect("chroma:#0000ff")).__name__, make_effect("chroma:blue").color
    ('Chroma', (0, 0, 255))
    """
    s = spec.strip()
    kind, _, arg = s.partition(":")
    k = kind.lower()
    if k == "blur":
        if arg:
            try:
                blur_strength = float(arg)
            except ValueError:
                raise LivematteError(f"blur strength must be a number, got {arg!r}") from None
        return Blur(blur_strength)
    if k == "transparent" and not arg:
        return Transparent()
    if k == "matte" and not arg:
        return Matte()
    if k == "chroma":
        return Chroma(parse_color(arg) if arg else CHROMA_GREEN)
    if is_color(s):
        return Replace(color=parse_color(s))
    if os.path.splitext(s)[1].lower() in IMAGE_EXTENSIONS:
        from .sources.images import load_image

        return Replace(image=load_image(s))
    if os.path.exists(s):
        from .sources.video import LoopingVideo

        return Replace(next_frame=LoopingVideo(s).next_frame)
    raise LivematteError(
        f"--background {spec!r}: not blur[:STRENGTH], transparent, matte, chroma[:COLOR], a colour, "
        "or an existing image or video file"
    )
