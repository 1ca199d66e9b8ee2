"""Box arithmetic shared by both engines: the tiles a crop is segmented in, the pose model's
square, and how one box's grid is read from another's."""
from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np


#: a box whose sides differ by more than this many times is segmented as two tiles (:func:`plan_tiles`)
TILE_SPLIT = 1.3


def plan_tiles(box: Tuple[int, int, int, int], frame_hw: Tuple[int, int], split: float = TILE_SPLIT,
               overlap: float = 0.65) -> List[Tuple[int, int, int, int]]:
    """Square model-input tiles that cover ``box`` (integer frame pixels), each within the frame.

    A box whose sides differ by at most ``split`` times gets one square tile around it (its shorter
    side grown, as far as the frame allows). A taller (wider) box gets two square tiles, top and
    bottom (left and right), each at least half of the box plus ``overlap`` of it: a standing person
    then fills two model inputs instead of a third of one. Tiles of a pair have the same side and
    the same position across the split, so they overlap only along it.

    >>> plan_tiles((100, 0, 200, 300), (400, 600))
    [(26, 0, 274, 248), (26, 52, 274, 300)]
    """
    H, W = frame_hw
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0

    def span(c: float, n: int, limit: int) -> Tuple[int, int]:
        a = int(round(min(max(c - n / 2, 0), limit - n)))
        return a, a + n

    if h > split * w or w > split * h:
        tall = h > w
        long_, short = (h, w) if tall else (w, h)
        s = int(round(min(H, W, max(short, long_ * (1 + overlap) / 2))))
        lo, hi = (y0, y1) if tall else (x0, x1)
        a, b = span((x0 + x1) / 2 if tall else (y0 + y1) / 2, s, W if tall else H)
        if tall:
            return [(a, lo, b, lo + s), (a, hi - s, b, hi)]
        return [(lo, a, lo + s, b), (hi - s, a, hi, b)]
    s = int(round(min(H, W, max(w, h))))
    bx = span((x0 + x1) / 2, max(s, w) if s < w else s, W)
    by = span((y0 + y1) / 2, max(s, h) if s < h else s, H)
    return [(bx[0], by[0], bx[1], by[1])]


def pose_square(crop: Tuple[int, int, int, int], frame_hw: Tuple[int, int], margin: float) -> Tuple[int, int, int, int]:
    """The square (frame pixels) the pose model segments for ``crop``: the crop grown by ``margin``
    of its larger side (the pose model wants context), squared within the frame."""
    H, W = frame_hw
    e = margin * max(crop[2] - crop[0], crop[3] - crop[1])
    grown = (max(0, int(crop[0] - e)), max(0, int(crop[1] - e)), min(W, int(crop[2] + e)), min(H, int(crop[3] + e)))
    return plan_tiles(grown, frame_hw, split=float("inf"))[0]


def regrid_map(src: Tuple[int, int, int, int], dst: Tuple[int, int, int, int], src_hw: Tuple[int, int],
               dst_hw: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """How a grid of ``src_hw`` = ``(h, w)`` cells spread over frame box ``src`` is read by a grid of
    ``dst_hw`` = ``(h2, w2)`` cells spread over frame box ``dst`` (boxes ``(x0, y0, x1, y1)``).

    Returns ``(m, inside)``: ``m`` float64 ``(2, 3)`` maps a target cell's ``(u, v)`` (cell centres
    at integers) to source cell coordinates, centres to centres; ``inside`` bool ``(h2, w2)`` marks
    the target cells whose centre lies within ``src``. The CPU and torch paths share it.
    """
    h, w = src_hw
    h2, w2 = dst_hw
    sx, sy = (src[2] - src[0]) / w, (src[3] - src[1]) / h  # frame pixels per source cell
    dx, dy = (dst[2] - dst[0]) / w2, (dst[3] - dst[1]) / h2  # frame pixels per target cell
    m = np.array([[dx / sx, 0.0, (dst[0] + 0.5 * dx - src[0]) / sx - 0.5],
                  [0.0, dy / sy, (dst[1] + 0.5 * dy - src[1]) / sy - 0.5]])
    cx = dst[0] + (np.arange(w2) + 0.5) * dx  # cell centres in frame pixels
    cy = dst[1] + (np.arange(h2) + 0.5) * dy
    inside = ((cy >= src[1]) & (cy < src[3]))[:, None] & ((cx >= src[0]) & (cx < src[2]))[None, :]
    return m, inside


def pyramid_region(box: Tuple[int, int, int, int], size: Tuple[int, int], levels: int) -> Tuple[int, int, int, int, int]:
    """Where a pyramid reads frame region ``box`` for an output of ``size`` = (h, w): ``(level, y0, y1,
    x0, x1)`` on the coarsest of ``levels`` 2x levels still at least ``size`` (the CPU and torch
    pyramids share this arithmetic, so both read the same pixels)."""
    x0, y0, x1, y1 = box
    h, w = size
    k = 0
    while k + 1 < levels and (x1 - x0) / 2 ** (k + 1) >= w and (y1 - y0) / 2 ** (k + 1) >= h:
        k += 1
    s = 2**k
    ya, xa = int(y0 / s), int(x0 / s)
    return k, ya, max(ya + 1, int(round(y1 / s))), xa, max(xa + 1, int(round(x1 / s)))
