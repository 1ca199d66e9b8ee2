"""A colour, an image or a looping video behind the person; ``chroma`` (a flat key colour)."""
from __future__ import annotations

import os
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from ..colors import RGB, is_color, parse_color
from .base import SOURCE, Effect

CHROMA_GREEN: RGB = (0, 255, 0)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def cover(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Host uint8 ``image`` ``(h, w, C)`` scaled to cover ``size`` = ``(H, W)`` keeping its aspect,
    the rest centre-cropped -> ``(H, W, C)`` (``image`` itself when it already has that size)."""
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


class Replace(Effect):
    """Put the person over a colour, an image, or frames from ``next_frame()`` (a looping video).

    Images and video frames are scaled to cover the frame on the host (:func:`cover`), aspect
    kept, and uploaded with ``ops.from_host``. A colour or an image is made once per frame size
    and engine and reused (so it is never written into); a video frame is made every frame.

    Args (exactly one of the first three):
        color: an RGB colour.
        image: host RGB uint8 ``(h, w, 3)``.
        next_frame: returns the next host RGB uint8 ``(h, w, 3)`` frame, e.g.
            :meth:`livematte.sources.video.LoopingVideo.next_frame`.
        reset: called by :meth:`reset` (e.g. to restart the video).
    """

    kind = "replace"
    keyword = False
    spec_help = "a colour, or an existing image or video file"
    needs = SOURCE

    def __init__(self, color: Optional[RGB] = None, image: Optional[np.ndarray] = None,
                 next_frame: Optional[Callable[[], np.ndarray]] = None, reset: Optional[Callable[[], None]] = None):
        if sum(x is not None for x in (color, image, next_frame)) != 1:
            raise ValueError("give exactly one of color, image, next_frame")
        self.color, self.image, self.next_frame, self._reset = color, image, next_frame, reset
        self._cache: Optional[tuple] = None  # (ops, (H, W), engine image 8-bit (H, W, 3))

    @classmethod
    def accepts(cls, spec: str) -> bool:
        """A colour, a name with an image extension, or an existing file (a video)."""
        return is_color(spec) or os.path.splitext(spec)[1].lower() in IMAGE_EXTENSIONS or os.path.exists(spec)

    @classmethod
    def from_spec(cls, arg: str, **options) -> "Replace":
        """``arg``: the whole spec (a colour, an image file, a video file)."""
        if is_color(arg):
            return cls(color=parse_color(arg))
        if os.path.splitext(arg)[1].lower() in IMAGE_EXTENSIONS:
            from ..sources.images import load_image

            return cls(image=load_image(arg))
        from ..sources.video import LoopingVideo

        return cls(next_frame=LoopingVideo(arg).next_frame)

    def background(self, ops, image, alpha):
        """The colour / image / video frame as an engine 8-bit ``(H, W, 3)`` of ``image``'s size."""
        size = tuple(image.shape[:2])
        if self.next_frame is not None:
            return ops.from_host(cover(self.next_frame(), size))
        if self._cache is None or self._cache[0] is not ops or self._cache[1] != size:
            made = ops.fill(self.color, size) if self.color is not None else ops.from_host(cover(self.image, size))
            self._cache = (ops, size, made)
        return self._cache[2]

    def reset(self) -> None:
        if self._reset is not None:
            self._reset()


class Chroma(Replace):
    """``chroma``, ``chroma:COLOR``: a flat key colour behind the person (green by default), for a
    chroma key in OBS."""

    kind = "chroma"
    keyword = True
    takes_arg = True
    spec_help = "chroma[:COLOR]"

    def __init__(self, color: RGB = CHROMA_GREEN):
        super().__init__(color=color)

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return False

    @classmethod
    def from_spec(cls, arg: str, **options) -> "Chroma":
        return cls(parse_color(arg) if arg else CHROMA_GREEN)
