"""The subject box carried from frame to frame, and whether the subject is a whole body.

The tracker only starts after a person has been found in ``confirm`` consecutive frames (a single
false blob in an empty scene never opens a crop), or at once when the first frame of a shot shows
one, follows a person who moves (the box always contains the current detection, grows at once and
shrinks slowly), and drops the box after ``patience`` frames without a person, so a person who
leaves and comes back is found again by the full-frame pass.

Boxes are ``(x0, y0, x1, y1)`` in frame pixels, ``x1``/``y1`` exclusive.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from .blobs import Box


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


class WholeBodyGate:
    """Whether the tracked person is a whole body: their full-frame blob stops clearly above the
    frame's bottom edge, by more than ``edge`` of the grid's height (a head-and-shoulders shot is
    cut by it; so is a seated body whose blob flickers a few rows short of the edge). Decided on a
    shot's first frame, then changed only after ``switch`` frames in a row say otherwise, so a foot
    touching the edge for a frame does not switch the pose pass off and on (its limbs would
    flicker); a frame with no person keeps the decision.

    >>> gate = WholeBodyGate(switch=2)
    >>> [gate.update(box, 10) for box in [(0, 0, 4, 8), (0, 0, 4, 10), None, (0, 0, 4, 8), (0, 0, 4, 10), (0, 0, 4, 10)]]
    [True, True, True, True, True, False]
    >>> WholeBodyGate().update((0, 0, 60, 252), 256)  # 4 rows short of the edge: cut by it
    False
    """

    def __init__(self, switch: int = 3, edge: float = 0.03):
        self.switch = switch
        self.edge = edge
        self.reset()

    def reset(self) -> None:
        """Forget the decision (new source, seek, scene cut)."""
        self.state: Optional[bool] = None
        self.streak = 0

    def update(self, person: Optional[Box], grid_h: int) -> bool:
        """Advance one frame with the person box on a grid ``grid_h`` rows high (None: no person)."""
        if person is None:
            return bool(self.state)
        now = person[3] < grid_h * (1.0 - self.edge)
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



#: :class:`PoseSchedule`: the body is still when at most POSE_STILL_SHARE of the thumbnail's pixels
#: inside the pose model's square changed by more than POSE_STILL_LEVEL (8-bit) since its last run
POSE_STILL_LEVEL, POSE_STILL_SHARE = 24, 0.01


class PoseSchedule:
    """When the pose model runs on a whole body (``quality.pose_every``).

    It runs on the first frame of a whole body and at least every ``every``th frame; in between it
    rests only while the body is still: the thumbnail inside its square (the frame's brightness,
    host uint8) barely changed since the run (:data:`POSE_STILL_SHARE`), and the square itself
    stayed within a twentieth of its side. Then the last run's probability stands in, over the
    last run's square. A body that moves (a step, a wave) has the model run on that frame.

    >>> s = PoseSchedule(every=3)
    >>> still = np.full((90, 160), 80, np.uint8); moved = still.copy(); moved[20:60, 40:80] = 200
    >>> sq = (100, 50, 400, 350)
    >>> [s.plan(sq, t, (360, 640))[1] for t in (still, still, still, still, moved)]
    [True, False, False, True, True]
    """

    def __init__(self, every: int = 1, level: int = POSE_STILL_LEVEL, share: float = POSE_STILL_SHARE):
        self.every, self.level, self.share = int(every), level, share
        self.runs = self.rested = 0  # frames the pose model ran on / rested on, since built
        self.left_out = False  # the last plan left the model out for the live budget
        self.reset()

    def reset(self) -> None:
        """Forget the last run (no whole body, a scene cut, a new source)."""
        self.square: Optional[Tuple[int, int, int, int]] = None
        self.thumb: Optional[np.ndarray] = None
        self.since = 0

    def plan(self, square: Optional[Tuple[int, int, int, int]], thumb: Optional[np.ndarray],
             frame_hw: Tuple[int, int], at_most: int = 1):
        """``(square, fresh)`` for this frame, given the square the pose model would see now and the
        frame's thumbnail (None: unknown, the model runs): ``fresh`` = run it on ``square``; else the
        last run's probability stands in, over the returned square (the last run's).
        ``(None, False)`` without a square (no whole body: the schedule starts again).
        ``at_most`` > 1 (the live budget, :class:`~.schedule.Shed`): the model runs on at most every
        ``at_most``th frame, still or not, and on the frames between it is left out (``(None, False)``,
        :attr:`left_out` set: a moving body's last mask would put a ghost where its limbs were, worse
        than the selfie model alone: docs/quality.md)."""
        self.left_out = False
        if square is None:
            self.reset()
            return None, False
        last = self.square
        if at_most > 1 and last is not None and self.since + 1 < at_most:
            self.since += 1
            self.left_out = True
            return None, False
        if (self.every > 1 and last is not None and thumb is not None and self.thumb is not None
                and thumb.shape == self.thumb.shape and self.since + 1 < self.every
                and max(abs(a - b) for a, b in zip(square, last)) <= 0.05 * (last[2] - last[0])
                and self._still(thumb, last, frame_hw)):
            self.since += 1
            self.rested += 1
            return last, False
        self.square, self.thumb, self.since = square, thumb, 0
        self.runs += 1
        return square, True

    def _still(self, thumb: np.ndarray, square: Tuple[int, int, int, int], frame_hw: Tuple[int, int]) -> bool:
        h, w = thumb.shape[:2]
        H, W = frame_hw
        x0, y0 = max(0, int(square[0] * w / W)), max(0, int(square[1] * h / H))
        x1, y1 = min(w, int(np.ceil(square[2] * w / W))), min(h, int(np.ceil(square[3] * h / H)))
        if x1 <= x0 or y1 <= y0:
            return False
        a, b = thumb[y0:y1, x0:x1], self.thumb[y0:y1, x0:x1]
        changed = np.count_nonzero(cv2.absdiff(a, b) > self.level)
        return changed <= self.share * a.size
