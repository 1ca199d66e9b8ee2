"""A subject region of interest carried from frame to frame, and the image pyramid that feeds crops.

A person who fills a small part of the frame covers few of the model's 256x256 input pixels, so the
segmenter sees a thumbnail. :class:`RoiTracker` keeps a box around the confident person blobs found by
the full-frame pass (:func:`person_blobs`); :class:`Pyramid` then cuts that box out of the frame at
about the model's resolution, so the second pass sees the person large.

The tracker only starts after a person has been found in ``confirm`` consecutive frames (a single
false blob in an empty scene never opens a crop), or at once when the first frame of a shot shows one, follows a person who moves (the box always
contains the current detection, grows at once and shrinks slowly), and drops the box after ``patience``
frames without a person, so a person who leaves and comes back is found again by the full-frame pass.

Boxes are ``(x0, y0, x1, y1)`` floats in frame pixels, ``x1``/``y1`` exclusive.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]


def person_blobs(prob: np.ndarray, thresh: float = 0.5, core: float = 0.9, min_core: float = 0.15,
                 keep: float = 0.25) -> Tuple[Optional[Box], np.ndarray]:
    """Split the blobs of ``prob >= thresh`` into persons and doubtful ones.

    A blob is a person when at least ``min_core`` of its pixels are confident (``prob >= core``): the
    model is sure of the middle of a real person, while a thing that merely resembles one (a ball,
    a lamp) comes out as a lukewarm blob. Of the person blobs, those at least ``keep`` times the
    largest make the box (several people make one box; specks do not stretch it).

    Args:
        prob: float32 ``(h, w)`` person probability.

    Returns:
        ``(box, doubtful)``: the persons' box in ``prob`` pixels or None, and a bool ``(h, w)`` mask of
        the doubtful blobs.

    >>> p = np.zeros((10, 10), np.float32); p[2:5, 3:7] = 1; p[8, 0] = 0.6
    >>> box, doubtful = person_blobs(p)
    >>> box, int(doubtful.sum())
    ((3.0, 2.0, 7.0, 5.0), 1)
    """
    m = (prob >= thresh).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return None, np.zeros(prob.shape, bool)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    cores = np.bincount(labels[prob >= core], minlength=n)[:n]
    person = cores >= min_core * areas
    person[0] = False
    doubtful = (~person)[labels] & (labels > 0)  # (h, w)
    if not person.any():
        return None, doubtful
    big = areas[person].max()
    rows = stats[person & (areas >= keep * big)]
    x0 = rows[:, cv2.CC_STAT_LEFT].min()
    y0 = rows[:, cv2.CC_STAT_TOP].min()
    x1 = (rows[:, cv2.CC_STAT_LEFT] + rows[:, cv2.CC_STAT_WIDTH]).max()
    y1 = (rows[:, cv2.CC_STAT_TOP] + rows[:, cv2.CC_STAT_HEIGHT]).max()
    return (float(x0), float(y0), float(x1), float(y1)), doubtful


def crop_box(person: Box, frame_hw: Tuple[int, int], margin: float, min_side: float,
             max_aspect: float = 1.0) -> Tuple[int, int, int, int]:
    """A crop around ``person``: grown by ``margin`` x its size on each side, made square when the frame
    allows (the model's input is square), at least ``min_side`` pixels, shifted inside the frame.

    Returns integer ``(x0, y0, x1, y1)`` within the frame.
    """
    H, W = frame_hw
    x0, y0, x1, y1 = person
    pad = margin * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = min(W, max(x1 - x0 + 2 * pad, min_side))
    h = min(H, max(y1 - y0 + 2 * pad, min_side))
    w, h = min(W, max(w, h / max_aspect)), min(H, max(h, w / max_aspect))
    bx0 = int(round(min(max(cx - w / 2, 0), W - w)))
    by0 = int(round(min(max(cy - h / 2, 0), H - h)))
    return bx0, by0, min(W, bx0 + int(round(w))), min(H, by0 + int(round(h)))


def plan_tiles(box: Tuple[int, int, int, int], frame_hw: Tuple[int, int], split: float = 1.3,
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


def regrid(values: np.ndarray, src: Tuple[int, int, int, int], dst: Tuple[int, int, int, int],
           dst_hw: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Resample ``values`` float32 ``(h, w)``, a grid spread over frame box ``src``, onto a grid of
    ``dst_hw`` cells spread over frame box ``dst`` (bilinear, edges replicated; see
    :func:`regrid_map`). Returns ``(resampled float32 (h2, w2), inside bool (h2, w2))``.

    >>> v = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> out, inside = regrid(v, (0, 0, 4, 4), (2, 0, 6, 2), (2, 4))
    >>> out.tolist(), inside.tolist()
    ([[2.0, 3.0, 3.0, 3.0], [6.0, 7.0, 7.0, 7.0]], [[True, True, False, False], [True, True, False, False]])
    """
    m, inside = regrid_map(src, dst, values.shape, dst_hw)
    out = cv2.warpAffine(values, m.astype(np.float32), (dst_hw[1], dst_hw[0]),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return out, inside


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


class Pyramid:
    """Area-averaged 2x reductions of a frame, for cheap alias-free resizing to model size.

    Level ``k`` is the frame reduced ``2**k`` times by ``cv2.INTER_AREA`` (an exact 2x2 mean, fast);
    :meth:`resize` picks the coarsest level on which the region is still at least the requested size
    (so at most twice it), then finishes bilinearly (a factor below 2, where bilinear barely aliases).

    Args:
        image: RGB uint8 ``(H, W, 3)``.
        smallest: stop halving once a level's shorter side is below this.
    """

    def __init__(self, image: np.ndarray, smallest: int = 128):
        self.levels: List[np.ndarray] = [image]
        while min(self.levels[-1].shape[:2]) >= 2 * smallest:
            top = self.levels[-1]
            h, w = top.shape[0] // 2, top.shape[1] // 2
            self.levels.append(cv2.resize(top[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA))

    def resize(self, box: Tuple[int, int, int, int], size: Tuple[int, int]) -> np.ndarray:
        """The frame region ``box`` (integer frame pixels) resized to ``size`` = ``(h, w)``, uint8."""
        h, w = size
        k, ya, yb, xa, xb = pyramid_region(box, size, len(self.levels))
        region = self.levels[k][ya:yb, xa:xb]
        if region.shape[:2] == (h, w):
            return np.ascontiguousarray(region)
        return cv2.resize(region, (w, h), interpolation=cv2.INTER_LINEAR)


class WholeBodyGate:
    """Whether the tracked person is a whole body: their full-frame blob stops above the frame's
    bottom edge (a head-and-shoulders shot is cut by it). Decided on a shot's first frame, then
    changed only after ``switch`` frames in a row say otherwise, so a foot touching the edge for a
    frame does not switch the pose pass off and on (its limbs would flicker); a frame with no
    person keeps the decision.

    >>> gate = WholeBodyGate(switch=2)
    >>> [gate.update(box, 10) for box in [(0, 0, 4, 8), (0, 0, 4, 10), None, (0, 0, 4, 8), (0, 0, 4, 10), (0, 0, 4, 10)]]
    [True, True, True, True, True, False]
    """

    def __init__(self, switch: int = 3):
        self.switch = switch
        self.reset()

    def reset(self) -> None:
        """Forget the decision (new source, seek, scene cut)."""
        self.state: Optional[bool] = None
        self.streak = 0

    def update(self, person: Optional[Box], grid_h: int) -> bool:
        """Advance one frame with the person box on a grid ``grid_h`` rows high (None: no person)."""
        if person is None:
            return bool(self.state)
        now = person[3] < grid_h
        if self.state is None or now == self.state:
            self.state, self.streak = now, 0
        else:
            self.streak += 1
            if self.streak >= self.switch:
                self.state, self.streak = now, 0
        return self.state


class RoiTracker:
    """Carries a crop box around the person from frame to frame.

    Call :meth:`update` once per frame with the person box found in the full frame (None when no
    person); it returns the crop to segment this frame, or None (no confirmed person: the full frame
    alone is used).

    Args:
        margin: context added on each side, as a fraction of the person's larger side.
        min_side: smallest crop side as a fraction of the frame's shorter side (limits the zoom).
        confirm: consecutive frames with a person before a crop is used, except on the first frame
            after a reset (a new source or shot): a person there opens the crop at once, so a shot
            does not start with a coarse full-frame matte.
        patience: frames without a person before the box is dropped.
        shrink: per-frame rate at which a too-large box shrinks toward the person (it grows at once).
        max_aspect: the crop is widened or heightened toward a square until its sides' ratio is at
            most this (1: square, like the model's input).
    """

    def __init__(self, margin: float = 0.05, min_side: float = 0.25, confirm: int = 2, patience: int = 2,
                 shrink: float = 0.5, max_aspect: float = 1.0):
        self.margin, self.min_side, self.max_aspect = margin, min_side, max_aspect
        self.confirm, self.patience, self.shrink = confirm, patience, shrink
        self.reset()

    def reset(self) -> None:
        """Forget the box (new source, seek, scene cut)."""
        self.box: Optional[np.ndarray] = None  # float64 (4,) smoothed crop box, frame pixels
        self.hits = 0
        self.misses = 0
        self.fresh = True  # no frame seen since the reset

    @property
    def active(self) -> bool:
        """Whether a box is being carried."""
        return self.box is not None

    def update(self, detected: Optional[Box], frame_hw: Tuple[int, int]) -> Optional[Tuple[int, int, int, int]]:
        """Advance one frame; returns the integer crop ``(x0, y0, x1, y1)`` for this frame, or None."""
        if detected is None:
            self.fresh = False
        if detected is None:
            self.hits = 0
            self.misses += 1
            if self.misses > self.patience:
                self.box = None
            return None if self.box is None else self._int_box(frame_hw)  # look where the person was
        self.misses = 0
        self.hits += 1
        fresh, self.fresh = self.fresh, False
        if self.box is None and self.hits < self.confirm and not fresh:
            return None
        target = np.array(crop_box(detected, frame_hw, self.margin, self.min_side * min(frame_hw),
                                   self.max_aspect), np.float64)
        if self.box is None:
            self.box = target
        else:
            # grow at once to hold the person, shrink gradually (a steady box gives a steady matte)
            grown = np.concatenate([np.minimum(self.box[:2], target[:2]), np.maximum(self.box[2:], target[2:])])
            self.box = grown + self.shrink * (target - grown)
        return self._int_box(frame_hw)

    def _int_box(self, frame_hw: Tuple[int, int]) -> Tuple[int, int, int, int]:
        H, W = frame_hw
        x0, y0, x1, y1 = self.box
        return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
                min(W, int(np.ceil(x1))), min(H, int(np.ceil(y1))))
