"""Box arithmetic shared by both engines: the tiles a crop is segmented in, the pose model's
square, and how one box's grid is read from another's."""
from __future__ import annotations

from typing import List, Optional, Tuple

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


#: ``quality.tile_views``: the sub-tiles of a view overlap by this fraction of the tile's side / n
VIEW_OVERLAP = 0.25
#: ... and each fades in over this fraction of its own side from its borders
VIEW_FEATHER = 0.15


def sub_tiles(box: Tuple[int, int, int, int], n: int,
              overlap: float = VIEW_OVERLAP) -> List[Tuple[int, int, int, int]]:
    """``n`` x ``n`` square sub-boxes of the square tile ``box`` (integer frame pixels, within it),
    each ``(1 + overlap) / n`` of its side, evenly spaced corner to corner, row by row."""
    x0, y0, x1, y1 = box
    s = min(x1 - x0, y1 - y0)
    sub = s * (1 + overlap) / n
    out = []
    for i in range(n):
        for j in range(n):
            ax, ay = x0 + j * (s - sub) / max(n - 1, 1), y0 + i * (s - sub) / max(n - 1, 1)
            out.append((int(round(ax)), int(round(ay)), int(round(ax + sub)), int(round(ay + sub))))
    return out


def view_weights(box: Tuple[int, int, int, int], subs, hw: Tuple[int, int],
                 feather: float = VIEW_FEATHER) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Each sub-box's weight on the ``hw`` = ``(h, w)`` grid over ``box``, as separable float32 ramps
    ``(wy (h,), wx (w,))``: 0 at the sub-box's borders, 1 from ``feather`` of its side inward, 0
    outside; ``outer(wy, wx)`` summed over the sub-boxes is > 0 on all but a tile's outermost cells."""
    h, w = hw
    u = box[0] + (np.arange(w) + 0.5) * (box[2] - box[0]) / w  # cell centres, frame pixels
    v = box[1] + (np.arange(h) + 0.5) * (box[3] - box[1]) / h
    out = []
    for sx0, sy0, sx1, sy1 in subs:
        ramp = feather * (sx1 - sx0)
        wx = np.clip(np.minimum(u - sx0, sx1 - u) / ramp, 0, 1).astype(np.float32)
        wy = np.clip(np.minimum(v - sy0, sy1 - v) / ramp, 0, 1).astype(np.float32)
        out.append((wy, wx))
    return out


#: ``quality.crop_extend``: the crop's person "reaches" a tile's side when at least this many cells
#: within the side's band are above the threshold ...
EXTEND_CELLS = 2


def crop_extension(tiles, crop: Tuple[int, int, int, int], frame_hw: Tuple[int, int], *, level: float = 0.2,
                   band: float = 0.05, grow: float = 0.4) -> Optional[Tuple[int, int, int, int]]:
    """The crop grown where its person runs out of the tiles, or None.

    ``tiles``: ``(box, prob)`` per tile (host float32 maps over frame boxes). A side of the tiles'
    union box that lies inside the frame is *reached* when a tile on that side has at least
    :data:`EXTEND_CELLS` cells above ``level`` within ``band`` of its width of that side (a limb the
    full-frame pass missed, cut off by the crop). Returns ``crop`` grown on each reached side by
    ``grow`` of its larger side (within the frame), or None when no side is reached.
    """
    H, W = frame_hw
    X0, Y0 = min(b[0] for b, _ in tiles), min(b[1] for b, _ in tiles)
    X1, Y1 = max(b[2] for b, _ in tiles), max(b[3] for b, _ in tiles)
    reached = set()
    for (x0, y0, x1, y1), p in tiles:
        k = max(1, int(round(band * p.shape[1])))
        fg = p > level
        for side, on, cells in (("l", x0 == X0 and X0 > 0, fg[:, :k]), ("r", x1 == X1 and X1 < W, fg[:, -k:]),
                                ("t", y0 == Y0 and Y0 > 0, fg[:k, :]), ("b", y1 == Y1 and Y1 < H, fg[-k:, :])):
            if on and int(cells.sum()) >= EXTEND_CELLS:
                reached.add(side)
    if not reached:
        return None
    c0, c1, c2, c3 = crop
    e = grow * max(c2 - c0, c3 - c1)
    return (max(0, int(c0 - e)) if "l" in reached else c0, max(0, int(c1 - e)) if "t" in reached else c1,
            min(W, int(c2 + e)) if "r" in reached else c2, min(H, int(c3 + e)) if "b" in reached else c3)
