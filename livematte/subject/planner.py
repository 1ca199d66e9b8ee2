"""Per-frame subject decisions: one object, called by :class:`livematte.matter.Matter` on both engines."""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from .blobs import outside_crop, person_blobs, suppress
from .geometry import plan_tiles, pose_square
from .tracker import RoiTracker, WholeBodyGate

Box = Tuple[int, int, int, int]

#: a crop covering this share of the frame or more is dropped: the crop would be the frame
CROP_IS_FRAME = 0.9


class Plan(NamedTuple):
    """What to do with one frame.

    Attributes:
        prob: the full-frame probability after the decisions (host float32 ``(h, w)``), or None
            when they left it as it was (a device engine then keeps its own copy).
        crop: the subject crop (integer frame pixels), or None.
        tiles: the model-input tiles covering the crop, in paste order (empty without a crop).
        pose_square: the square the pose model segments (a whole body with a crop), or None.
    """

    prob: Optional[np.ndarray]
    crop: Optional[Box]
    tiles: List[Box]
    pose_square: Optional[Box]


class SubjectPlanner:
    """Blobs, tracker, whole-body gate, crop rules and the partner schedule, in one place.

    Args:
        quality: the ``[quality]`` options (``QualityConfig``).
        crop_pass: whether the backend takes the crop pass (``BackendSpec.crop_pass``); without it
            the model's output is taken as it is (no blobs, no crop).
        pose: whether a pose model is there to segment whole bodies.
    """

    def __init__(self, quality, *, crop_pass: bool = True, pose: bool = False):
        q = self.quality = quality
        self.crop_pass = crop_pass
        self.tracker = None
        if crop_pass and q.roi:
            self.tracker = RoiTracker(margin=q.roi_margin, confirm=int(q.roi_confirm),
                                      max_aspect=100.0 if q.roi_tiles else 1.0)
        self.pose = pose and self.tracker is not None
        self.whole_body = WholeBodyGate()
        self.last_crop: Optional[Box] = None

    def partner_now(self) -> bool:
        """Whether the partner model runs on this frame: always with ``ensemble_tracking``, else only
        while searching (no crop on the previous frame). Once a crop holds the person, the crop pass
        decides the person and the general model alone is sharper on the rest (and one run cheaper)."""
        return self.quality.ensemble_tracking or self.last_crop is None

    def plan(self, prob: np.ndarray, frame_hw: Tuple[int, int]) -> Plan:
        """Decide for one frame from its full-frame probability (host float32 ``(h, w)``)."""
        if not self.crop_pass:
            return Plan(None, None, [], None)
        H, W = frame_hw
        h, w = prob.shape
        changed = None
        found, doubtful = person_blobs(prob, min_core=self.quality.min_core)
        if doubtful.any():  # lukewarm blobs with no confident core: not a person
            changed = prob = suppress(prob, doubtful)
        # a person cut by the frame's bottom edge (head and shoulders): no whole body for the pose model
        whole_body = self.whole_body.update(found, h)
        crop = None
        if self.tracker is not None:
            if found is not None:
                sx, sy = W / w, H / h
                found = (found[0] * sx, found[1] * sy, found[2] * sx, found[3] * sy)
            crop = self.tracker.update(found, (H, W))
            if crop is not None and (crop[2] - crop[0]) * (crop[3] - crop[1]) >= CROP_IS_FRAME * H * W:
                crop = None  # the crop would be the frame: nothing to gain
        self.last_crop = crop
        if crop is None:
            return Plan(changed, None, [], None)
        if self.quality.roi_outside == "drop":
            outside = outside_crop(prob, crop, (H, W))
            if outside.any():
                changed = prob = np.where(outside, np.float32(0.0), prob)
        tiles = plan_tiles(crop, (H, W)) if self.quality.roi_tiles else [crop]
        square = pose_square(crop, (H, W), self.quality.pose_margin) if self.pose and whole_body else None
        return Plan(changed, crop, tiles, square)

    def forget(self) -> None:
        """A scene cut: the tracker and the whole-body decision start again."""
        if self.tracker is not None:
            self.tracker.reset()
        self.whole_body.reset()

    def reset(self) -> None:
        """A new source or a seek."""
        self.forget()
        self.last_crop = None
